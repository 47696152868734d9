#!/usr/bin/python3
"""The PyTorch side of tests/test_trajectory.c: hundreds of Adam steps of each starter net.

    /usr/bin/python3 tests/golden/trajectory.py OUTDIR [NET ...]    # NET: lenet mlp lstm mlp_bn

Run by the test at test time into a temporary folder (exit status 77 and a message on stderr
when torch cannot be imported, so the test skips).  For each net it writes

  OUTDIR/NET.init.safetensors   the initial state_dict, drawn by torch's own default
                                initialisation (plus batch-norm running statistics), exactly the
                                tensors dnntrouble's model has, loaded with dt_checkpoint_load
  OUTDIR/NET.traj.safetensors   x, y (labels as floats), the batch order (row ids, epoch after
                                epoch), and for the float32 run and a float64 run from the same
                                float32 start: the loss of every step (loss32, loss64) and the
                                final state (final32.NAME, final64.NAME)

Data: N samples, each its class's fixed random prototype plus Gaussian noise, so the nets learn
something real without driving the loss to zero (where Adam's normalised steps follow rounding
noise).  Batches: a fresh
permutation every epoch, batch B, the last batch of each epoch partial (N % B rows), as
dnntrouble's batcher does.  Training: Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), cross-entropy
mean over the batch, dropout off, batch-norm in training mode (momentum 0.1, eps 1e-5).
"""
import copy
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the test skips on 77
    print(f"trajectory.py: cannot import torch/numpy ({e}); install Debian's python3-torch", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

STEPS = 240
LR = 1e-3
MEMBERS = 7   # perturbed float32 runs besides torch's own

# net: input shape per sample, classes, samples, batch (N % batch rows in each epoch's last batch),
# noise around the class prototypes, seed.  Chosen so that torch's own float32 run stays close to
# its float64 run over all the steps (see tests/test_trajectory.c: LeNet's trajectory amplifies
# rounding differences by orders of magnitude on many other draws, in torch as in dnntrouble).
NETS = {
    "lenet": dict(shape=(1, 28, 28), classes=10, n=2000, batch=32, noise=5.0, seed=7),
    "mlp": dict(shape=(20,), classes=5, n=200, batch=32, noise=2.0, seed=4321, hidden=32),
    "mlp_bn": dict(shape=(20,), classes=5, n=200, batch=32, noise=2.0, seed=4321, hidden=32),
    "lstm": dict(shape=(12, 6), classes=4, n=200, batch=32, noise=2.0, seed=4321, hidden=16),
}


class LeNet(nn.Module):
    def __init__(s, k):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5, padding=2)
        s.c2 = nn.Conv2d(6, 16, 5)
        s.f1 = nn.Linear(16 * 5 * 5, 120)
        s.f2 = nn.Linear(120, 84)
        s.f3 = nn.Linear(84, k)

    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2)
        x = F.max_pool2d(F.relu(s.c2(x)), 2)
        return s.f3(F.relu(s.f2(F.relu(s.f1(x.flatten(1))))))


class MLP(nn.Module):
    def __init__(s, d, h, k, bn):
        super().__init__()
        s.f1 = nn.Linear(d, h)
        if bn:
            s.bn1 = nn.BatchNorm1d(h)
        s.f2 = nn.Linear(h, k)
        s.bn = bn

    def forward(s, x):
        h = s.f1(x)
        if s.bn:
            h = s.bn1(h)
        return s.f2(F.relu(h))


class LSTMNet(nn.Module):
    def __init__(s, d, h, k):
        super().__init__()
        s.lstm = nn.LSTM(d, h, batch_first=True)
        s.fc = nn.Linear(h, k)

    def forward(s, x):
        o, _ = s.lstm(x)
        return s.fc(o[:, -1])


def make(name, c):
    if name == "lenet":
        return LeNet(c["classes"])
    if name == "lstm":
        return LSTMNet(c["shape"][1], c["hidden"], c["classes"])
    return MLP(c["shape"][0], c["hidden"], c["classes"], name == "mlp_bn")


def state(model):
    """The state_dict without num_batches_tracked (dnntrouble keeps no batch count)."""
    return [(k, v.detach().clone()) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def train(model, x, y, order, batch, dtype):
    model = model.to(dtype)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x = x.to(dtype)
    losses, pos = [], 0
    for _ in range(STEPS):
        n = len(x)
        start = pos % n
        rows = order[pos:pos + min(batch, n - start)]
        pos += len(rows)
        loss = F.cross_entropy(model(x[rows]), y[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, state(model)


def run(name, out):
    c = NETS[name]
    torch.manual_seed(c["seed"])
    g = np.random.RandomState(c["seed"])
    n, batch, k = c["n"], c["batch"], c["classes"]
    # One smooth prototype per class (LeNet: 7x7 noise blown up to 28x28), samples = prototype + noise.
    if name == "lenet":
        proto = np.kron(g.standard_normal((k, 1, 7, 7)), np.ones((1, 1, 4, 4)))
    else:
        proto = g.standard_normal((k,) + c["shape"])
    labels = g.randint(0, k, n)
    x = torch.from_numpy((proto[labels] + c["noise"] * g.standard_normal((n,) + c["shape"])).astype(np.float32))
    y = torch.from_numpy(labels.astype(np.int64))
    epochs = -(-STEPS // -(-n // batch)) + 1
    order = torch.from_numpy(np.concatenate([g.permutation(n) for _ in range(epochs)]))

    model = make(name, c)
    init = state(model)
    st.write(os.path.join(out, f"{name}.init.safetensors"), [(k, v.numpy()) for k, v in init], {"net": name})

    loss32, final32 = train(copy.deepcopy(model), x, y, order, batch, torch.float32)
    loss64, final64 = train(copy.deepcopy(model), x, y, order, batch, torch.float64)
    # The spread of float32 trajectories: torch's own run and MEMBERS runs from the same start
    # moved by one unit in the last place (each weight up, down or kept, at random), measured
    # against float64: loss_spread[s] is the largest |L - L64| over them up to step s,
    # spread.NAME the largest max|w - w64| / max|w64| of each final tensor.
    runs = [(loss32, final32)]
    for i in range(MEMBERS):
        member = copy.deepcopy(model)
        with torch.no_grad():
            for p in member.parameters():
                a = p.numpy()
                step = g.randint(-1, 2, a.shape)
                p.copy_(torch.from_numpy(np.where(step > 0, np.nextafter(a, np.float32(np.inf)),
                                                  np.where(step < 0, np.nextafter(a, np.float32(-np.inf)), a))))
        runs.append(train(member, x, y, order, batch, torch.float32))
    l64 = np.array(loss64)
    spread = np.maximum.accumulate(np.max([np.abs(np.array(l) - l64) for l, _ in runs], axis=0))
    tensors = [("x", x.numpy()), ("y", y.numpy().astype(np.float32)), ("order", order.numpy().astype(np.float32)),
               ("loss32", np.array(loss32, dtype=np.float32)), ("loss64", l64.astype(np.float32)),
               ("loss_spread", spread.astype(np.float32))]
    tensors += [(f"final64.{k}", v.to(torch.float32).numpy()) for k, v in final64]
    tensors += [(f"final32.{k}", v.numpy()) for k, v in final32]
    for k, v in final64:
        scale = max(float(v.abs().max()), 1e-6)
        tensors.append((f"spread.{k}", np.array([max(float((dict(f)[k].double() - v).abs().max()) / scale
                                                      for _, f in runs)], dtype=np.float32)))
    meta = {"net": name, "steps": STEPS, "batch": batch, "n": n, "classes": c["classes"], "lr": LR,
            "hidden": c.get("hidden", 0), "generator": f"tests/golden/trajectory.py, torch {torch.__version__}"}
    st.write(os.path.join(out, f"{name}.traj.safetensors"), tensors, meta)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    out = sys.argv[1]
    for name in sys.argv[2:] or list(NETS):
        run(name, out)


if __name__ == "__main__":
    main()
