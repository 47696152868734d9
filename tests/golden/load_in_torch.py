#!/usr/bin/python3
"""Loads dnntrouble checkpoints into the equivalent torch modules and prints their outputs.

    /usr/bin/python3 tests/golden/load_in_torch.py CKPT INPUT [CKPT INPUT ...]

CKPT is a checkpoint written by dt_checkpoint_save; INPUT a safetensors file
with one tensor "x" (a batch of model inputs, already normalized).  For each
pair the module is built from the checkpoint's __metadata__ exactly as SPEC
"Checkpoints" describes (LeNet c1/c2/f1/f2/f3, MLP f1..f(d+1), LSTM lstm + fc,
batch-norm layers bnN), loaded with load_state_dict(strict=True), put in eval
mode and run on x; one JSON line {"shape": [...], "out": [...]} is printed per
pair.  Used by tests/test_checkpoint.c; doubles as an example for users."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


class LeNet(nn.Module):
    def __init__(s, c, h, w, k, m=1, act=F.relu, bn=False):
        super().__init__()
        s.act = act
        s.c1 = nn.Conv2d(c, 6 * m, 5, padding=2)
        s.bn1 = nn.BatchNorm2d(6 * m) if bn else nn.Identity()
        s.c2 = nn.Conv2d(6 * m, 16 * m, 5)
        s.bn2 = nn.BatchNorm2d(16 * m) if bn else nn.Identity()
        flat = 16 * m * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2)
        s.f1 = nn.Linear(flat, 120 * m)
        s.f2 = nn.Linear(120 * m, 84 * m)
        s.f3 = nn.Linear(84 * m, k)

    def forward(s, x):
        x = F.max_pool2d(s.act(s.bn1(s.c1(x))), 2)
        x = F.max_pool2d(s.act(s.bn2(s.c2(x))), 2)
        x = x.flatten(1)
        return s.f3(s.act(s.f2(s.act(s.f1(x)))))


class MLP(nn.Module):
    def __init__(s, d, h, k, depth=1, act=F.relu, bn=False):
        super().__init__()
        s.act, s.depth, s.bn = act, depth, bn
        for i in range(1, depth + 1):
            setattr(s, f"f{i}", nn.Linear(d if i == 1 else h, h))
            if bn:
                setattr(s, f"bn{i}", nn.BatchNorm1d(h))
        setattr(s, f"f{depth + 1}", nn.Linear(h if depth else d, k))

    def forward(s, x):
        x = x.flatten(1)
        for i in range(1, s.depth + 1):
            x = getattr(s, f"f{i}")(x)
            if s.bn:
                x = getattr(s, f"bn{i}")(x)
            x = s.act(x)
        return getattr(s, f"f{s.depth + 1}")(x)


class LSTMNet(nn.Module):
    def __init__(s, d, h, k):
        super().__init__()
        s.lstm = nn.LSTM(d, h, batch_first=True)
        s.fc = nn.Linear(h, k)

    def forward(s, x):
        if x.dim() == 2:  # [B, T] sequences of scalars
            x = x.unsqueeze(-1)
        o, _ = s.lstm(x)
        return s.fc(o[:, -1])


def build(meta):
    arch = meta["arch"]
    shape = json.loads(meta["input_shape"])
    k, h = int(meta["outputs"]), int(meta["hidden"])
    act = F.relu if meta.get("activation", "relu") == "relu" else torch.tanh
    bn = meta.get("batch_norm", "0") == "1"
    if arch == "lenet":
        return LeNet(shape[0], shape[1], shape[2], k, int(meta.get("width_mult", "1")), act, bn)
    if arch == "mlp":
        return MLP(int(np.prod(shape)), h, k, int(meta.get("depth", "1")), act, bn)
    if arch == "lstm":
        return LSTMNet(shape[1] if len(shape) == 2 else 1, h, k)
    raise ValueError(f"unknown arch {arch!r}")


def run(ckpt, inp):
    tensors, meta = st.read(ckpt)
    model = build(meta)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()
    x = torch.from_numpy(st.read(inp)[0]["x"])
    with torch.no_grad():
        y = model(x)
        if meta.get("output_softmax", "0") == "1":
            y = F.softmax(y, dim=-1)
    return {"shape": list(y.shape), "out": [float(v) for v in y.flatten()]}


if __name__ == "__main__":
    torch.set_num_threads(1)
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for i in range(0, len(args), 2):
        print(json.dumps(run(args[i], args[i + 1])), flush=True)
