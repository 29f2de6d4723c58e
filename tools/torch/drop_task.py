#!/usr/bin/env python3
"""Writes a checkpoint without one task: the task's tensors (and their Adam state) are left out,
`config` lists the remaining tasks and no connection from the dropped one. The remaining tasks'
tensors are copied byte for byte, so their outputs are unchanged when no remaining task read the
dropped one (refused otherwise).

Issue 17 uses it to rebuild a shipped model's segmentation column from its frozen classifier:

    python3 tools/torch/drop_task.py Models/all4.safetensors /tmp/all4_cls.safetensors --task seg
    blastview train --init /tmp/all4_cls.safetensors --tasks cls,seg --freeze cls --seg-stem 16 ...

Needs only numpy and safetensors. The optimizer metadata is dropped with the Adam tensors (a frozen
task trains no more); the other metadata (colour reference, operating point, training record of the
source) is kept, with `dropped_task` added to say what was done.
"""
import argparse
import json
import os
import tempfile

from safetensors import safe_open
from safetensors.numpy import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--task", required=True, choices=["cls", "seg"])
    a = ap.parse_args()
    with safe_open(a.input, "np") as f:
        meta = dict(f.metadata() or {})
        cfg = json.loads(meta["config"])
        if a.task not in cfg["tasks"] or len(cfg["tasks"]) < 2:
            raise SystemExit(f"{a.input}: cannot drop {a.task!r} from tasks {cfg['tasks']}")
        keep = [t for t in cfg["tasks"] if t != a.task]
        for t in keep:
            if a.task in cfg["ttc_from"].get(t, []):
                raise SystemExit(f"{a.input}: task {t!r} reads {a.task!r}; its outputs would change")
        tensors = {}
        for name in f.keys():
            base = name.split(".", 2)[2] if name.startswith(("adam.m.", "adam.v.")) else name
            if name.startswith("adam.") or base.startswith(a.task + "."):
                continue
            tensors[name] = f.get_tensor(name)
    cfg["tasks"] = keep
    cfg["ttc_from"] = {t: [q for q in cfg["ttc_from"].get(t, []) if q != a.task] for t in keep}
    if a.task == "seg":
        cfg.pop("seg_stem", None)
    meta["config"] = json.dumps(cfg, sort_keys=True)
    for k in ("optimizer", "adam.steps"):
        meta.pop(k, None)
    meta["dropped_task"] = json.dumps({"task": a.task, "from": os.path.abspath(a.input)})
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.output)) or ".", suffix=".tmp")
    os.close(fd)
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, a.output)
    print(f"{a.output}: {len(tensors)} tensors, tasks {keep}")


if __name__ == "__main__":
    main()
