"""Parameter count and FLOPs of a configuration or a checkpoint.

  python tools/torch/info.py [--size 224] [--schema all4] [--tasks cls,seg]
  python tools/torch/info.py --model all4.safetensors
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint  # noqa: E402
from mtacnn import MTACNN, ModelConfig, flops, parameter_count  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--schema", default="all4")
    p.add_argument("--tasks", default="cls,seg")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.model:
        m, _ = checkpoint.load(a.model)
    else:
        tasks = a.tasks.split(",")
        m = MTACNN(ModelConfig.for_schema(a.schema, size=a.size, tasks=tasks,
                                          ttc_from={t: [q for q in tasks if q != t] for t in tasks}))
    total, conv = flops(m)
    buffers = sum(b.numel() for n, b in m.named_buffers() if not n.endswith("num_batches_tracked"))
    print(json.dumps({"size": m.cfg.size, "tasks": m.cfg.tasks, "parameters": parameter_count(m),
                      "bn_running_stats": buffers, "flops_forward": total, "flops_convolution": conv}))


if __name__ == "__main__":
    main()
