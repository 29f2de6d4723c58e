"""Checkpoint files: safetensors, F32, canonical names, configuration in `__metadata__`.

The layout is specified in docs/checkpoint-format.md; this is its reference implementation.
"""
from __future__ import annotations

import json
import os
import tempfile

import torch

try:
    from safetensors import safe_open
    from safetensors.torch import save_file
except ImportError:  # Debian's python3-torch comes without safetensors (safetensors_compat.py says why)
    from safetensors_compat import safe_open, save_file

from mtacnn import MTACNN, ModelConfig

FORMAT = "blastview.mtacnn"
FORMAT_VERSION = "1"
ADAM_M, ADAM_V = "adam.m.", "adam.v."


def model_tensors(model: MTACNN) -> dict:
    """Canonical name -> F32 tensor: parameters and BatchNorm running statistics (not num_batches_tracked)."""
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        out[name] = t.detach().to(torch.float32).contiguous().clone()
    return out


def save(path, model: MTACNN, training: dict | None = None, optimizer: torch.optim.Adam | None = None,
         step: int | None = None):
    """Write atomically (temp file + rename) so a crash never leaves a half-written model."""
    tensors = model_tensors(model)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "config": model.cfg.to_json()}
    if training is not None:
        meta["training"] = json.dumps(training, sort_keys=True)
    if optimizer is not None:
        name_of = {id(p): n for n, p in model.named_parameters()}
        group = optimizer.param_groups[0]
        steps = []
        for p, st in optimizer.state.items():
            if "exp_avg" not in st:
                continue
            n = name_of[id(p)]
            tensors[ADAM_M + n] = st["exp_avg"].detach().float().contiguous().clone()
            tensors[ADAM_V + n] = st["exp_avg_sq"].detach().float().contiguous().clone()
            steps.append(int(st["step"]))
        meta["optimizer"] = json.dumps({
            "type": "adam", "lr": group["lr"], "beta1": group["betas"][0], "beta2": group["betas"][1],
            "eps": group["eps"], "weight_decay": group["weight_decay"],
            "step": step if step is not None else (max(steps) if steps else 0)}, sort_keys=True)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=d)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CheckpointError(Exception):
    pass


def read(path):
    """-> (metadata dict of str, {name: tensor})."""
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises several types
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: metadata 'format' is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported format_version {meta.get('format_version')!r}")
    return meta, tensors


def load(path, optimizer_for=None):
    """-> (model, metadata). Every model tensor must be present with the right shape and dtype F32;
    extra tensors other than Adam state are an error (a misnamed tensor must not be silently ignored)."""
    meta, tensors = read(path)
    try:
        cfg = ModelConfig.from_json(meta["config"])
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: bad 'config' metadata ({e})") from e
    model = MTACNN(cfg)
    expected = model_tensors(model)
    state = {}
    for name, ref in expected.items():
        if name not in tensors:
            raise CheckpointError(f"{path}: missing tensor {name!r}")
        t = tensors[name]
        if t.dtype != torch.float32:
            raise CheckpointError(f"{path}: tensor {name!r} is {t.dtype}, expected float32")
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"{path}: tensor {name!r} has shape {tuple(t.shape)}, expected {tuple(ref.shape)}")
        state[name] = t
    extra = [k for k in tensors if k not in expected and not k.startswith((ADAM_M, ADAM_V))]
    if extra:
        raise CheckpointError(f"{path}: unknown tensors {extra[:5]}")
    model.load_state_dict(state, strict=False)
    meta = dict(meta)
    meta["_adam"] = {k: v for k, v in tensors.items() if k.startswith((ADAM_M, ADAM_V))}
    return model, meta


def restore_adam(model, optimizer, meta):
    """Put saved Adam moments and step into `optimizer` (parameters matched by canonical name)."""
    if "optimizer" in meta:
        info = json.loads(meta["optimizer"])
        steps = {}
    elif "adam.steps" in meta:  # written by the Swift engine's Checkpoint: per-parameter steps
        steps = json.loads(meta["adam.steps"])
        info = {"step": max(steps.values()) if steps else 0}
    else:
        return 0
    adam = meta.get("_adam", {})
    for n, p in model.named_parameters():
        if not p.requires_grad or (ADAM_M + n) not in adam:
            continue
        optimizer.state[p] = {"step": torch.tensor(float(steps.get(n, info["step"]))),
                              "exp_avg": adam[ADAM_M + n].clone(), "exp_avg_sq": adam[ADAM_V + n].clone()}
    return int(info["step"])
