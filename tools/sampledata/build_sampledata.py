#!/usr/bin/env python3
"""Builds SampleData/ from the team's copies of the public data sets.

Run from the repository root with the shared virtualenv:
    /work/venv/bin/python tools/sampledata/build_sampledata.py ../shared/data
(the argument is the folder holding wbc-seg/ and bccd/). It is deterministic: running it
again gives byte-identical files for the same Pillow version.

wbc-seg Dataset 1 (Zheng et al. 2018, GPL-3.0): all 300 BMP crops become PNG (lossless,
each one checked pixel for pixel against the BMP after writing), filed in a folder per
class (the authors' labels 1-5 = neutrophil, lymphocyte, monocyte, eosinophil, basophil);
the expert masks are copied unchanged to masks/ with the same file stem.
BCCD (MIT): 20 fields, every 18th of the 364 in name order starting at the first, with
their Pascal VOC XML, copied unchanged.
The Aria ALL images are never touched here.
"""
import csv
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

CLASSES = {1: "neutrophil", 2: "lymphocyte", 3: "monocyte", 4: "eosinophil", 5: "basophil"}


def build_wbc(src: Path, dst: Path) -> None:
    labels = {}
    with open(src / "Dataset1-labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            labels[int(row["image ID"])] = int(row["class label"])
    assert len(labels) == 300, len(labels)
    (dst / "masks").mkdir(parents=True, exist_ok=True)
    for name in CLASSES.values():
        (dst / "images" / name).mkdir(parents=True, exist_ok=True)
    rows = []
    for image_id in sorted(labels):
        stem = f"{image_id:03d}"
        cls = CLASSES[labels[image_id]]
        bmp = Image.open(src / "Dataset1" / f"{stem}.bmp")
        assert bmp.mode == "RGB", (stem, bmp.mode)
        out = dst / "images" / cls / f"{stem}.png"
        bmp.save(out, format="PNG", optimize=True)
        # Lossless: the PNG must hold exactly the BMP's pixels.
        assert np.array_equal(np.asarray(Image.open(out)), np.asarray(bmp)), stem
        mask_src = src / "Dataset1" / f"{stem}.png"
        mask = np.asarray(Image.open(mask_src))
        assert mask.shape == np.asarray(bmp).shape[:2], stem
        assert set(np.unique(mask)) <= {0, 128, 255}, stem
        shutil.copyfile(mask_src, dst / "masks" / f"{stem}.png")
        rows.append((f"{stem}.png", labels[image_id], cls, bmp.width, bmp.height))
    with open(dst / "labels.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["image", "class_id", "class", "width", "height"])
        w.writerows(rows)
    shutil.copyfile(src / "Dataset1-labels.csv", dst / "Dataset1-labels.csv")
    shutil.copyfile(src / "LICENSE", dst / "LICENSE")
    shutil.copyfile(src / "README.rst", dst / "README.rst")


def build_bccd(src: Path, dst: Path) -> None:
    names = sorted(p.stem for p in (src / "JPEGImages").glob("*.jpg"))
    chosen = names[::18][:20]
    (dst / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (dst / "Annotations").mkdir(parents=True, exist_ok=True)
    for stem in chosen:
        shutil.copyfile(src / "JPEGImages" / f"{stem}.jpg", dst / "JPEGImages" / f"{stem}.jpg")
        shutil.copyfile(src / "Annotations" / f"{stem}.xml", dst / "Annotations" / f"{stem}.xml")
    shutil.copyfile(src / "LICENSE", dst / "LICENSE")


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    out = Path("SampleData")
    for sub in ("wbc-seg", "bccd"):
        shutil.rmtree(out / sub, ignore_errors=True)
    build_wbc(data / "wbc-seg", out / "wbc-seg")
    build_bccd(data / "bccd", out / "bccd")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"SampleData: {total / 2**20:.1f} MiB (Pillow {PIL.__version__})")
    assert total < 20 * 2**20


if __name__ == "__main__":
    main()
