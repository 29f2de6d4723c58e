#!/usr/bin/env python3
"""BlastView's neural engine against PyTorch on DESIGN §4's default network.

Runs Benchmarks/mtacnn_torch.py's MTACNN (a verbatim copy of the team's reference
definition, ../shared/reference/mtacnn_torch.py) in PyTorch and `blastview bench engine` on the
same shapes and thread count, interleaved (torch, swift, torch, swift, ...) so both see the same
machine load, and prints the Swift/PyTorch ratio per size for training (images/s), inference at
the batch size (images/s) and inference at batch 1 (ms, ratio = torch ms / swift ms). Ratios > 1
mean the engine is faster. It also prints the ratio of CPU seconds per training step and per
inference batch (PyTorch's from its non-spinning run), which measures the work each side does
and moves much less than wall time when other jobs share the machine.

The PyTorch side gets a fair allocator: glibc malloc is told not to mmap (and unmap) each large
tensor, which otherwise costs it 25% in training and half its inference speed on this machine
(DESIGN §8). The script re-executes itself with that environment. PyTorch's OpenMP threads spin
while they wait, which is fastest on an idle machine and 4-5x slower on a shared one (measured
here at load 6: 3-4.5 against 17 images/s at 96 px), so every round runs PyTorch twice, with the
default wait policy and with OMP_WAIT_POLICY=PASSIVE, and compares against the faster of the two.

Usage (from the repository root, after `swift build -c release`):
    /work/venv/bin/python Benchmarks/compare_pytorch.py [--sizes 96,128,224] [--batch 32]
        [--threads 2] [--rounds 3] [--steps 3] [--json results.json]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

MALLOC_ENV = {
    # No mmap for large blocks: they come from the heap and are reused, not faulted in afresh.
    "MALLOC_MMAP_MAX_": "0",
    # Never give the heap top back to the kernel between steps.
    "MALLOC_TRIM_THRESHOLD_": str(1 << 40),
    "MALLOC_TOP_PAD_": str(256 << 20),
}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def reexec_with_malloc_tuning():
    if os.environ.get("BLASTVIEW_COMPARE_CHILD") == "1":
        return
    env = dict(os.environ, BLASTVIEW_COMPARE_CHILD="1", **MALLOC_ENV)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def torch_run(size, batch, threads, steps, runs):
    """Train steps and inference of the reference network in PyTorch; returns seconds."""
    import torch
    import torch.nn.functional as F
    sys.path.insert(0, HERE)
    import mtacnn_torch as ref

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = ref.MTACNN(img_size=size)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size)
    y = torch.arange(batch) % 4
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(batch, 1, size, size)
    g = torch.Generator().manual_seed(2)
    for b in range(batch):
        for _ in range(3):
            cx, cy = torch.rand(2, generator=g) * size
            r = size * (0.12 + 0.1 * torch.rand(1, generator=g).item())
            masks[b, 0][((xx - cx) ** 2 + (yy - cy) ** 2) < r * r] = 1

    def step():
        net.train()
        opt.zero_grad(set_to_none=False)
        logp, mask_logits = net(x)
        a = ((masks.numel() - masks.sum()) / masks.sum().clamp(min=1)).item()
        loss = F.nll_loss(logp, y) + ref.binary_focal_loss(mask_logits, masks, gamma=2.0, w_pos=a, w_neg=1.0)
        loss.backward()
        opt.step()

    step()
    train, train_cpu = [], []
    for _ in range(steps):
        c0, t0 = cpu_seconds(), time.perf_counter()
        step()
        train.append(time.perf_counter() - t0)
        train_cpu.append(cpu_seconds() - c0)
    net.eval()
    infer, infer_cpu, one = [], [], []
    with torch.inference_mode():
        net(x)
        for _ in range(runs):
            c0, t0 = cpu_seconds(), time.perf_counter()
            net(x)
            infer.append(time.perf_counter() - t0)
            infer_cpu.append(cpu_seconds() - c0)
        x1 = x[:1].contiguous()
        net(x1)
        for _ in range(max(5, 3 * runs)):
            t0 = time.perf_counter()
            net(x1)
            one.append((time.perf_counter() - t0) * 1000)
    return {"train_images_per_s": batch / statistics.median(train), "train_steps_s": train,
            "train_cpu_s": statistics.median(train_cpu),
            "infer_images_per_s": batch / statistics.median(infer), "infer_s": infer,
            "infer_cpu_s": statistics.median(infer_cpu),
            "batch1_ms": statistics.median(one), "batch1_runs_ms": one}


def torch_subprocess(args, size, passive):
    """PyTorch in a fresh process per measurement, so neither side keeps the other's memory."""
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-child", str(size), "--batch", str(args.batch),
           "--threads", str(args.threads), "--steps", str(args.steps), "--runs", str(args.runs)]
    env = dict(os.environ)
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        env.pop("OMP_WAIT_POLICY", None)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    r["omp_wait_policy"] = "PASSIVE" if passive else "default"
    return r


def best_torch(a, b):
    """The faster PyTorch configuration, per measure."""
    return {"train_images_per_s": max(a["train_images_per_s"], b["train_images_per_s"]),
            "infer_images_per_s": max(a["infer_images_per_s"], b["infer_images_per_s"]),
            "batch1_ms": min(a["batch1_ms"], b["batch1_ms"]),
            # CPU time from the run that does not spin (spinning counts as CPU time).
            "train_cpu_s": b["train_cpu_s"], "infer_cpu_s": b["infer_cpu_s"], "runs": [a, b]}


def swift_subprocess(args, size):
    cmd = [args.blastview, "bench", "engine", "--size", str(size), "--batch", str(args.batch), "--threads",
           str(args.threads), "--steps", str(args.steps), "--runs", str(args.runs), "--no-layers", "--json"]
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
    r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)
    return {"train_images_per_s": r["train"]["imagesPerSecond"], "train_steps_s": r["train"]["stepSeconds"],
            "train_cpu_s": statistics.median(r["train"]["stepCPUSeconds"]),
            "infer_images_per_s": r["inference"]["imagesPerSecond"], "infer_s": r["inference"]["batchSeconds"],
            "infer_cpu_s": statistics.median(r["inference"]["batchCPUSeconds"]),
            "batch1_ms": r["inference"]["batch1MedianMilliseconds"],
            "batch1_runs_ms": r["inference"]["batch1Milliseconds"],
            "peak_rss_gib": r["train"]["peakResidentBytes"] / 2**30, "sgemm_gflops": r["sgemmGFLOPS"],
            "train_profile": r["trainProfile"]}


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="96,128,224")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="interleaved torch/swift pairs per size")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--blastview", default=os.path.join(ROOT, ".build", "release", "blastview"))
    p.add_argument("--json", help="write all measurements here")
    p.add_argument("--torch-child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_child:
        print(json.dumps(torch_run(args.torch_child, args.batch, args.threads, args.steps, args.runs)))
        return
    import torch
    print(f"torch {torch.__version__}, threads {args.threads}, batch {args.batch}, "
          f"malloc tuning {MALLOC_ENV}", flush=True)
    results = {"torch": torch.__version__, "threads": args.threads, "batch": args.batch, "sizes": {}}
    for size in [int(s) for s in args.sizes.split(",")]:
        rounds = []
        for r in range(args.rounds):
            load = load_average()
            t = best_torch(torch_subprocess(args, size, False), torch_subprocess(args, size, True))
            s = swift_subprocess(args, size)
            rounds.append({"load": load, "torch": t, "swift": s})
            print(f"  {size}px round {r + 1}: load {load:.1f}  train torch {t['train_images_per_s']:.2f} "
                  f"swift {s['train_images_per_s']:.2f} img/s | infer torch {t['infer_images_per_s']:.1f} "
                  f"swift {s['infer_images_per_s']:.1f} img/s | batch1 torch {t['batch1_ms']:.1f} "
                  f"swift {s['batch1_ms']:.1f} ms | CPU s per train step torch {t['train_cpu_s']:.2f} "
                  f"swift {s['train_cpu_s']:.2f}, per inference batch torch {t['infer_cpu_s']:.2f} "
                  f"swift {s['infer_cpu_s']:.2f} | swift peak RSS {s['peak_rss_gib']:.2f} GiB", flush=True)
        ratios = {
            "train": [x["swift"]["train_images_per_s"] / x["torch"]["train_images_per_s"] for x in rounds],
            "infer": [x["swift"]["infer_images_per_s"] / x["torch"]["infer_images_per_s"] for x in rounds],
            "batch1": [x["torch"]["batch1_ms"] / x["swift"]["batch1_ms"] for x in rounds],
            "train_cpu": [x["torch"]["train_cpu_s"] / x["swift"]["train_cpu_s"] for x in rounds],
            "infer_cpu": [x["torch"]["infer_cpu_s"] / x["swift"]["infer_cpu_s"] for x in rounds],
        }
        results["sizes"][size] = {"rounds": rounds, "ratios": ratios}
        print(f"{size}px ratios swift/torch (median [min-max] over {args.rounds} rounds): " + ", ".join(
            f"{k} {statistics.median(v):.2f} [{min(v):.2f}-{max(v):.2f}]" for k, v in ratios.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    reexec_with_malloc_tuning()
    main()
