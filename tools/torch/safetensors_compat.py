"""The two safetensors calls the reference uses (`save_file`, `safe_open`), for Pythons without
the `safetensors` package.

Debian 12 packages PyTorch (`python3-torch`, 1.13, CPU) but not safetensors, and CI installs
Debian's torch rather than PyPI's (the PyPI wheel is the CUDA build, about 3 GB with its
dependencies). `checkpoint.py` uses the real package when it is importable and this module
otherwise. The format is small enough to write out in full (it is specified at
https://github.com/huggingface/safetensors and in docs/checkpoint-format.md): an 8-byte
little-endian header length, a JSON header padded with spaces to a multiple of 8 bytes that
maps each tensor name to its dtype, shape and [begin, end) byte offsets into the data that
follows, plus an optional `__metadata__` object of strings, then the tensors' bytes,
little-endian, contiguous, with no gaps.
"""
from __future__ import annotations

import json
import struct
import sys

import numpy as np
import torch

# safetensors dtype names <-> torch dtypes and numpy dtypes (little-endian).
_DTYPES = {
    "F64": (torch.float64, np.dtype("<f8")),
    "F32": (torch.float32, np.dtype("<f4")),
    "F16": (torch.float16, np.dtype("<f2")),
    "I64": (torch.int64, np.dtype("<i8")),
    "I32": (torch.int32, np.dtype("<i4")),
    "I16": (torch.int16, np.dtype("<i2")),
    "I8": (torch.int8, np.dtype("i1")),
    "U8": (torch.uint8, np.dtype("u1")),
    "BOOL": (torch.bool, np.dtype("?")),
}
_NAME_OF = {t: name for name, (t, _) in _DTYPES.items()}


def save_file(tensors: dict, path, metadata: dict | None = None):
    """Writes `tensors` (name -> torch tensor) and string `metadata` as a safetensors file."""
    if sys.byteorder != "little":
        raise ValueError("safetensors_compat writes little-endian data only")
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _NAME_OF:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} is not supported by safetensors_compat")
        data = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": _NAME_OF[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"metadata {k!r}: keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class _File:
    def __init__(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) < 8:
            raise ValueError(f"{path}: too short for a safetensors header")
        (n,) = struct.unpack("<Q", raw[:8])
        if n > len(raw) - 8:
            raise ValueError(f"{path}: header length {n} exceeds the file ({len(raw)} bytes)")
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError(f"{path}: the header is not a JSON object")
        self._meta = header.pop("__metadata__", None)
        self._data = memoryview(raw)[8 + n:]
        self._entries = header
        for name, e in header.items():
            begin, end = e["data_offsets"]
            if e["dtype"] not in _DTYPES:
                raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {e['dtype']!r}")
            size = _DTYPES[e["dtype"]][1].itemsize * int(np.prod(e["shape"], dtype=np.int64))
            if not (0 <= begin <= end <= len(self._data)) or end - begin != size:
                raise ValueError(f"{path}: tensor {name!r} has offsets {begin}..{end} for {size} bytes")

    def metadata(self):
        return self._meta

    def keys(self):
        return list(self._entries)

    def get_tensor(self, name):
        e = self._entries[name]
        begin, end = e["data_offsets"]
        t, dt = _DTYPES[e["dtype"]]
        a = np.frombuffer(self._data[begin:end], dtype=dt).reshape(e["shape"]).copy()
        return torch.from_numpy(a).to(t)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._data.release()
        return False


def safe_open(path, framework="pt"):
    """Reads a safetensors file: `.metadata()`, `.keys()`, `.get_tensor(name)` (torch tensors)."""
    if framework != "pt":
        raise ValueError("safetensors_compat reads torch tensors only (framework='pt')")
    return _File(path)
