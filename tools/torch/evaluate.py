"""Evaluate a checkpoint on a folder-per-class data set: the metrics of issue 4's `eval` JSON, per
colour shift (issue 10), with the corner blanked as the model's config says or forced on/off.

  python tools/torch/evaluate.py --model M.safetensors --data DIR [--masks DIR] [--split val|test|all]
      [--colour-shift all|none|hue:+10|...] [--blank-corner config|on|off] [--json]

Use --split test only for the final report of chosen settings.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment as A  # noqa: E402
import checkpoint  # noqa: E402
import data as D  # noqa: E402
from train import cached_arrays, evaluate  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--masks")
    p.add_argument("--split", default="val", choices=["train", "val", "test", "all"])
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--colour-shift", default="none")
    p.add_argument("--blank-corner", default="config", choices=["config", "on", "off"])
    p.add_argument("--cache")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, _ = checkpoint.load(a.model)
    cfg = model.cfg
    corner, source = cfg.blank_corner, cfg.source_size
    if a.blank_corner == "on":
        corner, source = D.ARIA_CORNER, D.ARIA_SOURCE_SIZE
    elif a.blank_corner == "off":
        corner, source = None, None
    items = D.assign_split(D.discover(a.data, cfg.schema, a.masks), a.split_seed)
    if a.split != "all":
        items = [it for it in items if it.split == a.split]
    shifts = A.SHIFTS if a.colour_shift == "all" else [a.colour_shift]
    out = {}
    for sh in shifts:
        X, Y, Mk, H = cached_arrays(a.cache, items, cfg.size, corner, source, "auto", D.ARIA_MASK_SUM_THRESHOLD, sh)
        out[sh] = evaluate(model, X, Y, Mk, H, cfg.stain_normalisation, cfg.classes)
    res = dict(out["none"] if "none" in out else out[shifts[0]])
    res["split"], res["blank_corner"] = a.split, corner is not None
    if len(shifts) > 1:
        res["robustness"] = [{"shift": sh, "accuracy": r["accuracy"], "macro_f1": r["macro"]["f1"], "n": r["n"]}
                             for sh, r in out.items()]
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"n={res['n']} accuracy={res['accuracy']:.4f} kappa={res['kappa']:.4f} macro-F1={res['macro']['f1']:.4f}"
              f" ECE={res['calibration']['ece']:.4f}")
        for r in res.get("robustness", []):
            print(f"  {r['shift']:>9}: accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}")


if __name__ == "__main__":
    main()
