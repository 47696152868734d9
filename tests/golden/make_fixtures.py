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
import os

import numpy as np
import torch
import torch.nn.functional as F

import st

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


if __name__ == "__main__":
    conv2d()
    pool()
    lstm()
    cross_entropy()
    optim()
