"""Train MTA-CNN (the PyTorch reference). One process, or several with torchrun (DDP; gloo on CPU,
nccl on GPUs):

  python tools/torch/train.py --data ../shared/data/aria-all/Original --masks ../shared/data/aria-all/Segmented \
      --out all4.safetensors --size 128 --epochs 30
  torchrun --nproc_per_node=4 tools/torch/train.py ... (same arguments)

Writes the best checkpoint by validation loss (early stopping), with the Adam state so --init resumes.
The test split is never read here.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import augment as A  # noqa: E402
import checkpoint  # noqa: E402
import data as D  # noqa: E402
import metrics as M  # noqa: E402
from mtacnn import MTACNN, ModelConfig, SCHEMAS, total_loss  # noqa: E402


# -- arrays -----------------------------------------------------------------------------------

def build_arrays(items, size, corner, source_size, mask_kind, threshold, shift="none"):
    n = len(items)
    X = np.zeros((n, size, size, 3), np.uint8)
    Y = np.array([it.label for it in items], np.int64)
    Mk = np.zeros((n, size, size), np.bool_)
    has = np.zeros(n, np.bool_)
    for i, it in enumerate(items):
        img = A.colour_shift_u8(D.decode_rgb(it.path), shift)
        X[i] = D.preprocess(img, size, corner, source_size)
        if it.mask_path:
            m = D.load_mask(it.mask_path, mask_kind, threshold)
            if m is not None:
                Mk[i] = D.resize_nearest(m, size)
                has[i] = True
    return X, Y, Mk, has


def cached_arrays(cache_dir, items, size, corner, source_size, mask_kind, threshold, shift="none"):
    if not cache_dir:
        return build_arrays(items, size, corner, source_size, mask_kind, threshold, shift)
    h = hashlib.sha256(json.dumps([[it.rel, it.digest.hex(), it.mask_path] for it in items]).encode())
    h.update(json.dumps([size, corner, source_size, mask_kind, threshold, shift, "maskrule2"]).encode())
    path = os.path.join(cache_dir, f"arrays-{h.hexdigest()[:16]}.npz")
    if os.path.exists(path):
        z = np.load(path)
        return z["X"], z["Y"], z["M"], z["has"]
    X, Y, Mk, has = build_arrays(items, size, corner, source_size, mask_kind, threshold, shift)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = path + f".tmp{os.getpid()}.npz"
    np.savez(tmp, X=X, Y=Y, M=Mk, has=has)
    os.replace(tmp, path)
    return X, Y, Mk, has


def to_input(X_u8, spec):
    """uint8 [B,S,S,3] -> float [B,3,S,S] in [0,1], stain-normalised if configured."""
    x = X_u8.astype(np.float64) / 255.0
    if spec:
        x = np.stack([A.normalise(im, spec) for im in x])
    return torch.from_numpy(x).float().permute(0, 3, 1, 2).contiguous()


def stain_reference(method, X_train, seed):
    """Reference statistics from (a seeded sample of up to 200) training images."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X_train), min(200, len(X_train)), replace=False)
    imgs = [X_train[i].astype(np.float64) / 255.0 for i in idx]
    if method == "reinhard":
        st = [A.reinhard_stats(im) for im in imgs]
        return {"method": "reinhard", "mean": np.mean([s["mean"] for s in st], 0).tolist(),
                "std": np.mean([s["std"] for s in st], 0).tolist()}
    if method == "macenko":
        st = [A.macenko_stains(im) for im in imgs]
        stains = np.median([s[0] for s in st], 0)
        stains /= np.linalg.norm(stains, axis=1, keepdims=True)
        return {"method": "macenko", "stains": stains.tolist(), "max_conc": np.median([s[1] for s in st], 0).tolist()}
    return None


# -- evaluation -------------------------------------------------------------------------------

@torch.no_grad()
def predict(model, X, spec, batch=64):
    model.eval()
    logps, segs = [], []
    for i in range(0, len(X), batch):
        out = model(to_input(X[i:i + batch], spec))
        if "cls" in out:
            logps.append(out["cls"].exp().numpy())
        if "seg" in out:
            segs.append(torch.sigmoid(out["seg"][:, 0]).numpy())
    return (np.concatenate(logps) if logps else None), (np.concatenate(segs) if segs else None)


def evaluate(model, X, Y, Mk, has, spec, names):
    prob, seg = predict(model, X, spec)
    res = {}
    if prob is not None:
        c = M.confusion(Y, prob.argmax(1), len(names))
        res = M.table(c, names)
        res["calibration"] = {"ece": M.ece(prob, Y)}
        res["nll"] = float(-np.log(np.maximum(prob[np.arange(len(Y)), Y], 1e-12)).mean())
    if seg is not None and has.any():
        d = [M.dice_iou(seg[i] > 0.5, Mk[i]) for i in np.nonzero(has)[0]]
        p, t = seg[has] > 0.5, Mk[has]
        pooled = M.dice_iou(p, t)
        res["segmentation"] = {"dice": float(np.mean([x[0] for x in d])), "iou": float(np.mean([x[1] for x in d])),
                               "dice_pooled": float(pooled[0]), "iou_pooled": float(pooled[1])}
    return res


def val_loss(model, X, Y, Mk, has, spec, batch=64):
    model.eval()
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(X), batch):
            b = make_batch(X[i:i + batch], Y[i:i + batch], Mk[i:i + batch], has[i:i + batch], spec)
            loss, _ = total_loss(model(b["x"]), b)
            tot += float(loss) * len(b["x"]); n += len(b["x"])
    return tot / max(n, 1)


def make_batch(X, Y, Mk, has, spec, aug=None, gen=None):
    x = torch.from_numpy(X.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    m = torch.from_numpy(Mk.astype(np.float32)).unsqueeze(1)
    if aug is not None:
        x, m = A.augment(x, m, aug, gen)
    if spec:
        x = torch.from_numpy(np.stack([A.normalise(im, spec) for im in x.permute(0, 2, 3, 1).double().numpy()])
                             ).float().permute(0, 3, 1, 2).contiguous()
    return {"x": x, "label": torch.from_numpy(Y), "has_label": torch.ones(len(Y), dtype=torch.bool),
            "mask": m, "has_mask": torch.from_numpy(has)}


# -- main -------------------------------------------------------------------------------------

def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder with one sub-folder per class")
    p.add_argument("--masks", help="mask folder mirroring --data (Aria Segmented/ or expert masks)")
    p.add_argument("--mask-kind", default="auto", choices=["auto", "weak", "expert"])
    p.add_argument("--mask-threshold", type=int, default=D.ARIA_MASK_SUM_THRESHOLD)
    p.add_argument("--no-masks-for", default=",".join(D.ARIA_MASK_EXCLUDED_CLASSES),
                   help="classes whose masks are not used (default: Pro, whose Aria weak masks miss the nuclei)")
    p.add_argument("--out", required=True)
    p.add_argument("--schema", default="all4", choices=sorted(SCHEMAS))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch", type=int, default=32, help="global batch (split over processes)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-schedule", default="constant", choices=["constant", "cosine"])
    p.add_argument("--tasks", default="cls,seg")
    p.add_argument("--init", help="checkpoint to start from (weights, and Adam state if present)")
    p.add_argument("--freeze", default="", help="comma-separated tasks to freeze (cls, seg)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--patience", type=int, default=10, help="early stopping: epochs without a better val loss")
    p.add_argument("--blank-corner", default="auto", choices=["auto", "on", "off"],
                   help="blank Aria's scale-bar corner (auto: on for all4)")
    p.add_argument("--stain-norm", default="none", choices=["none", "reinhard", "macenko"])
    p.add_argument("--hue", type=float, default=0.0, help="hue rotation range, degrees")
    p.add_argument("--sat", type=float, default=0.0)
    p.add_argument("--bright", type=float, default=0.0)
    p.add_argument("--contrast", type=float, default=0.0)
    p.add_argument("--gray-p", type=float, default=0.0)
    p.add_argument("--hed-scale", type=float, default=0.0)
    p.add_argument("--hed-shift", type=float, default=0.0)
    p.add_argument("--no-flip", action="store_true")
    p.add_argument("--no-rot90", action="store_true")
    p.add_argument("--cache", help="folder for preprocessed arrays (outside the repo)")
    p.add_argument("--eval-shifts", action="store_true", help="at the end, evaluate the best model on shifted val copies")
    p.add_argument("--log", help="JSON-lines log file")
    p.add_argument("--max-batches", type=int, default=0, help="stop each epoch after N batches (smoke tests)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(args.threads)
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1 or "RANK" in os.environ
    rank, world = 0, 1
    device = torch.device("cpu")
    if ddp:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        if torch.cuda.is_available():
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    log_f = open(args.log, "a") if (args.log and rank == 0) else None

    def log(rec):
        rec["time"] = round(time.time(), 1)
        if rank == 0:
            print(json.dumps(rec), flush=True)
            if log_f:
                log_f.write(json.dumps(rec) + "\n"); log_f.flush()

    torch.manual_seed(args.seed)
    classes = SCHEMAS[args.schema]["classes"]
    blank_on = args.blank_corner == "on" or (args.blank_corner == "auto" and args.schema == "all4")
    corner = D.ARIA_CORNER if blank_on else None
    source = D.ARIA_SOURCE_SIZE if blank_on else None

    items = D.assign_split(D.discover(args.data, args.schema, args.masks), args.split_seed)
    excluded = [c.lower() for c in args.no_masks_for.split(",") if c]
    for it in items:
        if SCHEMAS[args.schema]["classes"][it.label].lower() in excluded:
            it.mask_path = None
    tr = [it for it in items if it.split == "train"]
    va = [it for it in items if it.split == "val"]
    Xtr, Ytr, Mtr, Htr = cached_arrays(args.cache, tr, args.size, corner, source, args.mask_kind, args.mask_threshold)
    Xva, Yva, Mva, Hva = cached_arrays(args.cache, va, args.size, corner, source, args.mask_kind, args.mask_threshold)
    log({"event": "data", "train": len(tr), "val": len(va), "test_untouched": len(items) - len(tr) - len(va),
         "train_masks": int(Htr.sum()), "blank_corner": corner})

    tasks = [t for t in args.tasks.split(",") if t]
    freeze = [t for t in args.freeze.split(",") if t]
    spec = stain_reference(args.stain_norm, Xtr, args.seed) if args.stain_norm != "none" else None
    aug = A.AugmentConfig(flip=not args.no_flip, rot90=not args.no_rot90, hue_deg=args.hue, saturation=args.sat,
                          brightness=args.bright, contrast=args.contrast, gray_p=args.gray_p,
                          hed_scale=args.hed_scale, hed_shift=args.hed_shift)
    if args.init:
        base, meta = checkpoint.load(args.init)
        cfg = base.cfg
        if set(tasks) != set(cfg.tasks):
            # adding a task: the new column reads from the existing ones; they never read from it
            new = [t for t in tasks if t not in cfg.tasks]
            cfg = ModelConfig.from_json(cfg.to_json())
            cfg.tasks = [t for t in ("cls", "seg") if t in tasks]
            cfg.ttc_from = {t: [q for q in cfg.ttc_from.get(t, []) if q in tasks] for t in cfg.tasks}
            for t in new:
                cfg.ttc_from[t] = [q for q in cfg.tasks if q != t]
            cfg.validate()
        model = MTACNN(cfg)
        missing = model.load_state_dict(base.state_dict(), strict=False)
        spec = cfg.stain_normalisation
    else:
        cfg = ModelConfig.for_schema(args.schema, size=args.size, tasks=tasks,
                                     ttc_from={t: [q for q in tasks if q != t] for t in tasks},
                                     blank_corner=corner, source_size=source, stain_normalisation=spec)
        model = MTACNN(cfg)
        meta = {}
    if freeze:
        model.freeze(freeze)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=args.lr)
    if args.init and "optimizer" in meta and not freeze and set(tasks) == set(base.cfg.tasks):
        checkpoint.restore_adam(model, opt, meta)
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model

    training = {"data": os.path.abspath(args.data), "masks": args.masks and os.path.abspath(args.masks),
                "split_seed": args.split_seed, "seed": args.seed, "epochs": args.epochs, "batch": args.batch,
                "lr": args.lr, "lr_schedule": args.lr_schedule, "augment": aug.to_dict(), "freeze": freeze,
                "mask_threshold": args.mask_threshold, "world_size": world, "init": args.init}
    best = {"loss": float("inf"), "epoch": -1}
    stop = {"now": False}
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__("now", True))
    per_rank = max(1, args.batch // world)
    n = len(Xtr)
    t0 = time.time()
    step = 0
    for epoch in range(args.epochs):
        if args.lr_schedule == "cosine":
            for g in opt.param_groups:
                g["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * epoch / args.epochs))
        net.train()
        perm = np.random.default_rng([args.seed, epoch]).permutation(n)
        nb = n // args.batch  # drop the last partial batch (BatchNorm and equal shards across ranks)
        gen = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch * 1009 + rank)
        tl, seen, te = 0.0, 0, time.time()
        for bi in range(nb):
            if stop["now"] or (args.max_batches and bi >= args.max_batches):
                break
            idx = perm[bi * args.batch:(bi + 1) * args.batch][rank * per_rank:(rank + 1) * per_rank]
            b = make_batch(Xtr[idx], Ytr[idx], Mtr[idx], Htr[idx], spec, aug, gen)
            b = {k: v.to(device) for k, v in b.items()}
            out = net(b["x"])
            loss, parts = total_loss(out, b)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            tl += float(loss.detach()) * len(idx); seen += len(idx)
        train_s = time.time() - te
        if stop["now"] and seen == 0:
            break
        model.to("cpu")
        vl = val_loss(model, Xva, Yva, Mva, Hva, spec)
        ev = evaluate(model, Xva, Yva, Mva, Hva, spec, classes)
        model.to(device)
        rec = {"event": "epoch", "epoch": epoch + 1, "train_loss": tl / max(seen, 1), "val_loss": vl,
               "val_accuracy": ev.get("accuracy"), "val_macro_f1": ev.get("macro", {}).get("f1"),
               "val_dice": ev.get("segmentation", {}).get("dice"), "images_per_s": round(seen * world / max(train_s, 1e-9), 1),
               "elapsed_s": round(time.time() - t0, 1)}
        log(rec)
        if vl < best["loss"]:
            best = {"loss": vl, "epoch": epoch + 1, "val": ev}
            if rank == 0:
                training.update({"best_epoch": epoch + 1, "val_loss": vl, "val_accuracy": ev.get("accuracy")})
                checkpoint.save(args.out, model, training, opt, step)
        elif epoch + 1 - best["epoch"] >= args.patience:
            log({"event": "early_stop", "epoch": epoch + 1, "best_epoch": best["epoch"]})
            break
        if stop["now"]:
            log({"event": "interrupted", "saved": os.path.abspath(args.out), "best_epoch": best["epoch"]})
            break
    if ddp:
        dist.barrier()
    if rank == 0 and args.eval_shifts and best["epoch"] > 0:
        bm, _ = checkpoint.load(args.out)
        res = {}
        for sh in A.SHIFTS:
            X, Y, Mk, H = cached_arrays(args.cache, va, args.size, corner, source, args.mask_kind, args.mask_threshold, sh)
            e = evaluate(bm, X, Y, Mk, H, spec, classes)
            res[sh] = {"accuracy": e["accuracy"], "macro_f1": e["macro"]["f1"], "confusion": e["confusion"]}
        if corner is not None:
            X, Y, Mk, H = cached_arrays(args.cache, va, args.size, None, None, args.mask_kind, args.mask_threshold)
            e = evaluate(bm, X, Y, Mk, H, spec, classes)
            res["unblanked"] = {"accuracy": e["accuracy"], "macro_f1": e["macro"]["f1"]}
        else:
            X, Y, Mk, H = cached_arrays(args.cache, va, args.size, D.ARIA_CORNER, D.ARIA_SOURCE_SIZE, args.mask_kind,
                                        args.mask_threshold)
            e = evaluate(bm, X, Y, Mk, H, spec, classes)
            res["blanked"] = {"accuracy": e["accuracy"], "macro_f1": e["macro"]["f1"]}
        log({"event": "val_shifts", "best_epoch": best["epoch"], "results": res, "best_val": best.get("val")})
    if ddp:
        dist.destroy_process_group()
    return best


if __name__ == "__main__":
    main()
