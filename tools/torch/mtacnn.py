"""MTA-CNN as BlastView builds it (DESIGN §4), in PyTorch: the reference for the Swift `MTACNN` module.

The module tree is laid out so that `state_dict()` keys ARE the canonical parameter names of
`docs/checkpoint-format.md` (less BatchNorm's `num_batches_tracked`, which is not stored). Every
layer is written out by hand (no nn.TransformerEncoderLayer, no nn.MultiheadAttention) so the
names and the arithmetic are the ones the Swift engine implements.

Differences from `../shared/reference/mtacnn_torch.py`, on purpose:
- TTC units: alpha[p][p] = 1 fixed, alpha[p][q] = sigmoid(beta[p][q]) per channel (the paper's form).
  The reference learns alpha[p][p] too, so it has 2 * (c3 + c4) more parameters (384 by default).
- Which task reads from which is configuration (`ttc_from`), so a task added later can read from a
  frozen one without the frozen one reading back (DESIGN §4, incremental tasks).
- A flat softmax head for schemas without hierarchy (wbc5).
- The transformer width may differ from the last stage's channels (1x1 projections in and out).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

# Label schemas: class names in schema order; `malignant` lists the subtype classes of a
# hierarchical schema (the other class is the negative one), None for a flat schema.
SCHEMAS = {
    "all4": {"classes": ["Benign", "Early", "Pre", "Pro"], "negative": "Benign",
             "malignant": ["Early", "Pre", "Pro"]},
    "wbc5": {"classes": ["neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil"],
             "negative": None, "malignant": None},
}

DEFAULT_BETA_INIT = math.log(0.1 / 0.9)  # alpha = sigmoid(beta) = 0.1 at the start


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network; stored as JSON in the checkpoint (key `config`)."""
    schema: str = "all4"
    classes: list = field(default_factory=lambda: list(SCHEMAS["all4"]["classes"]))
    hierarchical: bool = True          # malignant logit + subtype softmax (classes[0] is the negative class)
    size: int = 128                    # input S x S; must be a multiple of 16
    channels: list = field(default_factory=lambda: [16, 32, 64, 128])
    tasks: list = field(default_factory=lambda: ["cls", "seg"])
    ttc_from: dict = field(default_factory=lambda: {"cls": ["seg"], "seg": ["cls"]})
    beta_init: float = DEFAULT_BETA_INIT
    transformer_width: int = 128       # == channels[3] means no projection layers
    transformer_depth: int = 2
    transformer_heads: int = 4
    transformer_mlp: int = 256
    decoder_channels: list = field(default_factory=lambda: [64, 32, 16, 16])
    dropout: float = 0.2               # after each pooled stage and before the class head
    transformer_dropout: float = 0.1
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    ln_eps: float = 1e-5
    # Preprocessing that prediction must repeat (data.py applies it).
    blank_corner: dict | None = None   # {"x","y","width","height","fill": "mean"} at the source resolution, or None
    source_size: list | None = None    # [w, h] of the images the blank rectangle was measured on
    stain_normalisation: dict | None = None  # {"method": "reinhard"|"macenko", ...reference stats} or None
    # Issue 17: channels of the segmentation column's own full-resolution stem (two conv-BN-ReLU on
    # the input image at S, concatenated with shared stage 1 as decoder block 4's skip), or None for
    # none. Left out of the JSON when None, so files without a stem are written as before.
    seg_stem: int | None = None

    def validate(self):
        if self.size % 16 != 0 or self.size < 16:
            raise ValueError(f"size {self.size} must be a positive multiple of 16")
        if len(self.channels) != 4 or len(self.decoder_channels) != 4:
            raise ValueError("channels and decoder_channels need 4 entries each")
        for t in self.tasks:
            if t not in ("cls", "seg"):
                raise ValueError(f"unknown task {t!r} (cls, seg)")
        for p, qs in self.ttc_from.items():
            for q in qs:
                if p not in self.tasks or q not in self.tasks or p == q:
                    raise ValueError(f"ttc_from[{p!r}] names {q!r}: both must be distinct configured tasks")
        if self.transformer_width % self.transformer_heads != 0:
            raise ValueError("transformer_width must be divisible by transformer_heads")
        if self.hierarchical and len(self.classes) < 3:
            raise ValueError("a hierarchical head needs a negative class and at least two subtypes")
        if self.seg_stem is not None:
            if not isinstance(self.seg_stem, int) or isinstance(self.seg_stem, bool) or not 1 <= self.seg_stem <= 1024:
                raise ValueError(f"seg_stem {self.seg_stem!r} must be an integer in 1...1024")
            if "seg" not in self.tasks:
                raise ValueError("seg_stem needs the seg task")
        return self

    def to_json(self) -> str:
        d = asdict(self)
        if d["seg_stem"] is None:
            del d["seg_stem"]
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        d = json.loads(text)
        known = {f for f in ModelConfig.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"model config has unknown keys {sorted(unknown)}")
        return ModelConfig(**d).validate()

    @staticmethod
    def for_schema(schema: str, **kw) -> "ModelConfig":
        s = SCHEMAS[schema]
        return ModelConfig(schema=schema, classes=list(s["classes"]), hierarchical=s["malignant"] is not None,
                           **kw).validate()


# ---------------------------------------------------------------------------------------------
# Layers


def conv_bn(cin, cout, cfg: ModelConfig):
    """3x3 conv (no bias, padding 1) then BatchNorm, as nn.Sequential: names <.0.weight> (conv) and
    <.1.{weight,bias,running_mean,running_var}> (bn); ReLU is applied by the caller."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                         nn.BatchNorm2d(cout, eps=cfg.bn_eps, momentum=cfg.bn_momentum))


def conv_bn_relu_twice(seq, x):
    for m in seq:
        x = F.relu(m(x))
    return x


class Stage(nn.Module):
    """Two conv-BN-ReLU (block.0, block.1), then 2x2 max-pool and dropout.
    Returns (pre-pool features, pooled features)."""

    def __init__(self, cin, cout, cfg: ModelConfig):
        super().__init__()
        self.block = nn.Sequential(conv_bn(cin, cout, cfg), conv_bn(cout, cout, cfg))
        self.p = cfg.dropout

    def forward(self, x):
        f = conv_bn_relu_twice(self.block, x)
        return f, F.dropout(F.max_pool2d(f, 2), self.p, self.training)


class TTC(nn.Module):
    """Task-to-task connection for one task at one level: x_p + sum_q sigmoid(beta_q) * x_q, per channel.
    Parameters: from_<q>.beta, shape [C]."""

    def __init__(self, sources, channels, beta_init):
        super().__init__()
        self.sources = list(sources)
        for q in self.sources:
            self.add_module("from_" + q, _Beta(channels, beta_init))

    def forward(self, own, others: dict):
        y = own
        for q in self.sources:
            y = y + torch.sigmoid(getattr(self, "from_" + q).beta).view(1, -1, 1, 1) * others[q]
        return y


class _Beta(nn.Module):
    def __init__(self, channels, beta_init):
        super().__init__()
        self.beta = nn.Parameter(torch.full((channels,), float(beta_init)))


class Attention(nn.Module):
    """Multi-head self-attention as PyTorch's nn.MultiheadAttention: in_proj_weight [3D, D] (q, k, v
    stacked), in_proj_bias [3D]; heads are contiguous slices of D; softmax(q k^T / sqrt(D/H)) with
    dropout on the weights; out_proj [D, D]."""

    def __init__(self, d, heads, p):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d, d))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = nn.Linear(d, d)
        nn.init.zeros_(self.out_proj.bias)
        self.heads, self.p = heads, p

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(d, dim=-1)
        q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))
        w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        w = F.dropout(w, self.p, self.training)
        return self.out_proj((w @ v).transpose(1, 2).reshape(b, n, d))


class TransformerLayer(nn.Module):
    """Pre-norm, as nn.TransformerEncoderLayer(norm_first=True, activation="gelu"):
    x += drop(self_attn(norm1(x))); x += drop(linear2(drop(gelu(linear1(norm2(x))))))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        d = cfg.transformer_width
        self.norm1 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.self_attn = Attention(d, cfg.transformer_heads, cfg.transformer_dropout)
        self.norm2 = nn.LayerNorm(d, eps=cfg.ln_eps)
        self.linear1 = nn.Linear(d, cfg.transformer_mlp)
        self.linear2 = nn.Linear(cfg.transformer_mlp, d)
        self.p = cfg.transformer_dropout

    def forward(self, x):
        x = x + F.dropout(self.self_attn(self.norm1(x)), self.p, self.training)
        y = self.linear2(F.dropout(F.gelu(self.linear1(self.norm2(x))), self.p, self.training))
        return x + F.dropout(y, self.p, self.training)


class Bottleneck(nn.Module):
    """Tokens of the S/16 map (row-major, token = y * W + x) [+ proj_in] + pos [1, N, D] ->
    enc.layers.* -> norm [-> proj_out] -> map."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c, d = cfg.channels[3], cfg.transformer_width
        n = (cfg.size // 16) ** 2
        if d != c:
            self.proj_in = nn.Linear(c, d)
            self.proj_out = nn.Linear(d, c)
        self.pos = nn.Parameter(torch.zeros(1, n, d))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.enc = nn.Module()
        self.enc.layers = nn.ModuleList([TransformerLayer(cfg) for _ in range(cfg.transformer_depth)])
        self.norm = nn.LayerNorm(d, eps=cfg.ln_eps)

    def forward(self, x):
        b, c, h, w = x.shape
        t = x.flatten(2).transpose(1, 2)
        if hasattr(self, "proj_in"):
            t = self.proj_in(t)
        t = t + self.pos
        for layer in self.enc.layers:
            t = layer(t)
        t = self.norm(t)
        if hasattr(self, "proj_out"):
            t = self.proj_out(t)
        return t.transpose(1, 2).reshape(b, c, h, w)


class DecoderBlock(nn.Module):
    """Bilinear x2 (align_corners=True), concatenate [upsampled, skip] on channels, two conv-BN-ReLU
    (conv.0, conv.1)."""

    def __init__(self, cin, cskip, cout, cfg):
        super().__init__()
        self.conv = nn.Sequential(conv_bn(cin + cskip, cout, cfg), conv_bn(cout, cout, cfg))

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return conv_bn_relu_twice(self.conv, torch.cat([x, skip], 1))


class ClsColumn(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2, c3, c4 = cfg.channels
        self.stage3, self.stage4 = Stage(c2, c3, cfg), Stage(c3, c4, cfg)
        srcs = cfg.ttc_from.get("cls", [])
        self.ttc3, self.ttc4 = TTC(srcs, c3, cfg.beta_init), TTC(srcs, c4, cfg.beta_init)
        self.head = nn.Module()
        k = len(cfg.classes)
        if cfg.hierarchical:
            self.head.malignant = nn.Linear(c4, 1)
            self.head.subtype = nn.Linear(c4, k - 1)
        else:
            self.head.logits = nn.Linear(c4, k)
        self.hierarchical, self.p = cfg.hierarchical, cfg.dropout

    def classify(self, x):
        """Log-probabilities [B, K] in schema order."""
        g = F.dropout(x.mean((2, 3)), self.p, self.training)
        if self.hierarchical:
            m = self.head.malignant(g)
            return torch.cat([F.logsigmoid(-m), F.logsigmoid(m) + F.log_softmax(self.head.subtype(g), 1)], 1)
        return F.log_softmax(self.head.logits(g), 1)


class SegColumn(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        c1, c2, c3, c4 = cfg.channels
        d1, d2, d3, d4 = cfg.decoder_channels
        self.stage3, self.stage4 = Stage(c2, c3, cfg), Stage(c3, c4, cfg)
        srcs = cfg.ttc_from.get("seg", [])
        self.ttc3, self.ttc4 = TTC(srcs, c3, cfg.beta_init), TTC(srcs, c4, cfg.beta_init)
        self.bottleneck = Bottleneck(cfg)
        self.decoder = nn.Module()
        self.decoder.block1 = DecoderBlock(c4, c4, d1, cfg)  # S/16 -> S/8, skip seg stage 4 (pre-pool)
        self.decoder.block2 = DecoderBlock(d1, c3, d2, cfg)  # S/8 -> S/4, skip seg stage 3
        self.decoder.block3 = DecoderBlock(d2, c2, d3, cfg)  # S/4 -> S/2, skip shared stage 2
        # S/2 -> S, skip shared stage 1 (and, with a stem, the stem's features after it)
        c0 = cfg.seg_stem or 0
        self.decoder.block4 = DecoderBlock(d3, c1 + c0, d4, cfg)
        self.out = nn.Conv2d(d4, 1, 1)
        if c0:
            # the segmentation column's own full-resolution features (issue 17): in the paper's
            # order the shared encoder is frozen with classification's colour-invariant features,
            # so the decoder's only full-resolution skip was not trained for nuclei
            self.stem = nn.Module()
            self.stem.block = nn.Sequential(conv_bn(3, c0, cfg), conv_bn(c0, c0, cfg))


class MTACNN(nn.Module):
    """forward(x [B,3,S,S] in [0,1]) -> dict(cls=log-probs [B,K], seg=logits [B,1,S,S]) for configured tasks."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg.validate()
        c1, c2, c3, c4 = cfg.channels
        self.encoder = nn.Module()
        self.encoder.stage1 = Stage(3, c1, cfg)
        self.encoder.stage2 = Stage(c1, c2, cfg)
        if "cls" in cfg.tasks:
            self.cls = ClsColumn(cfg)
        if "seg" in cfg.tasks:
            self.seg = SegColumn(cfg)
        self.frozen: set = set()

    def columns(self):
        return {t: getattr(self, t) for t in self.cfg.tasks}

    def forward(self, x, need=None):
        need = set(need or self.cfg.tasks)
        image = x
        f1, x = self.encoder.stage1(x)
        f2, x = self.encoder.stage2(x)
        cols = self.columns()
        pre3, out3 = {}, {}
        for t, col in cols.items():
            pre3[t], out3[t] = col.stage3(x)
        mixed3 = {t: cols[t].ttc3(out3[t], out3) for t in cols}
        pre4, out4 = {}, {}
        for t, col in cols.items():
            pre4[t], out4[t] = col.stage4(mixed3[t])
        mixed4 = {t: cols[t].ttc4(out4[t], out4) for t in cols}
        result = {}
        if "cls" in cols and "cls" in need:
            result["cls"] = self.cls.classify(mixed4["cls"])
        if "seg" in cols and "seg" in need:
            s = self.seg
            y = s.bottleneck(mixed4["seg"])
            y = s.decoder.block1(y, pre4["seg"])
            y = s.decoder.block2(y, pre3["seg"])
            y = s.decoder.block3(y, f2)
            if hasattr(s, "stem"):
                y = s.decoder.block4(y, torch.cat([f1, conv_bn_relu_twice(s.stem.block, image)], 1))
            else:
                y = s.decoder.block4(y, f1)
            result["seg"] = s.out(y)
        return result

    # -- freezing (DESIGN §4) -------------------------------------------------------------
    def dependencies(self, task):
        """Tasks whose column stages/betas feed `task`'s output (transitively, itself included)."""
        seen, todo = set(), [task]
        while todo:
            t = todo.pop()
            if t in seen:
                continue
            seen.add(t)
            todo.extend(self.cfg.ttc_from.get(t, []))
        return seen

    def frozen_parameter_names(self, frozen_tasks):
        """Names of every tensor a frozen task's output depends on: the shared encoder, the frozen
        task's column, head and betas, and the encoder stages and betas of every task it reads from
        (transitively). Training anything else leaves the frozen tasks' outputs bit-identical."""
        if not frozen_tasks:
            return set()
        names = {n for n, _ in self.named_parameters() if n.startswith("encoder.")}
        names |= {n for n, _ in self.named_buffers() if n.startswith("encoder.")}
        for ft in frozen_tasks:
            if ft not in self.cfg.tasks:
                raise ValueError(f"cannot freeze {ft!r}: the model has tasks {self.cfg.tasks}")
            for t in self.dependencies(ft):
                # a task's encoder part: stage3, stage4, ttc3, ttc4; the frozen task itself: all of it
                whole = t == ft
                for n, _ in list(self.named_parameters()) + list(self.named_buffers()):
                    if not n.startswith(t + "."):
                        continue
                    part = n.split(".")[1]
                    if whole or part in ("stage3", "stage4", "ttc3", "ttc4"):
                        names.add(n)
        return names

    def freeze(self, frozen_tasks):
        """requires_grad=False on the frozen set; those modules run in eval mode (train() keeps them so)."""
        self.frozen = set(frozen_tasks)
        names = self.frozen_parameter_names(self.frozen)
        for n, p in self.named_parameters():
            p.requires_grad_(n not in names)
        self._frozen_names = names
        return names

    def train(self, mode=True):
        super().train(mode)
        names = getattr(self, "_frozen_names", set())
        if mode and names:
            # a module whose parameters are all frozen runs in eval mode: BN statistics stay put and
            # dropout is off, so frozen features are a fixed function of the input
            for mn, m in self.named_modules():
                own = [mn + "." + pn if mn else pn for pn, _ in m.named_parameters(recurse=True)]
                own += [mn + "." + bn if mn else bn for bn, _ in m.named_buffers(recurse=True)]
                if own and all(o in names for o in own):
                    m.eval()
            # stage dropout lives in Stage.forward; a frozen Stage is in eval mode via the loop above
        return self


# ---------------------------------------------------------------------------------------------
# Losses


def classification_loss(logp, target, has_label=None):
    """Mean negative log-likelihood of the schema's probabilities over labelled samples."""
    nll = -logp.gather(1, target.clamp(min=0).view(-1, 1)).squeeze(1)
    if has_label is None:
        return nll.mean()
    w = has_label.float()
    return (nll * w).sum() / w.sum().clamp(min=1.0)


def focal_loss(logits, target, has_mask=None, gamma=2.0):
    """Class-weighted binary focal loss, DESIGN §4: a = N_b / N_f over the batch's masked pixels
    (a = 1 if the batch has no foreground), FL = -[a y (1-p)^g log p + (1-y) p^g log(1-p)], mean over
    the masked samples' pixels."""
    if has_mask is not None:
        keep = has_mask.bool()
        if not keep.any():
            return logits.sum() * 0.0
        logits, target = logits[keep], target[keep]
    nf = target.sum()
    nb = target.numel() - nf
    a = (nb / nf).detach() if nf > 0 else torch.tensor(1.0)
    logp, log1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = logp.exp()
    loss = -(a * target * (1 - p) ** gamma * logp + (1 - target) * p ** gamma * log1mp)
    return loss.mean()


def dice_bce_loss(logits, target, has_mask=None, weight=None, smooth=1.0):
    """Issue 17's boundary-aware mask loss: per image i, the binary cross-entropy averaged over its
    pixels plus the soft Dice loss 1 - (2 sum p y + s) / (sum p + sum y + s), p = sigmoid(z), s = 1;
    averaged over the masked images with weights w_i (`weight`, e.g. expert masks above weak ones;
    default 1): sum_i w_i (bce_i + dice_i) / sum_i w_i."""
    b = logits.shape[0]
    w = torch.ones(b, dtype=logits.dtype) if weight is None else weight.to(logits.dtype)
    if has_mask is not None:
        w = w * has_mask.to(logits.dtype)
    if not (w.sum() > 0):
        return logits.sum() * 0.0
    z, y = logits.reshape(b, -1), target.reshape(b, -1)
    bce = F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(1)
    p = torch.sigmoid(z)
    dice = 1 - (2 * (p * y).sum(1) + smooth) / (p.sum(1) + y.sum(1) + smooth)
    return ((bce + dice) * w).sum() / w.sum()


def total_loss(out, batch, lam=1.0, mask_loss="focal"):
    """cls + lam * mask; the mask part is the focal loss (DESIGN §4) or, with mask_loss="dice_bce",
    `dice_bce_loss` weighted by batch["mask_weight"] when given."""
    parts = {}
    loss = 0.0
    if "cls" in out and batch["has_label"].any():
        parts["cls"] = classification_loss(out["cls"], batch["label"], batch["has_label"])
        loss = loss + parts["cls"]
    if "seg" in out and batch["has_mask"].any() and mask_loss == "dice_bce":
        parts["seg"] = dice_bce_loss(out["seg"], batch["mask"], batch["has_mask"], batch.get("mask_weight"))
        loss = loss + lam * parts["seg"]
    elif "seg" in out and batch["has_mask"].any():
        if mask_loss != "focal":
            raise ValueError(f"mask_loss {mask_loss!r}: focal or dice_bce")
        parts["seg"] = focal_loss(out["seg"], batch["mask"], batch["has_mask"])
        loss = loss + lam * parts["seg"]
    return loss, parts


# ---------------------------------------------------------------------------------------------
# Size


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def flops(model, size=None, batch=1):
    """FLOPs of one forward pass (2 per multiply-add), by torch.utils.flop_counter:
    returns (total, convolution only)."""
    from torch.utils.flop_counter import FlopCounterMode
    size = size or model.cfg.size
    was = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(batch, 3, size, size))
    model.train(was)
    counts = fc.get_flop_counts()["Global"]
    conv = sum(v for k, v in counts.items() if "convolution" in str(k))
    return fc.get_total_flops(), conv


def clone_config(cfg: ModelConfig, **changes) -> ModelConfig:
    c = copy.deepcopy(cfg)
    for k, v in changes.items():
        setattr(c, k, v)
    return c.validate()
