"""Tests of the PyTorch reference (run: /work/venv/bin/python -m unittest discover -s tools/torch -p 'test_*.py').

CI does not run these (CI needs no torch); they guard the reference the Swift parity fixtures come from.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import augment as A  # noqa: E402
import checkpoint  # noqa: E402
import data as D  # noqa: E402
from mtacnn import MTACNN, ModelConfig, focal_loss, parameter_count, flops  # noqa: E402



def _shared(rel):
    """../shared beside the repo (main checkout, CI) or ../../shared (a worktree under wt/)."""
    for up in ("../../../shared", "../../../../shared"):
        p = os.path.normpath(os.path.join(HERE, up, rel))
        if os.path.exists(p):
            return p
    return os.path.normpath(os.path.join(HERE, "../../../shared", rel))


REFERENCE = os.environ.get("MTACNN_REFERENCE", _shared("reference/mtacnn_torch.py"))
torch.set_num_threads(1)


def reference_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("mtacnn_reference", REFERENCE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def copy_from_reference(ours, ref):
    """Map the shared reference's weights onto our names; its TTC self-weights are set to alpha = 1.
    Our names are the reference's with new prefixes (and per-source TTC betas)."""
    r = ref.state_dict()
    prefix = {"s1.": "encoder.stage1.", "s2.": "encoder.stage2.", "cls3.": "cls.stage3.", "cls4.": "cls.stage4.",
              "seg3.": "seg.stage3.", "seg4.": "seg.stage4.", "head_malig.": "cls.head.malignant.",
              "head_sub.": "cls.head.subtype.", "bottleneck.": "seg.bottleneck.", "d4.": "seg.decoder.block1.",
              "d3.": "seg.decoder.block2.", "d2.": "seg.decoder.block3.", "d1.": "seg.decoder.block4.",
              "seg_out.": "seg.out."}
    o = {}
    for k, v in r.items():
        if k.startswith("xs"):
            continue
        src = next(p for p in prefix if k.startswith(p))
        o[prefix[src] + k[len(src):]] = v
    for lvl in (3, 4):
        beta = r[f"xs{lvl}.beta"]  # (C, 2, 2): [p][q], p = 0 cls, 1 seg
        o[f"cls.ttc{lvl}.from_seg.beta"] = beta[:, 0, 1]
        o[f"seg.ttc{lvl}.from_cls.beta"] = beta[:, 1, 0]
    missing, unexpected = ours.load_state_dict(o, strict=False)
    assert not unexpected and all(m.endswith("num_batches_tracked") for m in missing), (missing, unexpected)


class ReferenceNetwork(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(REFERENCE), "shared reference network not present")
    def test_same_function_as_shared_reference_with_self_alpha_one(self):
        ref_mod = reference_module()
        torch.manual_seed(0)
        ref = ref_mod.MTACNN(img_size=64)
        with torch.no_grad():
            for lvl in (ref.xs3, ref.xs4):
                lvl.beta[:, 0, 0] = math.inf
                lvl.beta[:, 1, 1] = math.inf
                lvl.beta[:, 0, 1].uniform_(-3, 1)
                lvl.beta[:, 1, 0].uniform_(-3, 1)
            for m in ref.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2); m.running_var.uniform_(0.5, 1.5)
                    m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.2, 0.2)
        ours = MTACNN(ModelConfig(size=64))
        copy_from_reference(ours, ref)
        ref.eval(); ours.eval()
        x = torch.rand(2, 3, 64, 64)
        with torch.no_grad():
            logp_r, seg_r = ref(x)
            out = ours(x)
        torch.testing.assert_close(out["cls"], logp_r, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out["seg"], seg_r, atol=1e-4, rtol=1e-4)

    @unittest.skipUnless(os.path.exists(REFERENCE), "shared reference network not present")
    def test_size_matches_reference_less_the_fixed_self_alphas(self):
        ref = reference_module().MTACNN(img_size=224)
        ours = MTACNN(ModelConfig(size=224))
        self.assertEqual(parameter_count(ours), parameter_count(ref) - 2 * (64 + 128))
        self.assertEqual(parameter_count(ours), 1_111_813)
        total, conv = flops(ours)
        self.assertEqual(conv, 3_570_925_568)
        self.assertEqual(total, 3_713_025_024)

    def test_flat_head_and_projection(self):
        cfg = ModelConfig.for_schema("wbc5", size=32, transformer_width=48, transformer_heads=4)
        m = MTACNN(cfg).eval()
        out = m(torch.rand(3, 3, 32, 32))
        self.assertEqual(tuple(out["cls"].shape), (3, 5))
        torch.testing.assert_close(out["cls"].exp().sum(1), torch.ones(3))
        self.assertIn("seg.bottleneck.proj_in.weight", m.state_dict())
        self.assertEqual(tuple(m.state_dict()["seg.bottleneck.pos"].shape), (4, 48)[:0] + (1, 4, 48))

    def test_hierarchical_probabilities(self):
        m = MTACNN(ModelConfig(size=32)).eval()
        with torch.no_grad():
            m.cls.head.malignant.bias.fill_(3.0)
            p = m(torch.rand(2, 3, 32, 32))["cls"].exp()
        torch.testing.assert_close(p.sum(1), torch.ones(2))
        # P(Benign) = 1 - sigmoid(m), here m = 3 + w.g with w random small
        self.assertTrue(bool((p[:, 0] < 0.2).all()))


class Checkpoints(unittest.TestCase):
    def test_round_trip_with_adam_state(self):
        m = MTACNN(ModelConfig(size=32))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        b = {"label": torch.tensor([0, 2]), "has_label": torch.ones(2, dtype=torch.bool),
             "mask": (torch.rand(2, 1, 32, 32) > 0.7).float(), "has_mask": torch.ones(2, dtype=torch.bool)}
        from mtacnn import total_loss
        loss, _ = total_loss(m(torch.rand(2, 3, 32, 32)), b)
        loss.backward(); opt.step()
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            checkpoint.save(p, m, {"note": "test"}, opt)
            m2, meta = checkpoint.load(p)
            for (n, a), (n2, b2) in zip(m.state_dict().items(), m2.state_dict().items()):
                self.assertEqual(n, n2)
                if not n.endswith("num_batches_tracked"):
                    self.assertTrue(torch.equal(a, b2), n)
            opt2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
            self.assertEqual(checkpoint.restore_adam(m2, opt2, meta), 1)
            self.assertEqual(len(opt2.state), len(list(m.parameters())))

    def test_rejects_wrong_shape(self):
        from safetensors.torch import save_file
        m = MTACNN(ModelConfig(size=32))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            checkpoint.save(p, m)
            meta, t = checkpoint.read(p)
            t["cls.head.subtype.bias"] = torch.zeros(4)
            save_file(t, p, metadata=meta)
            with self.assertRaisesRegex(checkpoint.CheckpointError, "cls.head.subtype.bias"):
                checkpoint.load(p)


class Freezing(unittest.TestCase):
    def _train_steps(self, m, steps=3):
        from mtacnn import total_loss
        opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2)
        g = torch.Generator().manual_seed(1)
        for _ in range(steps):
            m.train()
            x = torch.rand(4, 3, 32, 32, generator=g)
            b = {"label": torch.tensor([0, 1, 2, 3]), "has_label": torch.ones(4, dtype=torch.bool),
                 "mask": (torch.rand(4, 1, 32, 32, generator=g) > 0.7).float(), "has_mask": torch.ones(4, dtype=torch.bool)}
            loss, _ = total_loss(m(x), b)
            opt.zero_grad(); loss.backward(); opt.step()

    def check(self, cfg, frozen, other):
        torch.manual_seed(0)
        m = MTACNN(cfg)
        self._train_steps(m, 1)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(5))
        m.eval()
        with torch.no_grad():
            out0 = m(x)[frozen].clone(), m(x)[other].clone()
        names = m.freeze([frozen])
        self._train_steps(m, 3)
        after = m.state_dict()
        for n in names:
            self.assertTrue(torch.equal(before[n], after[n]), n)
        m.eval()
        with torch.no_grad():
            out1 = m(x)
        self.assertTrue(torch.equal(out0[0], out1[frozen]))
        self.assertFalse(torch.equal(out0[1], out1[other]))
        return names

    def test_freeze_cls_sequential(self):
        # the paper's procedure: cls trained first; seg added reading from cls, cls never reads seg
        cfg = ModelConfig(size=32, ttc_from={"cls": [], "seg": ["cls"]})
        names = self.check(cfg, "cls", "seg")
        self.assertNotIn("seg.stage3.block.0.0.weight", names)

    def test_freeze_seg_joint(self):
        # joint model: seg reads cls, so freezing seg also freezes the cls stages and betas it reads
        names = self.check(ModelConfig(size=32), "seg", "cls")
        self.assertIn("cls.stage3.block.0.0.weight", names)
        self.assertNotIn("cls.head.subtype.weight", names)

    def test_freeze_seg_keeps_its_stem(self):
        # issue 17: the stem belongs to the seg task (frozen with it, not with the columns it reads)
        cfg = ModelConfig(size=32, ttc_from={"cls": ["seg"], "seg": []}, seg_stem=4)
        names = self.check(cfg, "seg", "cls")
        self.assertIn("seg.stem.block.0.0.weight", names)
        cfg = ModelConfig(size=32, ttc_from={"cls": [], "seg": ["cls"]}, seg_stem=4)
        self.assertNotIn("seg.stem.block.0.0.weight", self.check(cfg, "cls", "seg"))


class SegmentationColumn(unittest.TestCase):
    """Issue 17: the optional stem and the Dice + BCE loss."""

    def test_config_without_stem_is_written_as_before(self):
        self.assertNotIn("seg_stem", ModelConfig().to_json())
        self.assertEqual(ModelConfig.from_json(ModelConfig().to_json()).seg_stem, None)
        self.assertEqual(json.loads(ModelConfig(seg_stem=8).to_json())["seg_stem"], 8)
        with self.assertRaises(ValueError):
            ModelConfig(tasks=["cls"], ttc_from={"cls": []}, seg_stem=8).validate()

    def test_stem_widens_block4_and_changes_only_the_mask(self):
        torch.manual_seed(0)
        m = MTACNN(ModelConfig(size=32, seg_stem=5)).eval()
        self.assertEqual(tuple(m.seg.decoder.block4.conv[0][0].weight.shape), (16, 16 + 16 + 5, 3, 3))  # d4, d3 + c1 + c0
        x = torch.rand(2, 3, 32, 32)
        with torch.no_grad():
            a = m(x)
            m.seg.stem.block[0][0].weight.add_(0.1)
            b = m(x)
        self.assertTrue(torch.equal(a["cls"], b["cls"]))
        self.assertFalse(torch.equal(a["seg"], b["seg"]))

    def test_dice_bce_against_its_definition(self):
        from mtacnn import dice_bce_loss
        g = torch.Generator().manual_seed(3)
        z = torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)
        y = (torch.rand(3, 1, 4, 4, generator=g) > 0.6).double()
        w = torch.tensor([2.0, 5.0, 0.5], dtype=torch.float64)
        has = torch.tensor([True, False, True])
        got = dice_bce_loss(z, y, has, w)
        want, ws = 0.0, 0.0
        for i in (0, 2):
            p = 1 / (1 + np.exp(-z[i].numpy().ravel()))
            t = y[i].numpy().ravel()
            bce = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
            dice = 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
            want += w[i].item() * (bce + dice)
            ws += w[i].item()
        self.assertAlmostEqual(got.item(), want / ws, places=10)


class DataAndAugment(unittest.TestCase):
    def test_split_counts_and_order(self):
        self.assertEqual(D.split_counts(428), (342, 43, 43))
        self.assertEqual(D.split_counts(5), (3, 1, 1))
        self.assertEqual(D.split_counts(4), (4, 0, 0))
        items = [D.Item(path="", rel=f"A/{i}", label=i % 2, digest=bytes([i]) * 32) for i in range(40)]
        D.assign_split(items, 7)
        self.assertEqual(sum(it.split == "test" for it in items), 4)
        again = [D.Item(path="", rel=f"A/{i}", label=i % 2, digest=bytes([i]) * 32) for i in reversed(range(40))]
        D.assign_split(again, 7)
        self.assertEqual({it.rel: it.split for it in items}, {it.rel: it.split for it in again})

    def test_hue_inverse(self):
        rng = np.random.default_rng(0)
        img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        back = A.colour_shift_u8(A.colour_shift_u8(img, "hue:+10"), "hue:-10")
        self.assertLessEqual(int(np.abs(back.astype(int) - img).max()), 2)

    def test_hed_identity(self):
        x = torch.rand(2, 3, 8, 8) * 0.9 + 0.05
        y = A.hed_jitter(x, torch.ones(2, 3), torch.zeros(2, 3))
        torch.testing.assert_close(y, x, atol=1e-5, rtol=0)

    def test_augment_deterministic(self):
        cfg = A.AugmentConfig(hue_deg=15, saturation=0.3, brightness=0.1, contrast=0.1, gray_p=0.5,
                              hed_scale=0.1, hed_shift=0.1)
        x = torch.rand(4, 3, 16, 16)
        a, _ = A.augment(x, None, cfg, torch.Generator().manual_seed(3))
        b, _ = A.augment(x, None, cfg, torch.Generator().manual_seed(3))
        c, _ = A.augment(x, None, cfg, torch.Generator().manual_seed(4))
        self.assertTrue(torch.equal(a, b))
        self.assertFalse(torch.equal(a, c))

    def test_reinhard_reference_maps_to_itself(self):
        rng = np.random.default_rng(1)
        x = rng.uniform(0.2, 0.9, (12, 12, 3))
        ref = A.reinhard_stats(x)
        np.testing.assert_allclose(A.reinhard(x, ref), x, atol=1e-6)

    def test_macenko_reference_maps_to_itself(self):
        rng = np.random.default_rng(2)
        stains = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]])
        stains /= np.linalg.norm(stains, axis=1, keepdims=True)
        conc = rng.uniform(0.0, 1.5, (2, 400))
        x = np.exp(-(stains.T @ conc)).T.reshape(20, 20, 3)
        s, cmax = A.macenko_stains(x)
        y = A.macenko(x, {"stains": s.tolist(), "max_conc": cmax.tolist()})
        np.testing.assert_allclose(y, x, atol=1e-6)

    def test_focal_weight_is_background_over_foreground(self):
        logits = torch.zeros(1, 1, 2, 2)
        target = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
        # p = 0.5 everywhere: a = 3; loss = mean(-[3 * 0.25 * ln .5] once, -[0.25 ln .5] three times)
        expected = -(3 * 0.25 * math.log(0.5) + 3 * 0.25 * math.log(0.5)) / 4
        self.assertAlmostEqual(float(focal_loss(logits, target)), expected, places=6)

    def test_blank_fills_mean_of_rest(self):
        img = np.zeros((224, 224, 3), np.uint8)
        img[:100] = 10
        img[100:] = 30
        out = D.blank(img, D.ARIA_CORNER, D.ARIA_SOURCE_SIZE)
        rest = np.ones((224, 224), bool); rest[188:, 188:] = False
        mean = img[rest].astype(float).mean(0)
        self.assertTrue((out[188:, 188:] == np.floor(mean + 0.5).astype(np.uint8)).all())
        self.assertTrue((out[rest] == img[rest]).all())

    def test_area_resize_of_constant_and_average(self):
        img = np.full((224, 224, 3), 77, np.uint8)
        self.assertTrue((D.resize_rgb(img, 128) == 77).all())
        img = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
        self.assertEqual(D.resize_rgb(img, 2)[0, 0].tolist(), np.floor(img[:2, :2].reshape(-1, 3).mean(0) + 0.5).tolist())


class Torchrun(unittest.TestCase):
    @unittest.skipIf(os.environ.get("SKIP_TORCHRUN"), "SKIP_TORCHRUN set")
    def test_torchrun_one_process_gloo(self):
        from PIL import Image
        with tempfile.TemporaryDirectory() as d:
            rng = np.random.default_rng(0)
            for c in ("Benign", "Early", "Pre", "Pro"):
                os.makedirs(os.path.join(d, "data", c))
                for i in range(10):
                    Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
                        os.path.join(d, "data", c, f"{i}.png"))
            out = os.path.join(d, "m.safetensors")
            torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
            r = subprocess.run([torchrun, "--nproc_per_node=1", os.path.join(HERE, "train.py"), "--data",
                                os.path.join(d, "data"), "--out", out, "--size", "32", "--epochs", "2", "--batch", "8",
                                "--tasks", "cls", "--blank-corner", "off", "--threads", "1"],
                               capture_output=True, text=True, timeout=600,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            self.assertIn('"event": "epoch"', r.stdout)
            m, meta = checkpoint.load(out)
            self.assertIn("optimizer", meta)


if __name__ == "__main__":
    unittest.main()
