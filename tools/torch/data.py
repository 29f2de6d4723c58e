"""Data: folder-per-class discovery, optional masks, the stratified hash split, preprocessing.

Every rule here is specified in docs/checkpoint-format.md ("Data") so that the Swift `MTACNN` data
side reproduces it exactly (the split bit for bit; preprocessing to within rounding).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

import split
from mtacnn import SCHEMAS
from split import split_counts, split_key  # noqa: F401  (re-exported)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")

# Folder names accepted for each class (compared case-insensitively), besides the class name itself.
ALIASES = {
    "Benign": ["benign", "hematogones"],
    "Early": ["early", "early pre-b", "[malignant] early pre-b"],
    "Pre": ["pre", "pre-b", "[malignant] pre-b"],
    "Pro": ["pro", "pro-b", "[malignant] pro-b"],
}

# The Aria scale-bar label, measured on all 2,767 images of ../shared/data/aria-all (224x224):
# the label box spans x 193..223, y 194..221 (a translucent panel, a white box at y 206..216,
# text and the bar line at y 214..215); the blanked rectangle adds a 5-6 px margin for JPEG ringing
# and chroma bleeding. Coordinates are at the source resolution (224 x 224), filled with the mean
# colour of the rest of the image. See docs/model-card-notes.md.
ARIA_CORNER = {"x": 188, "y": 188, "width": 36, "height": 36, "fill": "mean"}
ARIA_SOURCE_SIZE = [224, 224]

# Aria's Segmented/ images: the authors' colour-threshold nucleus image on black. The weak-mask rule
# (chosen in docs/model-card-notes.md, weak-mask study): a pixel is nucleus when R + G + B > 120; then
# 8-connected components under 30 pixels (at the source resolution) are dropped as JPEG speckle; a mask
# with under 1 % foreground left counts as no mask. Pro masks are unusable (they miss most Pro nuclei)
# and are not used for training (ARIA_MASK_EXCLUDED_CLASSES).
ARIA_MASK_SUM_THRESHOLD = 120
ARIA_MASK_MIN_AREA = 30
ARIA_MASK_MIN_FRACTION = 0.01
ARIA_MASK_EXCLUDED_CLASSES = ["Pro"]


@dataclass
class Item:
    path: str            # absolute path of the image
    rel: str             # "<class folder>/<file name>", forward slashes
    label: int           # index into the schema's classes
    digest: bytes        # SHA-256 of the file bytes (32 bytes)
    mask_path: str | None = None
    split: str = ""


class DataError(Exception):
    pass


def class_index(folder: str, classes: list) -> int | None:
    f = folder.lower()
    for i, c in enumerate(classes):
        if f == c.lower() or f in ALIASES.get(c, []):
            return i
    return None


def sha256_file(path) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.digest()


def discover(root, schema="all4", masks=None):
    """Images under root/<class folder>/ (not recursive below it). Hidden files are skipped; a
    sub-folder that names no class of the schema is an error."""
    classes = SCHEMAS[schema]["classes"]
    if not os.path.isdir(root):
        raise DataError(f"{root}: not a directory")
    items = []
    for folder in sorted(os.listdir(root)):
        full = os.path.join(root, folder)
        if folder.startswith(".") or not os.path.isdir(full):
            continue
        k = class_index(folder, classes)
        if k is None:
            raise DataError(f"{full}: folder names no class of schema {schema} ({', '.join(classes)})")
        for name in sorted(os.listdir(full)):
            if name.startswith(".") or not name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            p = os.path.join(full, name)
            if not os.path.isfile(p):
                continue
            it = Item(path=p, rel=f"{folder}/{name}", label=k, digest=sha256_file(p))
            if masks:
                it.mask_path = find_mask(masks, folder, name)
            items.append(it)
    if not items:
        raise DataError(f"{root}: no images in class folders ({', '.join(classes)})")
    return items


def find_mask(masks_root, folder, name):
    """masks_root/<folder>/<same file name>, else the same stem with any image extension there; then
    the same two looks directly in masks_root (a flat mask folder, as SampleData/wbc-seg/masks)."""
    stem = os.path.splitext(name)[0]
    for d in (os.path.join(masks_root, folder), masks_root):
        p = os.path.join(d, name)
        if os.path.isfile(p):
            return p
        for ext in IMAGE_EXTENSIONS:
            for e in (ext, ext.upper()):
                q = os.path.join(d, stem + e)
                if os.path.isfile(q):
                    return q
    return None


# -- the split --------------------------------------------------------------------------------

def assign_split(items, seed=0):
    """Stratified 80/10/10 (split.py): sets item.split; returns items."""
    parts = split.assign([(it.label, it.digest, it.rel) for it in items], seed)
    for it, part in zip(items, parts):
        it.split = part
    return items


# -- preprocessing ----------------------------------------------------------------------------

def decode_rgb(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def scaled_rect(rect, source_size, w, h):
    """The blank rectangle for an image of w x h: scaled from source_size, floor at the top-left,
    ceil at the bottom-right (so it never shrinks below the measured box)."""
    sw, sh = source_size
    x0 = (rect["x"] * w) // sw
    y0 = (rect["y"] * h) // sh
    x1 = -((-(rect["x"] + rect["width"]) * w) // sw)
    y1 = -((-(rect["y"] + rect["height"]) * h) // sh)
    return x0, y0, min(x1, w) - x0, min(y1, h) - y0


def blank(img: np.ndarray, rect, source_size) -> np.ndarray:
    """Fill the rectangle with the rounded mean colour (per channel, half up) of the other pixels."""
    h, w, _ = img.shape
    x, y, rw, rh = scaled_rect(rect, source_size, w, h)
    out = img.copy()
    inside = np.zeros((h, w), bool)
    inside[y:y + rh, x:x + rw] = True
    rest = img[~inside].astype(np.int64)
    n = rest.shape[0]
    fill = (2 * rest.sum(0) + n) // (2 * n)  # round half up, exact integer arithmetic
    out[inside] = fill.astype(np.uint8)
    return out


def area_weights(n_in, n_out):
    """[n_out, n_in] weights of exact area averaging (each output pixel covers n_in/n_out inputs);
    for enlarging, bilinear with half-pixel centres (edge-clamped)."""
    W = np.zeros((n_out, n_in), np.float64)
    if n_out <= n_in:
        scale = n_in / n_out
        for o in range(n_out):
            a, b = o * scale, (o + 1) * scale
            i0, i1 = int(np.floor(a)), int(np.ceil(b))
            for i in range(i0, min(i1, n_in)):
                W[o, i] = min(b, i + 1) - max(a, i)
            W[o] /= W[o].sum()
    else:
        for o in range(n_out):
            c = (o + 0.5) * n_in / n_out - 0.5
            i0 = int(np.floor(c))
            f = c - i0
            W[o, min(max(i0, 0), n_in - 1)] += 1 - f
            W[o, min(max(i0 + 1, 0), n_in - 1)] += f
    return W


def resize_rgb(img: np.ndarray, size: int) -> np.ndarray:
    """uint8 HxWx3 -> uint8 size x size x 3, area average (rounded half up)."""
    h, w, _ = img.shape
    if h == size and w == size:
        return img.copy()
    Wy, Wx = area_weights(h, size), area_weights(w, size)
    f = np.einsum("oh,hwc->owc", Wy, img.astype(np.float64))
    f = np.einsum("pw,owc->opc", Wx, f)
    return np.floor(f + 0.5).clip(0, 255).astype(np.uint8)


def resize_nearest(m: np.ndarray, size: int) -> np.ndarray:
    """Nearest neighbour with pixel centres: source index floor((o + 0.5) * n_in / n_out)."""
    h, w = m.shape[:2]
    ys = ((np.arange(size) * 2 + 1) * h) // (2 * size)
    xs = ((np.arange(size) * 2 + 1) * w) // (2 * size)
    return m[ys][:, xs]


def mask_kind_of(path) -> str:
    """'expert' for single-channel masks (wbc-seg: 0/128/255), 'weak' for colour images (Aria Segmented/)."""
    with Image.open(path) as im:
        return "expert" if im.mode in ("L", "P", "1", "I;16", "I") else "weak"


def drop_small_components(m: np.ndarray, min_area: int) -> np.ndarray:
    """Remove 8-connected components with fewer than min_area pixels."""
    if min_area <= 1 or not m.any():
        return m
    from scipy import ndimage
    lab, _ = ndimage.label(m, structure=np.ones((3, 3)))
    keep = np.bincount(lab.ravel()) >= min_area
    keep[0] = False
    return keep[lab]


def load_mask(path, kind="auto", threshold=ARIA_MASK_SUM_THRESHOLD, min_area=ARIA_MASK_MIN_AREA,
              min_fraction=ARIA_MASK_MIN_FRACTION):
    """-> bool HxW nucleus mask, or None when a weak mask is too empty to use.
    expert: value >= 192 (nucleus is 255, cytoplasm 128); weak: the rule above."""
    if kind == "auto":
        kind = mask_kind_of(path)
    with Image.open(path) as im:
        if kind == "expert":
            return np.asarray(im.convert("L")) >= 192
        a = np.asarray(im.convert("RGB")).astype(np.int32)
    m = drop_small_components(a.sum(-1) > threshold, min_area)
    return m if m.mean() >= min_fraction else None


def mask_sum_image(path) -> np.ndarray:
    """R + G + B of a weak-mask image (uint16), for caching with the threshold chosen later."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.uint16).sum(-1)


def preprocess(img: np.ndarray, size: int, corner=None, source_size=None) -> np.ndarray:
    """Decoded uint8 image -> uint8 S x S x 3: blank the corner (if configured) at the source
    resolution, then area-resize. The network input is this / 255 (then stain normalisation)."""
    if corner is not None:
        img = blank(img, corner, source_size or [img.shape[1], img.shape[0]])
    return resize_rgb(img, size)
