#!/usr/bin/python3
"""The PyTorch side of tests/test_trajectory.c: hundreds of Adam steps of each starter net.

    /usr/bin/python3 tests/golden/trajectory.py OUTDIR [NET ...]
    # NET: lenet mlp mlp_bn lstm resnet transformer

Run by the test at test time into a temporary folder (exit status 77 and a message on stderr
when torch cannot be imported, so the test skips).  For each net it writes

  OUTDIR/NET.init.safetensors   the initial state_dict, drawn by torch's own default
                                initialisation (plus batch-norm running statistics), exactly the
                                tensors dnntrouble's model has, loaded with dt_checkpoint_load
  OUTDIR/NET.traj.safetensors   x, y (labels as floats), the batch order (row ids, epoch after
                                epoch), and for the float32 run and a float64 run from the same
                                float32 start: the loss of every step (loss32, loss64) and the
                                final state (final32.NAME, final64.NAME); and the spread of
                                float32 runs around float64 (loss_spread per step, spread.NAME per
                                final tensor; see run())

Data: N samples, each its class's fixed random prototype plus Gaussian noise, so the nets learn
something real without driving the loss to zero (where Adam's normalised steps follow rounding
noise).  Batches: a fresh
permutation every epoch, batch B, the last batch of each epoch partial (N % B rows: 2000 % 16 = 0
for LeNet, whose epochs are whole; 200 % 32 = 8 for the others), as dnntrouble's batcher does.  Training: Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), cross-entropy
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
from torch_presets import ResNet8, Transformer  # noqa: E402

STEPS = 240
LR = 1e-3
ANCHORS = (0, 40, 80, 120, 160, 200)   # steps whose float64 state starts a checked window
WINDOW = 8
# members: perturbed float32 runs besides torch's own (LeNet's trajectory needs the most to sample
# its spread; the others stay within rounding of float64 throughout)

# net: input shape per sample, classes, samples, batch (N % batch rows in each epoch's last batch),
# noise around the class prototypes, seed.  Chosen so that torch's own float32 run stays close to
# its float64 run over all the steps (see tests/test_trajectory.c: LeNet's trajectory amplifies
# rounding differences by orders of magnitude on many other draws, in torch as in dnntrouble).
NETS = {
    # TRAJ_SEED draws LeNet's data and start differently (to see how robust the tolerance is)
    "lenet": dict(shape=(1, 28, 28), classes=10, n=2008, batch=16, noise=5.0,
                  seed=int(os.environ.get("TRAJ_SEED", "7")), members=7),
    "mlp": dict(shape=(20,), classes=5, n=200, batch=32, noise=2.0, seed=4321, hidden=32, members=3),
    "mlp_bn": dict(shape=(20,), classes=5, n=200, batch=32, noise=2.0, seed=4321, hidden=32, members=3),
    "lstm": dict(shape=(12, 6), classes=4, n=200, batch=32, noise=2.0, seed=4321, hidden=16, members=3),
    # the ramp's presets, small: ResNet-8 of width 4 (three stages, batch-norm in training mode,
    # strided downsamples) on 12x12 images; the pre-LN transformer, d 16, 4 heads, 2 blocks, on 7x5.
    # ResNet's trajectory is chaotic on most draws, as LeNet's: with noise 2, 3, 5 and 6 torch's own
    # float32 runs leave float64 at steps 45-56; with noise 4 they hold until step 232.
    "resnet": dict(shape=(1, 12, 12), classes=5, n=200, batch=32, noise=4.0, seed=4321, hidden=4, members=3),
    "transformer": dict(shape=(7, 5), classes=4, n=200, batch=32, noise=2.0, seed=4321, hidden=16, members=3),
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
    if name == "resnet":
        return ResNet8(c=c["shape"][0], n=c["classes"], w=c["hidden"])
    if name == "transformer":
        return Transformer(f=c["shape"][1], t=c["shape"][0], n=c["classes"], d=c["hidden"], h=4)
    return MLP(c["shape"][0], c["hidden"], c["classes"], name == "mlp_bn")


def state(model):
    """The state_dict without num_batches_tracked (dnntrouble keeps no batch count)."""
    return [(k, v.detach().clone()) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def batch_rows(order, n, batch, step):
    """Rows of step `step` (0-based): epoch after epoch of `order`, the last batch of each partial."""
    per_epoch = -(-n // batch)
    e, i = divmod(step, per_epoch)
    return order[e * n + i * batch:e * n + min((i + 1) * batch, n)]


def train(model, x, y, order, batch, dtype, first=0, steps=STEPS, opt_state=None, snapshots=()):
    """steps Adam steps from step `first` (opt_state: the Adam state to start from).  Returns the
    losses, the final state and {step: (state, exp_avg, exp_avg_sq)} after each snapshot step."""
    model = model.to(dtype)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    params = list(model.parameters())
    if opt_state is not None:
        for p, (t, m, v) in zip(params, opt_state):
            opt.state[p] = {"step": torch.tensor(float(t)), "exp_avg": m.to(dtype).clone(),
                            "exp_avg_sq": v.to(dtype).clone()}
    x = x.to(dtype)
    losses, snaps = [], {}
    for s in range(first, first + steps):
        rows = batch_rows(order, len(x), batch, s)
        loss = F.cross_entropy(model(x[rows]), y[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if s + 1 in snapshots:
            snaps[s + 1] = (state(model), [opt.state[p]["exp_avg"].clone() for p in params],
                            [opt.state[p]["exp_avg_sq"].clone() for p in params])
    return losses, state(model), snaps


def f32(t):
    """float32 values of a tensor, held in its own dtype."""
    return t.to(torch.float32).to(t.dtype)


def run(name, out):
    c = NETS[name]
    torch.manual_seed(c["seed"])
    g = np.random.RandomState(c["seed"])
    n, batch, k = c["n"], c["batch"], c["classes"]
    # One smooth prototype per class (images: noise at a quarter of the side blown up 4x, e.g. 7x7
    # to 28x28), samples = prototype + noise.
    if len(c["shape"]) == 3:
        ch, h, w = c["shape"]
        proto = np.kron(g.standard_normal((k, ch, h // 4, w // 4)), np.ones((1, 1, 4, 4)))
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

    loss32, final32, _ = train(copy.deepcopy(model), x, y, order, batch, torch.float32)
    loss64, final64, snaps = train(copy.deepcopy(model), x, y, order, batch, torch.float64, snapshots=ANCHORS)
    # The spread of float32 trajectories: torch's own run and c["members"] runs from the same start
    # moved by one unit in the last place (each weight up, down or kept, at random), measured
    # against float64: loss_spread[s] is the largest |L - L64| over them up to step s,
    # spread.NAME the largest max|w - w64| / max|w64| of each final tensor.
    runs = [(loss32, final32)]
    for i in range(c["members"]):
        member = copy.deepcopy(model)
        with torch.no_grad():
            for p in member.parameters():
                a = p.numpy()
                step = g.randint(-1, 2, a.shape)
                p.copy_(torch.from_numpy(np.where(step > 0, np.nextafter(a, np.float32(np.inf)),
                                                  np.where(step < 0, np.nextafter(a, np.float32(-np.inf)), a))))
        runs.append(train(member, x, y, order, batch, torch.float32)[:2])
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
    # Anchored windows: the float64 run's state after step a (weights, batch-norm statistics and
    # Adam's moments), rounded to float32, then WINDOW steps from there in float64 and in float32.
    # Starting both engines from the same state, these check the step itself at points all along
    # the trajectory, late ones included, where the free-running runs have long parted.
    pnames = [k for k, _ in model.named_parameters()]
    for a in ANCHORS:
        if a == 0:
            sd, ms, vs = [(k_, v.double()) for k_, v in init], None, None
        else:
            sd, ms, vs = snaps[a]
        sd = [(k_, f32(v)) for k_, v in sd]
        st.write(os.path.join(out, f"{name}.anchor{a}.safetensors"), [(k_, v.float().numpy()) for k_, v in sd], {})
        opt_state = None if ms is None else [(a, f32(m_), f32(v_)) for m_, v_ in zip(ms, vs)]
        ends = {}
        for dtype, tag in ((torch.float64, "64"), (torch.float32, "32")):
            w = make(name, c)
            w.load_state_dict({k_: v.float() for k_, v in sd}, strict=False)
            lw, fw, _ = train(w, x, y, order, batch, dtype, first=a, steps=WINDOW, opt_state=opt_state)
            tensors.append((f"anchor{a}.loss{tag}", np.array(lw, dtype=np.float32)))
            ends[tag] = fw
        if ms is not None:
            tensors += [(f"anchor{a}.m.{k_}", m_.float().numpy()) for k_, m_ in zip(pnames, ms)]
            tensors += [(f"anchor{a}.v.{k_}", v_.float().numpy()) for k_, v_ in zip(pnames, vs)]
        tensors += [(f"anchor{a}.end64.{k_}", v.float().numpy()) for k_, v in ends["64"]]
        tensors += [(f"anchor{a}.end32.{k_}", v.float().numpy()) for k_, v in ends["32"]]
    meta = {"net": name, "steps": STEPS, "batch": batch, "n": n, "classes": c["classes"], "lr": LR,
            "anchors": ",".join(str(a) for a in ANCHORS), "window": WINDOW,
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
