#!/usr/bin/env python3
"""Checks a `blastview export --format coco` file with pycocotools.

Loads coco.json with pycocotools' COCO API, decodes every instance's RLE, and checks that
(1) its area and bbox are pycocotools' own (maskUtils.area, maskUtils.toBbox), (2) the
instances of each (image, rater or source) are disjoint, 8-connected and together equal the
nucleus pixels of the exported mask PNG (`masks/<case>_<rater>.png`, `masks/final/<case>.png`
or `masks/reference/<case>.png`, from `--format masks` with the same options into the same
folder), (3) every category_id is one of the file's categories, and (4) with IMAGE_ROOT given,
every image's file_name is relative, names a file under IMAGE_ROOT, and that image has the
recorded width and height (what another tool joining file_name to its image folder relies on).
Prints one summary line; exits non-zero on any mismatch.

    blastview export --format coco  --out OUT [--final] [--include-reference]
    blastview export --format masks --out OUT [--final] [--include-reference]
    python3 tools/check_coco_export.py OUT [IMAGE_ROOT]
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
    """ExportText.fileNamePart: letters, digits, - and _ as they are, every other byte %XX."""
    if not name:
        return "%"
    return "".join(chr(b) if re.match(r"[A-Za-z0-9_-]", chr(b)) else "%%%02X" % b for b in name.encode())


def mask_png(out, image_id, ann):
    source = ann.get("source", "rater")
    if source == "rater":
        return os.path.join(out, "masks", f"{image_id}_{safe(ann['rater'])}.png")
    if source == "reference":
        return os.path.join(out, "masks", "reference", f"{image_id}.png")
    if source == "final":
        return os.path.join(out, "masks", "final", f"{image_id}.png")
    raise ValueError(f"unknown source {source!r}")


def main(out, image_root=None):
    coco = COCO(os.path.join(out, "coco.json"))
    problems = 0
    category_ids = {c["id"] for c in coco.dataset["categories"]}
    for img in coco.dataset["images"]:
        name = img["file_name"]
        if image_root is None:
            continue
        if os.path.isabs(name):
            print("file_name is absolute:", name)
            problems += 1
            continue
        path = os.path.join(image_root, name)
        if not os.path.exists(path):
            print("file_name does not resolve under the image root:", name)
            problems += 1
            continue
        with Image.open(path) as im:
            if im.size != (img["width"], img["height"]):
                print("size of", name, im.size, "differs from", (img["width"], img["height"]))
                problems += 1
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
        if ann["category_id"] not in category_ids:
            print("annotation", ann["id"], "has an unknown category", ann["category_id"])
            problems += 1
        key = (ann["image_id"], ann.get("rater"), ann.get("source", "rater"))
        acc, _ = by_image_rater.setdefault(key, (np.zeros_like(m, dtype=np.int32), ann))
        acc += m
    for (image_id, rater, source), (acc, ann) in by_image_rater.items():
        if acc.max() > 1:
            print("overlapping instances for", image_id, rater or source)
            problems += 1
        png = mask_png(out, image_id, ann)
        if os.path.exists(png):
            expected = (np.array(Image.open(png)) >= 128).astype(np.int32)
            if not np.array_equal(expected, acc):
                print("instances differ from", png)
                problems += 1
    print(f"{len(coco.getAnnIds())} instances over {len(coco.getImgIds())} images checked with pycocotools: "
          f"{'OK' if problems == 0 else str(problems) + ' problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".", sys.argv[2] if len(sys.argv) > 2 else None))
