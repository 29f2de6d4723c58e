"""Seeded augmentation, the evaluation colour shifts, and stain normalisation (Reinhard, Macenko).

Images are float tensors [B, 3, H, W] in [0, 1]. Each colour operation is defined once here and in
docs/checkpoint-format.md ("Colour operations") so the Swift side implements the same formulas.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, used by grayscale, saturation and contrast
# Ruifrok & Johnston optical-density vectors of haematoxylin, eosin and DAB (rows), as scikit-image.
RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], np.float64)
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)
OD_EPS = 1.0 / 255.0  # intensities are clamped to at least this before the logarithm


@dataclass
class AugmentConfig:
    flip: bool = True            # horizontal and vertical, each with p = 0.5
    rot90: bool = True           # k * 90 degrees, k uniform in 0..3
    hue_deg: float = 0.0         # hue rotation uniform in [-hue_deg, +hue_deg]
    saturation: float = 0.0      # factor uniform in [1 - s, 1 + s]
    brightness: float = 0.0      # factor uniform in [1 - b, 1 + b]
    contrast: float = 0.0        # factor uniform in [1 - c, 1 + c]
    gray_p: float = 0.0          # probability of converting to grayscale
    hed_scale: float = 0.0       # per stain channel alpha uniform in [1 - s, 1 + s]
    hed_shift: float = 0.0       # per stain channel beta uniform in [-t, t] (optical-density units)

    def to_dict(self):
        return asdict(self)


def luma(x):
    return LUMA[0] * x[:, 0:1] + LUMA[1] * x[:, 1:2] + LUMA[2] * x[:, 2:3]


def rgb_to_hsv(x):
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc, _ = x.max(1)
    minc, _ = x.min(1)
    v = maxc
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    dz = delta.clamp(min=1e-12)
    rc, gc, bc = (maxc - r) / dz, (maxc - g) / dz, (maxc - b) / dz
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, (h / 6.0) % 1.0, torch.zeros_like(h))
    return h, s, v


def hsv_to_rgb(h, s, v):
    i = torch.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    r = torch.stack([v, q, p, p, t, v], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    g = torch.stack([t, v, v, q, p, p], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    b = torch.stack([p, p, t, v, v, q], 1).gather(1, i.unsqueeze(1)).squeeze(1)
    return torch.stack([r, g, b], 1)


def hue_rotate(x, deg):
    """Rotate the HSV hue by deg[b] degrees (S and V kept): stays in gamut, exactly invertible."""
    deg = torch.as_tensor(deg, dtype=x.dtype).reshape(-1)
    h, s, v = rgb_to_hsv(x)
    h = (h + (deg / 360.0).view(-1, 1, 1)) % 1.0
    return hsv_to_rgb(h, s, v)


def saturate(x, f):
    """gray + f * (x - gray), clamped to [0, 1]; gray is the pixel's luma."""
    f = torch.as_tensor(f, dtype=x.dtype).reshape(-1, 1, 1, 1)
    g = luma(x)
    return (g + f * (x - g)).clamp(0, 1)


def brighten(x, f):
    return (x * torch.as_tensor(f, dtype=x.dtype).reshape(-1, 1, 1, 1)).clamp(0, 1)


def contrast(x, f):
    """m + f * (x - m), m = the image's mean luma; clamped."""
    f = torch.as_tensor(f, dtype=x.dtype).reshape(-1, 1, 1, 1)
    m = luma(x).mean((1, 2, 3), keepdim=True)
    return (m + f * (x - m)).clamp(0, 1)


def grayscale(x):
    return luma(x).expand(-1, 3, -1, -1).clone()


def hed_jitter(x, alpha, beta):
    """Tellez et al. 2018: optical density od = -ln(max(x, 1/255)); stains c = od @ HED_FROM_RGB;
    c' = alpha * c + beta per stain channel; back: x = exp(-(c' @ RGB_FROM_HED)), clamped."""
    m_in = torch.tensor(HED_FROM_RGB, dtype=x.dtype)
    m_out = torch.tensor(RGB_FROM_HED, dtype=x.dtype)
    od = -torch.log(x.clamp(min=OD_EPS))
    c = torch.einsum("bihw,ij->bjhw", od, m_in)
    c = c * alpha.view(-1, 3, 1, 1) + beta.view(-1, 3, 1, 1)
    od2 = torch.einsum("bjhw,ji->bihw", c, m_out)
    return torch.exp(-od2).clamp(0, 1)


def augment(x, mask, cfg: AugmentConfig, gen: torch.Generator):
    """Random per-sample augmentation of a batch (x [B,3,S,S], mask [B,1,S,S] or None). Deterministic
    for the generator's state. Geometry applies to image and mask; colour to the image only."""
    b = x.shape[0]
    u = lambda *shape: torch.rand(*shape, generator=gen)
    x = x.clone()
    mask = None if mask is None else mask.clone()
    if cfg.flip or cfg.rot90:
        fh, fv, k = u(b) < 0.5, u(b) < 0.5, torch.randint(0, 4, (b,), generator=gen)
        for i in range(b):
            dims = []
            if cfg.flip and fh[i]:
                dims.append(3)
            if cfg.flip and fv[i]:
                dims.append(2)
            if dims:
                x[i] = x[i].flip([d - 1 for d in dims])
                if mask is not None:
                    mask[i] = mask[i].flip([d - 1 for d in dims])
            if cfg.rot90 and k[i]:
                x[i] = torch.rot90(x[i], int(k[i]), (1, 2))
                if mask is not None:
                    mask[i] = torch.rot90(mask[i], int(k[i]), (1, 2))
    if cfg.hed_scale > 0 or cfg.hed_shift > 0:
        alpha = 1 + (2 * u(b, 3) - 1) * cfg.hed_scale
        beta = (2 * u(b, 3) - 1) * cfg.hed_shift
        x = hed_jitter(x, alpha, beta)
    if cfg.hue_deg > 0:
        x = hue_rotate(x, (2 * u(b) - 1) * cfg.hue_deg)
    if cfg.saturation > 0:
        x = saturate(x, 1 + (2 * u(b) - 1) * cfg.saturation)
    if cfg.brightness > 0:
        x = brighten(x, 1 + (2 * u(b) - 1) * cfg.brightness)
    if cfg.contrast > 0:
        x = contrast(x, 1 + (2 * u(b) - 1) * cfg.contrast)
    if cfg.gray_p > 0:
        g = u(b) < cfg.gray_p
        if g.any():
            x[g] = grayscale(x[g])
    return x, mask


# -- evaluation colour shifts (issue 10) ------------------------------------------------------

SHIFTS = ["none", "hue:+10", "hue:-10", "sat:0.85", "sat:1.15", "gray"]


def colour_shift_u8(img: np.ndarray, shift: str) -> np.ndarray:
    """A shifted copy of a decoded uint8 H x W x 3 image: the float operation on x / 255, then
    floor(255 * y + 0.5). Applied before corner blanking and resizing."""
    if shift == "none":
        return img.copy()
    x = torch.from_numpy(img.astype(np.float64) / 255.0).permute(2, 0, 1).unsqueeze(0)
    kind, _, val = shift.partition(":")
    if kind == "hue":
        y = hue_rotate(x, float(val))
    elif kind == "sat":
        y = saturate(x, float(val))
    elif kind == "gray":
        y = grayscale(x)
    else:
        raise ValueError(f"unknown colour shift {shift!r} (one of {', '.join(SHIFTS)})")
    y = y[0].permute(1, 2, 0).numpy()
    return np.floor(y * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


# -- stain normalisation ----------------------------------------------------------------------
# Both work on one float image H x W x 3 in [0, 1] (numpy float64) and are applied after resizing,
# identically in training and prediction; their reference statistics live in the model config.

_M_RGB2XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(x):
    lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M_RGB2XYZ.T / _WHITE
    d = 6 / 29
    f = np.where(xyz > d ** 3, np.cbrt(xyz), xyz / (3 * d * d) + 4 / 29)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], -1)


def lab_to_rgb(lab):
    d = 6 / 29
    fy = (lab[..., 0] + 16) / 116
    fx, fz = fy + lab[..., 1] / 500, fy - lab[..., 2] / 200
    f = np.stack([fx, fy, fz], -1)
    xyz = np.where(f > d, f ** 3, 3 * d * d * (f - 4 / 29)) * _WHITE
    lin = xyz @ np.linalg.inv(_M_RGB2XYZ).T
    lin = np.clip(lin, 0, None)
    x = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(x, 0, 1)


def reinhard_stats(x):
    lab = rgb_to_lab(x).reshape(-1, 3)
    return {"mean": lab.mean(0).tolist(), "std": lab.std(0).tolist()}


def reinhard(x, ref):
    """Per Lab channel: (v - mean) / max(std, 1e-6) * ref_std + ref_mean (Reinhard et al. 2001, CIE Lab)."""
    lab = rgb_to_lab(x)
    flat = lab.reshape(-1, 3)
    m, s = flat.mean(0), np.maximum(flat.std(0), 1e-6)
    lab = (lab - m) / s * np.asarray(ref["std"]) + np.asarray(ref["mean"])
    return lab_to_rgb(lab)


def _od(x):
    return -np.log(np.maximum(x, OD_EPS))


def macenko_stains(x, beta=0.15, alpha=1.0):
    """Macenko et al. 2009: stain matrix [2, 3] (rows: the two stain OD unit vectors, haematoxylin-like
    first = larger red OD) and the 99th percentile concentrations [2]."""
    od = _od(x).reshape(-1, 3)
    keep = od[(od > beta).all(1)]
    if keep.shape[0] < 10:
        keep = od
    _, vecs = np.linalg.eigh(np.cov(keep.T))
    plane = vecs[:, [2, 1]]  # two largest eigenvectors
    plane = plane * np.sign(plane[:, :1].sum() or 1.0)
    proj = keep @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, alpha), np.percentile(phi, 100 - alpha)
    v1 = plane @ np.array([np.cos(lo), np.sin(lo)])
    v2 = plane @ np.array([np.cos(hi), np.sin(hi)])
    stains = np.stack([v1, v2]) if v1[0] > v2[0] else np.stack([v2, v1])
    stains = stains / np.linalg.norm(stains, axis=1, keepdims=True)
    conc = np.linalg.lstsq(stains.T, od.T, rcond=None)[0]
    return stains, np.percentile(conc, 99, axis=1)


def macenko(x, ref):
    """Map the image's stains and 99th-percentile concentrations onto the reference's."""
    stains, cmax = macenko_stains(x)
    od = _od(x).reshape(-1, 3)
    conc = np.linalg.lstsq(stains.T, od.T, rcond=None)[0]
    conc = conc * (np.asarray(ref["max_conc"]) / np.maximum(cmax, 1e-6))[:, None]
    od2 = (np.asarray(ref["stains"]).T @ conc).T
    return np.clip(np.exp(-od2), 0, 1).reshape(x.shape)


def normalise(x, spec):
    if not spec:
        return x
    if spec["method"] == "reinhard":
        return reinhard(x, spec)
    if spec["method"] == "macenko":
        return macenko(x, spec)
    raise ValueError(f"unknown stain normalisation {spec['method']!r}")
