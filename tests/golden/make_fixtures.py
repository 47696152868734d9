#!/usr/bin/python3
"""Regenerates the golden fixtures of tests/test_golden.c with PyTorch.

    /usr/bin/python3 tests/golden/make_fixtures.py      # from the repository root

Every fixture is a small safetensors file in tests/golden/ holding the inputs,
weights, outputs and gradients of one op family.  Inputs are drawn in float32
(seeded) and everything is then computed in float64, so the stored references
are the exact results for float32 inputs, rounded once to float32.  Each file's
__metadata__ lists its cases ("cases": "a,b,c") and each case's arguments
("<case>.stride": "2", ...); tensor names are "<case>.<tensor>".

Gradients come from loss = sum(out * R) with a fixed random R of out's shape,
so every output element gets a distinct weight (cross-entropy: the loss itself).
"""
import importlib.util
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import st
from torch_presets import BasicBlock, EncoderBlock, ResNet8, Transformer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def f32(*shape, scale=1.0):
    """float32-representable random values, held in float64."""
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def np32(t):
    return t.detach().to(torch.float32).numpy()


class Fixture:
    def __init__(self, name):
        self.name, self.tensors, self.meta, self.cases = name, [], {}, []

    def case(self, case, args, **tensors):
        self.cases.append(case)
        for k, v in args.items():
            self.meta[f"{case}.{k}"] = str(v)
        for k, v in tensors.items():
            self.tensors.append((f"{case}.{k}", np32(v)))

    def save(self):
        self.meta["cases"] = ",".join(self.cases)
        self.meta["generator"] = f"tests/golden/make_fixtures.py, torch {torch.__version__}"
        st.write(os.path.join(HERE, self.name + ".safetensors"), self.tensors, self.meta)


def conv2d():
    fx = Fixture("conv2d")
    # case: x shape, w shape, stride, padding
    for case, xs, ws, s, p in [("s1p1", (2, 3, 7, 6), (4, 3, 3, 3), 1, 1),
                               ("s2p1", (2, 3, 8, 9), (5, 3, 3, 3), 2, 1),
                               ("k5p2", (1, 2, 9, 9), (3, 2, 5, 5), 1, 2),
                               ("s2p0", (3, 3, 7, 8), (2, 3, 3, 3), 2, 0),
                               ("c1o1", (2, 1, 5, 5), (1, 1, 2, 2), 1, 0)]:
        x, w, b = leaf(f32(*xs)), leaf(f32(*ws, scale=0.5)), leaf(f32(ws[0]))
        y = F.conv2d(x, w, b, stride=s, padding=p)
        r = f32(*y.shape)
        (y * r).sum().backward()
        fx.case(case, {"stride": s, "pad": p}, x=x, w=w, b=b, y=y, R=r, dx=x.grad, dw=w.grad, db=b.grad)
    fx.save()


def pool():
    fx = Fixture("pool")
    for kind in ("max", "avg"):
        for case, xs, k, s in [("k2s2", (2, 3, 6, 6), 2, 2),
                               ("k3s2", (2, 2, 7, 7), 3, 2),
                               ("k2s2odd", (1, 2, 5, 7), 2, 2),
                               ("k3s1", (1, 1, 5, 6), 3, 1)]:
            x = leaf(f32(*xs))
            fn = F.max_pool2d if kind == "max" else F.avg_pool2d
            y = fn(x, k, s)
            r = f32(*y.shape)
            (y * r).sum().backward()
            fx.case(f"{kind}_{case}", {"op": kind, "k": k, "stride": s}, x=x, y=y, R=r, dx=x.grad)
    fx.save()


def lstm():
    fx = Fixture("lstm")
    for case, B, T, D, H, wscale in [("d3h4", 2, 5, 3, 4, 1.0), ("d5h3", 3, 7, 5, 3, 3.0)]:
        m = torch.nn.LSTM(D, H, batch_first=True)
        with torch.no_grad():  # float32-representable weights (torch init, scaled)
            for p in m.parameters():
                p.copy_((p * wscale).float().double())
        x = leaf(f32(B, T, D))
        y, _ = m(x)
        r = f32(*y.shape)
        (y * r).sum().backward()
        fx.case(case, {"B": B, "T": T, "D": D, "H": H},
                x=x, w_ih=m.weight_ih_l0, w_hh=m.weight_hh_l0, b_ih=m.bias_ih_l0, b_hh=m.bias_hh_l0,
                y=y, R=r, dx=x.grad, dw_ih=m.weight_ih_l0.grad, dw_hh=m.weight_hh_l0.grad,
                db_ih=m.bias_ih_l0.grad, db_hh=m.bias_hh_l0.grad)
    fx.save()


def cross_entropy():
    fx = Fixture("cross_entropy")
    for case, rows, k, scale in [("r6k5", 6, 5, 3.0), ("r4k10big", 4, 10, 40.0), ("r1k2", 1, 2, 1.0)]:
        z = leaf(f32(rows, k, scale=scale))
        labels = torch.randint(0, k, (rows,))
        loss = F.cross_entropy(z, labels)  # mean over rows
        loss.backward()
        fx.case(case, {"rows": rows, "classes": k},
                logits=z, labels=labels.double(), loss=loss.reshape(1), dlogits=z.grad)
    fx.save()


def optim():
    """Three steps of each optimizer on the same params with fixed gradients g0..g2."""
    fx = Fixture("optim")
    n = 37
    w0 = f32(n, scale=0.5)
    grads = [f32(n) for _ in range(3)]
    cases = [("adam", torch.optim.Adam, dict(lr=1e-3), 0),
             ("adam_wd", torch.optim.Adam, dict(lr=1e-3, weight_decay=0.1), 0),
             ("adamw", torch.optim.AdamW, dict(lr=1e-3, weight_decay=0.1), 0),
             ("sgd_mom", torch.optim.SGD, dict(lr=0.1, momentum=0.9), 0),
             ("sgd_nesterov", torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), 0),
             ("sgd_clip", torch.optim.SGD, dict(lr=0.1, momentum=0.9), 1.0)]
    for case, cls, kw, clip in cases:
        w = w0.clone().requires_grad_(True)
        opt = cls([w], **kw)
        after = []
        for g in grads:
            w.grad = g.clone()
            if clip:
                torch.nn.utils.clip_grad_norm_([w], clip)
            opt.step()
            after.append(w.detach().clone())
        args = {"kind": cls.__name__.lower(), "steps": len(grads), "clip": clip}
        args.update({k: (int(v) if isinstance(v, bool) else v) for k, v in kw.items()})
        fx.case(case, args, w0=w0, g0=grads[0], g1=grads[1], g2=grads[2],
                w1=after[0], w3=after[-1], delta=after[-1] - w0)
    fx.save()


# ---------------------------------------------------------------- the ramp's presets
# BasicBlock, ResNet8, EncoderBlock and Transformer are in torch_presets.py.

def ref_check():
    """Our copies name and shape every tensor as ../shared/bench/torch_ref.py's modules do."""
    path = os.path.join(HERE, "..", "..", "..", "shared", "bench", "torch_ref.py")
    if not os.path.exists(path):
        print(f"note: {path} not found; the copies above were not compared with it")
        return
    spec = importlib.util.spec_from_file_location("torch_ref", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    for ours, theirs in [(ResNet8(), ref.ResNet8()), (Transformer(), ref.Transformer())]:
        a = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        b = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert list(a.items()) == list(b.items()), f"{type(ours).__name__} differs from torch_ref.py"


def randomize(module):
    """float32-representable parameters: torch's init, batch-norm and layer-norm affine terms and the
    position embedding drawn away from their 1 / 0 defaults, running statistics non-trivial."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            leafname = name.rsplit(".", 1)[-1]
            if leafname == "pos" or (p.dim() == 1 and name.endswith("bias")):
                p.copy_(f32(*p.shape, scale=0.2))
            elif p.dim() == 1:  # norm scales
                p.copy_(1.0 + f32(*p.shape, scale=0.2))
            else:
                p.copy_(p.float().double())
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(f32(*b.shape, scale=0.3))
            elif name.endswith("running_var"):
                b.copy_(0.5 + f32(*b.shape).abs())


def state_names(module):
    """state_dict order without num_batches_tracked (dnntrouble does not write it)."""
    return [k for k in module.state_dict() if not k.endswith("num_batches_tracked")]


def attention():
    """nn.MultiheadAttention as self-attention, and one pre-LN encoder block (EncoderBlock)."""
    fx = Fixture("attention")
    for case, B, T, D, H, causal in [("d8h2", 2, 5, 8, 2, 0), ("d16h4causal", 3, 6, 16, 4, 1), ("d4h1", 2, 3, 4, 1, 0)]:
        m = nn.MultiheadAttention(D, H, batch_first=True)
        randomize(m)
        x = leaf(f32(B, T, D))
        mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
        y = m(x, x, x, need_weights=False, attn_mask=mask)[0]
        r = f32(*y.shape)
        (y * r).sum().backward()
        fx.case(case, {"heads": H, "causal": causal}, x=x, w_in=m.in_proj_weight, b_in=m.in_proj_bias,
                w_out=m.out_proj.weight, b_out=m.out_proj.bias, y=y, R=r, dx=x.grad, dw_in=m.in_proj_weight.grad,
                db_in=m.in_proj_bias.grad, dw_out=m.out_proj.weight.grad, db_out=m.out_proj.bias.grad)
    blk = EncoderBlock(16, 4)
    randomize(blk)
    x = leaf(f32(2, 7, 16))
    y = blk(x)
    r = f32(*y.shape)
    (y * r).sum().backward()
    sd = dict(blk.named_parameters())
    fx.case("block", {"heads": 4, "names": ",".join(sd)}, x=x, y=y, R=r, dx=x.grad,
            **{f"p.{k}": v for k, v in sd.items()}, **{f"g.{k}": v.grad for k, v in sd.items()})
    fx.save()


def resblock():
    """One BasicBlock with a downsample (stride 2, 4 -> 8 channels), training mode (batch statistics)."""
    fx = Fixture("resblock")
    blk = BasicBlock(4, 8, 2)
    randomize(blk)
    before = {k: v.clone() for k, v in blk.state_dict().items() if "running" in k}
    x = leaf(f32(2, 4, 9, 9))
    y = blk(x)
    r = f32(*y.shape)
    (y * r).sum().backward()
    params = dict(blk.named_parameters())
    after = {k: v for k, v in blk.state_dict().items() if "running" in k}
    fx.case("s2", {"names": ",".join(params)}, x=x, y=y, R=r, dx=x.grad,
            **{f"p.{k}": v for k, v in params.items()}, **{f"g.{k}": v.grad for k, v in params.items()},
            **{f"after.{k}": v for k, v in after.items()}, **{f"before.{k}": v for k, v in before.items()})
    fx.save()


def presets():
    """The whole resnet and transformer presets, forward (logits, cross-entropy) and backward (every
    parameter's gradient), training mode; tensors named p.<state_dict name> (values before),
    g.<name> (gradients), after.<name> (running statistics after the forward)."""
    fx = Fixture("presets")
    cases = [("resnet", ResNet8(c=2, n=5, w=4), (3, 2, 12, 10), 5, {"c": 2, "w": 4, "n": 5}),
             ("transformer", Transformer(f=5, t=7, n=4, d=16, h=4), (3, 7, 5), 4, {"f": 5, "t": 7, "n": 4, "d": 16})]
    for case, m, xs, n, args in cases:
        randomize(m)
        before = {k: v.clone() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
        x = f32(*xs)
        labels = torch.randint(0, n, (xs[0],))
        logits = m(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        params = dict(m.named_parameters())
        after = {k: v for k, v in m.state_dict().items() if "running" in k}
        fx.case(case, {**args, "names": ",".join(state_names(m))}, x=x, labels=labels.double(),
                logits=logits, loss=loss.reshape(1), **{f"p.{k}": v for k, v in before.items()},
                **{f"g.{k}": v.grad for k, v in params.items()}, **{f"after.{k}": v for k, v in after.items()})
    fx.save()


if __name__ == "__main__":
    conv2d()
    pool()
    lstm()
    cross_entropy()
    optim()
    ref_check()
    attention()
    resblock()
    presets()
