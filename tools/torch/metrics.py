"""Evaluation metrics from one confusion matrix, as issue 4's `eval` JSON (the Swift `Metrics` mirror these)."""
from __future__ import annotations

import numpy as np


def confusion(truth, pred, k):
    c = np.zeros((k, k), np.int64)
    for t, p in zip(truth, pred):
        c[t, p] += 1
    return c


def _div(a, b):
    return float(a) / float(b) if b else 0.0


def table(c, names):
    """Accuracy, kappa (p_o - p_e) / (1 - p_e), per-class and macro precision/recall/F1/specificity/NPV."""
    n = int(c.sum())
    k = c.shape[0]
    po = _div(np.trace(c), n)
    pe = sum(_div(c[i].sum(), n) * _div(c[:, i].sum(), n) for i in range(k))
    kappa = _div(po - pe, 1 - pe) if pe != 1 else (1.0 if po == 1 else 0.0)
    per = {}
    for i, name in enumerate(names):
        tp = int(c[i, i]); fn = int(c[i].sum()) - tp; fp = int(c[:, i].sum()) - tp; tn = n - tp - fn - fp
        p, r = _div(tp, tp + fp), _div(tp, tp + fn)
        per[name] = {"precision": p, "recall": r, "f1": _div(2 * p * r, p + r), "specificity": _div(tn, tn + fp),
                     "npv": _div(tn, tn + fn), "support": tp + fn}
    macro = {m: float(np.mean([per[x][m] for x in names])) for m in ("precision", "recall", "f1", "specificity", "npv")}
    macro["support"] = n
    return {"n": n, "accuracy": po, "kappa": kappa, "macro": macro, "per_class": per, "confusion": c.tolist()}


def ece(prob, truth, bins=15):
    """Expected calibration error: confidence = max probability, 15 equal bins on (0, 1] (a confidence
    of exactly b/15 falls in bin b-1), sum over bins of |accuracy - mean confidence| * share."""
    prob = np.asarray(prob)
    conf = prob.max(1)
    correct = prob.argmax(1) == np.asarray(truth)
    idx = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    e = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            e += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(e)


def dice_iou(pred, truth):
    inter = np.logical_and(pred, truth).sum()
    s = pred.sum() + truth.sum()
    union = np.logical_or(pred, truth).sum()
    return (2 * inter / s if s else 1.0), (inter / union if union else 1.0)
