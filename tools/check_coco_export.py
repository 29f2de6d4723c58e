#!/usr/bin/env python3
"""Checks a `blastview export --format coco` file with pycocotools.

Loads coco.json with pycocotools' COCO API, decodes every instance's RLE, and checks that
(1) its area and bbox are pycocotools' own (maskUtils.area, maskUtils.toBbox), (2) the
instances of each (image, rater) are disjoint, 8-connected and together equal the nucleus
pixels of the exported mask PNG `masks/<case>_<rater>.png` (from `--format masks` into the
same or another folder). Prints one summary line; exits non-zero on any mismatch.

    blastview export --format coco  --out OUT
    blastview export --format masks --out OUT
    /work/venv/bin/python tools/check_coco_export.py OUT
"""
import json
import os
import re
import sys

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from scipy import ndimage


def safe(name):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return "_" + s[1:] if s.startswith(".") else (s or "_")


def main(out):
    coco = COCO(os.path.join(out, "coco.json"))
    problems = 0
    by_image_rater = {}
    for ann in coco.loadAnns(coco.getAnnIds()):
        m = coco.annToMask(ann)
        rle = coco.annToRLE(ann)
        if int(mask_utils.area(rle)) != ann["area"] or [int(round(v)) for v in mask_utils.toBbox(rle)] != ann["bbox"]:
            print("area/bbox mismatch in annotation", ann["id"])
            problems += 1
        _, n = ndimage.label(m, structure=np.ones((3, 3), int))
        if n != 1:
            print("annotation", ann["id"], "is not one 8-connected component:", n)
            problems += 1
        key = (ann["image_id"], ann["rater"])
        acc = by_image_rater.setdefault(key, np.zeros_like(m, dtype=np.int32))
        acc += m
    for (image_id, rater), acc in by_image_rater.items():
        if acc.max() > 1:
            print("overlapping instances for", image_id, rater)
            problems += 1
        png = os.path.join(out, "masks", f"{image_id}_{safe(rater)}.png")
        if os.path.exists(png):
            expected = (np.array(Image.open(png)) >= 128).astype(np.int32)
            if not np.array_equal(expected, acc):
                print("instances differ from", png)
                problems += 1
    print(f"{len(coco.getAnnIds())} instances over {len(coco.getImgIds())} images checked with pycocotools: "
          f"{'OK' if problems == 0 else str(problems) + ' problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
