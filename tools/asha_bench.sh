#!/bin/sh
# ASHA and tune --mpi benchmarks (issue 15).  Not a test: run it niced on a
# machine as quiet as you can get, and note `uptime` next to the numbers.
#
#   tools/asha_bench.sh pruning [--seeds N] [--fmnist-epochs 6|9] [--fmnist-trials N] [--jobs N] [--out DIR]
#       No pruning vs stages.tune.pruner asha (random sampler, the same seeds, so the same first
#       trials) through tools/tune_bench.sh: the digits MLP at its 8 epochs per trial (30 trials),
#       and the Fashion-MNIST LeNet subset at 6 (or 9) epochs per trial (variants random-e6 /
#       asha-e6, or -e9; 20 trials, or --fmnist-trials).  --jobs: trials at once (the trials and
#       ASHA's decisions do not depend on it).  Per task: each variant's mean best train_val error with its standard error over
#       the seeds, the paired difference asha - none with its standard error, and the epochs ASHA
#       trained as a share of no pruning's (per trial steps / budget, summed over trials and seeds);
#       the same for the best trial's held-out error (mean of its test_val and test errors).
#   tools/asha_bench.sh mpi [--trials N] [--out DIR]
#       Trials per minute of `mpirun -np 2` (one trainer) and `-np 3` (two trainers) on the digits
#       task (MLP 256, 20 epochs per trial) without pruning (tune.json trials_per_minute: the search
#       alone, without data loading and the final retrain), each run three times, alternating.  As root it sets OMPI_ALLOW_RUN_AS_ROOT(_CONFIRM);
#       --oversubscribe lets rank 0 (which mostly sleeps) share a core.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/dnntrouble}
MODE=${1:-}
[ $# -gt 0 ] && shift
SEEDS=10
TRIALS=12
FE=6
FT=20
JOBS=1
OUT=runs/asha-bench
while [ $# -gt 0 ]; do
    case "$1" in
    --seeds) SEEDS=$2; shift 2 ;;
    --trials) TRIALS=$2; shift 2 ;;
    --fmnist-epochs) FE=$2; shift 2 ;;
    --fmnist-trials) FT=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    *) MODE=usage; break ;;
    esac
done
[ -x "$BIN" ] || { echo "$BIN not built: run make" >&2; exit 2; }
echo "uptime: $(uptime)"

case "$MODE" in
pruning)
    # tune_bench.sh trains (reusing the runs already there); its own summary compares against a
    # variant named random, which the fmnist pair has not, so only its runs count here: a seed
    # whose runs are missing is left out below (the logs say why).
    sh "$ROOT/tools/tune_bench.sh" --tasks digits --variants "random asha" --seeds "$SEEDS" --budget 30 --jobs "$JOBS" \
        --out "$OUT/digits" >"$OUT.digits.log" 2>&1 || echo "tools/tune_bench.sh digits: see $OUT.digits.log"
    sh "$ROOT/tools/tune_bench.sh" --tasks fmnist --variants "random-e$FE asha-e$FE" --seeds "$SEEDS" --budget "$FT" --jobs "$JOBS" \
        --out "$OUT/fmnist" >"$OUT.fmnist.log" 2>&1 || echo "tools/tune_bench.sh fmnist: see $OUT.fmnist.log"
    python3 - "$OUT" "$SEEDS" "$FE" <<'EOF'
import json, math, os, statistics, sys
out, seeds, fe = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def metrics(task, v, s):
    p = os.path.join(out, task, task, v, "seed-%d" % s, "tune.json")
    return json.load(open(p))["metrics"] if os.path.exists(p) else None

def epochs(task, v, s):
    # Epochs trained, in units of one trial's full budget: sum of steps / budget over the trials
    # (steps alone would weigh a batch size of 8 as 32 times one of 256).
    p = os.path.join(out, task, task, v, "seed-%d" % s, "trials.jsonl")
    rows = [json.loads(l) for l in open(p) if l.endswith("\n")]
    return sum(r["steps"] / r["budget"] for r in rows if "status" in r and r.get("budget"))

def heldout(best):
    # The best trial's retrained model on data no trial was chosen by: the mean of its test_val and
    # test errors.  The best train_val error is the minimum over the trials that finished, so it is
    # biased low, and more so the more trials finish (no pruning finishes about all of them).
    return (best["test_val_error"] + best["test_error"]) / 2

def mean_se(xs):
    m = statistics.mean(xs)
    return m, (statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan"))

for task, none, asha in (("digits", "random", "asha"), ("fmnist", "random-e" + fe, "asha-e" + fe)):
    rows = []
    for s in range(1, seeds + 1):
        a, b = metrics(task, none, s), metrics(task, asha, s)
        if a and b and "best" in a and "best" in b:
            rows.append((s, a["best"]["train_val_error"], b["best"]["train_val_error"], epochs(task, none, s),
                         epochs(task, asha, s), b["trials_pruned"], heldout(a["best"]), heldout(b["best"])))
    if len(rows) < seeds:
        print("%s: %d of %d seeds complete" % (task, len(rows), seeds))
    if not rows:
        continue
    print("\n%s (%s vs %s): seed, best none, best asha, budgets trained none, asha, trials pruned, "
          "held-out none, asha" % (task, none, asha))
    for r in rows:
        print("  %2d  %.4f  %.4f  %6.2f  %6.2f  %d  %.4f  %.4f" % r)
    share = sum(r[4] for r in rows) / sum(r[3] for r in rows)
    for what, i in (("best train_val", 1), ("held-out", 6)):
        mn, sn = mean_se([r[i] for r in rows])
        ma, sa = mean_se([r[i + 1] for r in rows])
        md, sd = mean_se([r[i + 1] - r[i] for r in rows])
        print("%s: %d seeds; %s none %.4f +- %.4f, asha %.4f +- %.4f (mean +- standard error); asha - none %+.4f +- %.4f"
              % (task, len(rows), what, mn, sn, ma, sa, md, sd))
    print("%s: asha trained %.1f%% of no pruning's epochs" % (task, 100 * share))
EOF
    ;;
mpi)
    command -v mpirun >/dev/null || { echo "mpirun not found: apt-get install openmpi-bin libopenmpi-dev" >&2; exit 2; }
    if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
    DATA=${DNNTROUBLE_DATA:-$ROOT/../shared/data}
    mkdir -p "$OUT/mpi"
    cat >"$OUT/mpi/config.yaml" <<EOF
name: bench-mpi
data:
  format: csv
  csv: {path: "$DATA/tabular/digits.csv.gz", label: -1, header: false}
  splits: {train_val: 0.25, test_val: 0.5}
model: {arch: mlp, hidden: 256}
train: {optimizer: adam, lr: 1.0e-3, batch_size: 32, epochs: 20}
stages:
  tune:
    trials: $TRIALS
    rounds: 1
    space:
      train.lr: {log_uniform: [1.0e-4, 1.0e-1]}
      train.weight_decay: {log_uniform: [1.0e-6, 1.0e-1]}
EOF
    for rep in 1 2 3; do
        for np in 2 3; do
            dir="$OUT/mpi/np$np-run$rep"
            rm -rf "$dir"
            mpirun --oversubscribe -np "$np" "$BIN" tune "$OUT/mpi/config.yaml" --mpi --out "$dir" --quiet ||
                { rc=$?; [ "$rc" = 1 ] || exit "$rc"; }
            python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; \
print('np %s run %s: %d trials, %d trainers, search %.1f s, %.1f trials per minute' % (sys.argv[2], sys.argv[3], \
m['trials_run'], m['jobs'], m['search_seconds'], m['trials_per_minute']))" "$dir/tune.json" "$np" "$rep"
        done
    done
    echo "uptime: $(uptime)"
    ;;
*)
    echo "usage: $0 pruning [--seeds N] [--fmnist-epochs 6|9] [--fmnist-trials N] [--jobs N] [--out DIR] | mpi [--trials N] [--out DIR]" >&2
    exit 2
    ;;
esac
