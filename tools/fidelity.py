#!/usr/bin/python3
"""LeNet-5 (or the MLP) on MNIST with one plain recipe, in PyTorch and in dnntrouble, side by side.

    /usr/bin/python3 tools/fidelity.py [--seeds 0,1,2] [--bin build/dnntrouble]
                                       [--data ../shared/data/mnist] [--epochs 4]
                                       [--arch lenet|mlp] [--hidden 64]
                                       [--torch-init default|he_normal] [--torch-ulp] [--replay]
                                       [--only torch|dnntrouble] [--jobs N] [--set KEY=VALUE ...]

The recipe (issue 11): Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8, no weight decay), batch 64
with the partial last batch kept, 4 epochs at a constant learning rate, inputs standardized
with the mean and standard deviation of the training split (one value over all pixels),
10% of the training set held out (train_val), no dropout, no early stopping.  The test
error is over the whole 10,000-image test set (dnntrouble reports it as its test_val and
test halves; their pooled error is the same number).

Both sides select the weights the same way: after each epoch the model is scored on
train_val and the best epoch's weights (lower error; equal error and lower loss) are kept,
as dnntrouble's fit does; PyTorch's last-epoch error is printed too.

dnntrouble runs as `dnntrouble decompose` on a generated config (one BLAS thread); PyTorch
on one thread.  The MNIST files are read in place, never copied.  Prints each run, then
per side the mean and the standard error of the mean over the seeds (sample standard
deviation / sqrt(n)), and the difference with its standard error.  With six seeds or more it
also applies issue 11's three-seed criterion to each disjoint triple of seeds and to random
triples, PyTorch's against PyTorch's own included (docs/fidelity.md: what that criterion can
resolve).  --torch-ulp moves one weight of PyTorch's start by one unit in the last place: the
change in its result is what float32 rounding alone does to a run.  --replay pairs the two
sides: PyTorch trains from dnntrouble's initial weights on dnntrouble's train/train_val split in
dnntrouble's batch order (the same draws, redrawn here bit for bit), so the seeds' results differ
only by the engines' arithmetic and what it sets off.
"""
import argparse
import gzip
import json
import math
import multiprocessing
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
import st  # noqa: E402  (the golden tests' safetensors reader)
FILES = {"train_images": "train-images-idx3-ubyte.gz", "train_labels": "train-labels-idx1-ubyte.gz",
         "test_images": "t10k-images-idx3-ubyte.gz", "test_labels": "t10k-labels-idx1-ubyte.gz"}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mean_se(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1)) if n > 1 else float("nan")
    return m, sd / math.sqrt(n)


# ----------------------------------------------------------------- PyTorch

def torch_run(seed, args):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    d = args.data
    xtr = read_idx(os.path.join(d, FILES["train_images"]))
    ytr = read_idx(os.path.join(d, FILES["train_labels"])).astype(np.int64)
    xte = read_idx(os.path.join(d, FILES["test_images"]))
    yte = read_idx(os.path.join(d, FILES["test_labels"])).astype(np.int64)
    replay = replay_plan(seed, args, ytr) if args.replay else None
    if replay:
        train_rows, val_rows = replay["train_rows"], replay["val_rows"]
    else:
        perm = np.random.RandomState(seed).permutation(len(xtr))
        n_val = int(round(0.1 * len(xtr)))
        val_rows, train_rows = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    mean = float(xtr[train_rows].astype(np.float64).mean())
    std = float(xtr[train_rows].astype(np.float64).std())
    if replay and not (math.isclose(mean, replay["mean"], rel_tol=1e-6) and math.isclose(std, replay["std"], rel_tol=1e-6)):
        raise RuntimeError(f"fidelity: --replay drew a different train split from dnntrouble's (mean/std {mean:.6g}/"
                           f"{std:.6g} here, {replay['mean']:.6g}/{replay['std']:.6g} in its checkpoint)")

    def tensor(x):
        return torch.from_numpy(((x.astype(np.float32) - np.float32(mean)) / np.float32(std))[:, None])

    x_train, y_train = tensor(xtr[train_rows]), torch.from_numpy(ytr[train_rows])
    x_val, y_val = tensor(xtr[val_rows]), torch.from_numpy(ytr[val_rows])
    x_test, y_test = tensor(xte), torch.from_numpy(yte)

    class LeNet(nn.Module):
        def __init__(s):
            super().__init__()
            s.c1 = nn.Conv2d(1, 6, 5, padding=2)
            s.c2 = nn.Conv2d(6, 16, 5)
            s.f1 = nn.Linear(16 * 5 * 5, 120)
            s.f2 = nn.Linear(120, 84)
            s.f3 = nn.Linear(84, 10)

        def forward(s, x):
            x = F.max_pool2d(F.relu(s.c1(x)), 2)
            x = F.max_pool2d(F.relu(s.c2(x)), 2)
            return s.f3(F.relu(s.f2(F.relu(s.f1(x.flatten(1))))))

    class MLP(nn.Module):   # dnntrouble's mlp preset: f1 Linear(784, hidden) -> ReLU -> f2 Linear(hidden, 10)
        def __init__(s):
            super().__init__()
            s.f1 = nn.Linear(784, args.hidden)
            s.f2 = nn.Linear(args.hidden, 10)

        def forward(s, x):
            return s.f2(F.relu(s.f1(x.flatten(1))))

    model = LeNet() if args.arch == "lenet" else MLP()
    if args.torch_init == "he_normal":   # dnntrouble's old default: He-normal, zero biases, torch's output layer
        hidden = (model.c1, model.c2, model.f1, model.f2) if args.arch == "lenet" else (model.f1,)
        for mod in hidden:
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            nn.init.zeros_(mod.bias)
    if replay:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in replay["init"].items()}, strict=True)
    if args.torch_ulp:   # one rounding's worth of difference in the start: how much of a run's result is chaos
        with torch.no_grad():   # c1's first tap, or f1's first unit on the centre pixel (a corner pixel is never ink)
            w, i = (model.c1.weight.view(-1), 0) if args.arch == "lenet" else (model.f1.weight.view(-1), 14 * 28 + 14)
            w[i] = float(np.nextafter(np.float32(w[i].item()), np.float32(np.inf)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)

    def evaluate(x, y):
        model.eval()
        with torch.no_grad():
            wrong, loss = 0, 0.0
            for i in range(0, len(x), 1000):
                z = model(x[i:i + 1000])
                loss += F.cross_entropy(z, y[i:i + 1000], reduction="sum").item()
                wrong += (z.argmax(1) != y[i:i + 1000]).sum().item()
        model.train()
        return wrong / len(x), loss / len(x)

    best, best_err, best_loss, best_epoch, epoch_losses = None, math.inf, math.inf, 0, []
    for epoch in range(1, args.epochs + 1):
        order = torch.from_numpy(replay["orders"][epoch - 1]) if replay else torch.randperm(len(x_train), generator=gen)
        losses = []
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epoch_losses.append(sum(losses) / len(losses))
        err, vloss = evaluate(x_val, y_val)
        if err < best_err or (err == best_err and vloss < best_loss):
            best_err, best_loss, best_epoch = err, vloss, epoch
            best = {k: v.clone() for k, v in model.state_dict().items()}
    last = evaluate(x_test, y_test)[0]
    model.load_state_dict(best)
    return {"test_error": evaluate(x_test, y_test)[0], "test_error_last": last, "train_val_error": best_err,
            "best_epoch": best_epoch, "epoch_losses": epoch_losses}


# -------------------------------------------------------------- dnntrouble

CONFIG = """name: fidelity
seed: {seed}
threads: 1
task: classification
data:
  format: idx
  train: {{images: {d}/{train_images}, labels: {d}/{train_labels}}}
  test: {{images: {d}/{test_images}, labels: {d}/{test_labels}}}
  splits: {{train_val: 0.1, test_val: 0.5}}
  normalize: true
model: {{arch: {arch}, hidden: {hidden}, activation: relu, output_activation: none}}
loss: cross_entropy
train: {{optimizer: adam, lr: 1.0e-3, batch_size: 64, epochs: {epochs}, schedule: constant, weight_decay: 0,
        dropout: 0, early_stopping: {{patience: 0}}}}
"""


def dt_decompose(seed, args, epochs, extra=()):
    """`dnntrouble decompose` on the recipe: (its report, its trained weights)."""
    with tempfile.TemporaryDirectory(prefix="dt-fidelity-") as tmp:
        cfg = os.path.join(tmp, "fidelity.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(seed=seed, d=os.path.abspath(args.data), epochs=epochs, arch=args.arch,
                                  hidden=args.hidden, **FILES))
        cmd = [args.bin, "decompose", cfg, "--out", os.path.join(tmp, "run"), "--quiet"]
        for s in list(args.set or []) + list(extra):
            cmd += ["--set", s]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode not in (0, 1):
            raise RuntimeError(f"fidelity: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
        with open(os.path.join(tmp, "run", "decompose.json")) as f:
            rep = json.load(f)
        return (rep,) + st.read(os.path.join(tmp, "run", rep["artifacts"]["model"]))


def dt_run(seed, args):
    m = dt_decompose(seed, args, args.epochs)[0]["metrics"]
    n_tv, n_t = m["test_val_n"], m["test_n"]   # the two halves of the test set
    pooled = (m["test_val_error"] * n_tv + m["test_error"] * n_t) / (n_tv + n_t)
    return {"test_error": pooled, "train_val_error": m["train_val_error"],
            "best_epoch": m.get("best_epoch"), "epoch_losses": m["history"]["train_loss"]}


# ------------------------------------------------------ --replay: dnntrouble's draws in PyTorch
# PyTorch trains from dnntrouble's start on dnntrouble's split and batch order, so the two runs of a
# seed differ only in their arithmetic.  The split and the order are redrawn here exactly as
# src/core/rng.c, src/data/split.c, src/data/dataset.c and src/data/batcher.c draw them (the seeds'
# salts are theirs); the start is dnntrouble's own, read from a one-epoch run at lr 1e-30, which
# moves no float32 weight.  The epochs' mean training losses, printed for both, show how far the
# two stay together: to every printed digit until a rounding-level difference tips one decision
# (a ReLU, a max-pool, an argmax), after which they part as PyTorch's own run does from a start one
# unit in the last place away (--replay --torch-ulp --only torch).

M64 = (1 << 64) - 1


class DtRng:
    """xoroshiro128+ seeded by splitmix64: dt_rng."""

    def __init__(self, seed):
        x = seed & M64
        s = []
        for _ in range(2):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s0, self.s1 = s

    def u64(self):
        s0, s1 = self.s0, self.s1
        r = (s0 + s1) & M64
        s1 ^= s0
        self.s0 = (((s0 << 24) | (s0 >> 40)) & M64) ^ s1 ^ ((s1 << 16) & M64)
        self.s1 = ((s1 << 37) | (s1 >> 27)) & M64
        return r

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            v = self.u64()
            if v < limit:
                return v % n

    def shuffle(self, a):
        for i in range(len(a), 1, -1):
            j = self.below(i)
            a[i - 1], a[j] = a[j], a[i - 1]


def dt_split(rows, labels, classes, target, rng):
    """dt_split_count: a stratified `target` rows held out, largest-remainder quotas per class."""
    order = list(rows)
    rng.shuffle(order)
    count = [0] * classes
    for r in order:
        count[int(labels[r])] += 1
    want = [target * count[c] / len(order) for c in range(classes)]
    quota = [math.floor(w) for w in want]
    frac = [w - math.floor(w) for w in want]
    while sum(quota) < target:
        best = -1
        for c in range(classes):
            if quota[c] < count[c] and (best < 0 or frac[c] > frac[best]):
                best = c
        quota[best] += 1
        frac[best] = -1
    kept, held = [], []
    for r in order:
        c = int(labels[r])
        if quota[c]:
            quota[c] -= 1
            held.append(r)
        else:
            kept.append(r)
    return np.array(sorted(kept)), np.array(sorted(held))


def replay_plan(seed, args, ytr):
    data_rng = DtRng(seed ^ 0xDA7A5EED)
    train_rows, val_rows = dt_split(range(len(ytr)), ytr, int(ytr.max()) + 1, math.floor(0.1 * len(ytr) + 0.5),
                                    data_rng)
    fit_rng = DtRng(seed ^ 0xB5297A4D3F1A2C6B)
    orders = []
    for _ in range(args.epochs):
        order = list(range(len(train_rows)))
        fit_rng.shuffle(order)
        orders.append(np.array(order, dtype=np.int64))
    _, init, meta = dt_decompose(seed, args, 1, ["train.lr=1e-30"])
    return {"train_rows": train_rows, "val_rows": val_rows, "orders": orders, "init": init,
            "mean": json.loads(meta["mean"])[0], "std": json.loads(meta["std"])[0]}


def run_seed(job):
    """Both sides of one seed (a worker of --jobs): [(side, result, seconds)]."""
    seed, sides, args = job
    out = []
    for name in sides:
        t0 = time.time()
        out.append((name, RUNNERS[name](seed, args), time.time() - t0))
    return out


def three_seed_check(torch_errs, dt_errs, draws=100000):
    """Issue 11's criterion - a three-seed mean within two of PyTorch's three-seed standard errors -
    over the disjoint triples of the seeds run, and how often it holds for random triples: of
    dnntrouble against PyTorch, and of PyTorch against three other seeds of its own (what the
    criterion gives an engine that *is* PyTorch)."""
    def holds(mine, ref):
        (m, _), (r, se) = mean_se(mine), mean_se(ref)
        return abs(m - r) <= 2 * se
    n = len(torch_errs)
    for i in range(0, n - n % 3, 3):
        (mt, se), (md, _) = mean_se(torch_errs[i:i + 3]), mean_se(dt_errs[i:i + 3])
        print(f"  triple {i // 3}: torch {100 * mt:.3f}% +- {100 * se:.3f}%, dnntrouble {100 * md:.3f}%, "
              f"difference {100 * (md - mt):+.3f}%: {'holds' if abs(md - mt) <= 2 * se else 'misses'}")
    rng = random.Random(0)
    vs_torch = sum(holds(rng.sample(dt_errs, 3), rng.sample(torch_errs, 3)) for _ in range(draws))
    self_check = 0
    for _ in range(draws):
        six = rng.sample(torch_errs, 6)
        self_check += holds(six[3:], six[:3])
    print(f"  random triples ({draws} draws): dnntrouble against PyTorch holds {100 * vs_torch / draws:.1f}%; "
          f"PyTorch against its own other seeds {100 * self_check / draws:.1f}%")


RUNNERS = {"torch": torch_run, "dnntrouble": dt_run}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "dnntrouble"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--arch", choices=["lenet", "mlp"], default="lenet")
    ap.add_argument("--hidden", type=int, default=64, help="MLP width (dnntrouble's model.hidden default)")
    ap.add_argument("--torch-init", choices=["default", "he_normal"], default="default")
    ap.add_argument("--torch-ulp", action="store_true",
                    help="nudge one weight of PyTorch's start up by one unit in the last place")
    ap.add_argument("--replay", action="store_true",
                    help="PyTorch trains from dnntrouble's start on dnntrouble's split and batch order")
    ap.add_argument("--only", choices=["torch", "dnntrouble"])
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once (each run keeps one thread)")
    ap.add_argument("--set", action="append", help="extra dnntrouble --set KEY=VALUE (repeatable)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if not os.path.exists(os.path.join(args.data, FILES["train_images"])):
        sys.exit(f"fidelity: MNIST not found in {args.data} (--data DIR)")
    sides = [args.only] if args.only else ["torch", "dnntrouble"]
    results = {name: [] for name in sides}
    jobs = [(seed, sides, args) for seed in seeds]
    try:
        with multiprocessing.Pool(max(1, args.jobs)) as pool:   # results in seed order, whatever finishes first
            for seed, runs in zip(seeds, pool.imap(run_seed, jobs)):
                for name, r, secs in runs:
                    results[name].append(r)
                    extra = f"  (last epoch {100 * r['test_error_last']:.2f}%)" if "test_error_last" in r else ""
                    print(f"{name:10s} seed {seed}: test error {100 * r['test_error']:.2f}%{extra}, train_val "
                          f"{100 * r['train_val_error']:.2f}%, best epoch {r['best_epoch']}, epoch losses "
                          f"{' '.join(f'{x:.6f}' for x in r['epoch_losses'])}, {secs:.0f} s", flush=True)
    except RuntimeError as e:
        sys.exit(str(e))
    means = {}
    for name, rs in results.items():
        m, se = mean_se([r["test_error"] for r in rs])
        means[name] = (m, se)
        line = f"{name:10s} mean test error {100 * m:.3f}% +- {100 * se:.3f}% (SE, {len(rs)} seeds)"
        if name == "torch":
            ml, sel = mean_se([r["test_error_last"] for r in rs])
            line += f"; last epoch {100 * ml:.3f}% +- {100 * sel:.3f}%"
        print(line)
    if len(means) == 2:
        (mt, se_t), (md, se_d) = means["torch"], means["dnntrouble"]
        diff, se = md - mt, math.sqrt(se_t ** 2 + se_d ** 2)
        within = abs(diff) <= 2 * se_t
        print(f"difference dnntrouble - torch: {100 * diff:+.3f}% (SE of the difference {100 * se:.3f}%); "
              f"{'within' if within else 'NOT within'} two standard errors of PyTorch's mean ({200 * se_t:.3f}%)")
        if len(seeds) >= 6:
            three_seed_check([r["test_error"] for r in results["torch"]],
                             [r["test_error"] for r in results["dnntrouble"]])


if __name__ == "__main__":
    main()
