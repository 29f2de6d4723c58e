"""The stratified hash split, standard library only (so a test can run it without numpy or torch).

  python3 tools/torch/split.py --data DIR [--schema all4|wbc5] [--seed 0]   -> JSON lines {rel, sha256, class, split}

Specified in docs/checkpoint-format.md ("The split"); data.py uses these functions.
"""
import argparse
import hashlib
import json
import os
import struct


def split_key(digest: bytes, seed: int) -> bytes:
    """SHA-256 of (seed as 8-byte little-endian unsigned) || (the file's 32-byte SHA-256)."""
    return hashlib.sha256(struct.pack("<Q", seed & 0xFFFFFFFFFFFFFFFF) + digest).digest()


def split_counts(n: int):
    """(train, val, test) for a class of n images: val = test = round-half-up(n / 10) = (n + 5) // 10."""
    v = (n + 5) // 10
    return n - 2 * v, v, v


def assign(entries, seed=0):
    """entries: list of (class index, 32-byte digest, relative path). -> list of 'train'|'val'|'test'."""
    parts = [None] * len(entries)
    by_class = {}
    for i, (k, _, _) in enumerate(entries):
        by_class.setdefault(k, []).append(i)
    for members in by_class.values():
        members.sort(key=lambda i: (split_key(entries[i][1], seed), entries[i][2].encode("utf-8")))
        ntr, nva, _ = split_counts(len(members))
        for rank, i in enumerate(members):
            parts[i] = "train" if rank < ntr else ("val" if rank < ntr + nva else "test")
    return parts


def main():
    sys_path = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--schema", default="all4")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    classes = {"all4": ["Benign", "Early", "Pre", "Pro"],
               "wbc5": ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"]}[a.schema]
    entries = []
    for folder in sorted(os.listdir(a.data)):
        d = os.path.join(a.data, folder)
        if folder.startswith(".") or not os.path.isdir(d):
            continue
        k = [c.lower() for c in classes].index(folder.lower())
        for name in sorted(os.listdir(d)):
            if name.startswith(".") or not name.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")):
                continue
            with open(os.path.join(d, name), "rb") as f:
                entries.append((k, hashlib.sha256(f.read()).digest(), f"{folder}/{name}"))
    for (k, dg, rel), part in zip(entries, assign(entries, a.seed)):
        print(json.dumps({"rel": rel, "sha256": dg.hex(), "class": k, "split": part}))
    del sys_path


if __name__ == "__main__":
    main()
