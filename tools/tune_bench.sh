#!/bin/sh
# The tune samplers' benchmark (issue 15): how many trials TPE needs to reach
# the final best of random search (coarse-to-fine, stages.tune.sampler random)
# with random's budget, over many seeds on real data.  Not a test: it trains
# thousands of small models; run it niced on a quiet machine.
#
#   tools/tune_bench.sh [--seeds N] [--budget N] [--tasks "digits fmnist"] [--variants "random tpe"]
#                       [--out DIR] [--jobs N] [--summary-only]
#
# Tasks (data from $DNNTROUBLE_DATA, else ../shared/data):
#   digits  the UCI digits table (1797 rows, 8x8 pixels), an MLP; searched: train.lr, model.hidden,
#           train.weight_decay, train.dropout; 8 epochs per trial.
#   fmnist  a Fashion-MNIST subset (4000 images, 3000 to train, 1000 train_val), LeNet; searched: train.lr,
#           train.batch_size; 2 epochs per trial.
# Every variant of a seed runs the same task with the same `seed` (same initial weights and batch order
# for the same values), so the seeds pair up.  A variant is a name and the --set arguments it adds
# (variant_args below): add one there (e.g. a pruner) and it is compared against `random` the same way.
#
# Per task and seed: B = random's best train_val error over its `budget` trials; for every other
# variant, the first trial count k (trials in id order, the order they were proposed) whose best
# so far is <= B, or "-" when it never gets there (counted as budget + 1 for the median).  Printed:
# one row per seed, then the median k and its share of the budget, and each variant's median final best.
# Results land in OUT/TASK/VARIANT/seed-S/ (tune.json, trials.jsonl) and OUT/summary.json; a run
# that is already there is reused (so an interrupted benchmark continues where it stopped).
set -eu

SEEDS=10
BUDGET=60
TASKS="digits fmnist"
VARIANTS="random tpe"
OUT=runs/tune-bench
JOBS=1
SUMMARY_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
    --seeds) SEEDS=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    --tasks) TASKS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --summary-only) SUMMARY_ONLY=1; shift ;;
    *) echo "usage: $0 [--seeds N] [--budget N] [--tasks \"digits fmnist\"] [--variants \"random tpe\"] [--out DIR] [--jobs N] [--summary-only]" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/build/dnntrouble}
DATA=${DNNTROUBLE_DATA:-$ROOT/../shared/data}
[ -x "$BIN" ] || { echo "$BIN not built: run make" >&2; exit 2; }
mkdir -p "$OUT"

variant_args() {
    case "$1" in
    random) echo "--set stages.tune.sampler=random" ;;
    tpe) echo "--set stages.tune.sampler=tpe" ;;
    tpe-startup5) echo "--set stages.tune.sampler=tpe --set stages.tune.startup_trials=5" ;;
    tpe-mv) echo "--set stages.tune.sampler=tpe --set stages.tune.multivariate=true" ;;
    # tools/asha_bench.sh: no pruning vs ASHA, at the task's epochs and at 6 or 9 epochs per trial.
    asha) echo "--set stages.tune.sampler=random --set stages.tune.pruner=asha" ;;
    random-e6) echo "--set stages.tune.sampler=random --set stages.tune.epochs=6" ;;
    asha-e6) echo "--set stages.tune.sampler=random --set stages.tune.pruner=asha --set stages.tune.epochs=6" ;;
    random-e9) echo "--set stages.tune.sampler=random --set stages.tune.epochs=9" ;;
    asha-e9) echo "--set stages.tune.sampler=random --set stages.tune.pruner=asha --set stages.tune.epochs=9" ;;
    *) echo "unknown variant $1" >&2; exit 2 ;;
    esac
}

task_yaml() {
    case "$1" in
    digits) cat <<EOF
name: bench-digits
data:
  format: csv
  csv: {path: "$DATA/tabular/digits.csv.gz", label: -1, header: false}
  splits: {train_val: 0.25, test_val: 0.5}
model: {arch: mlp, hidden: 64}
train: {optimizer: adam, lr: 1.0e-3, batch_size: 32, epochs: 8}
stages:
  tune:
    trials: $BUDGET
    epochs: 8
    space:
      train.lr: {log_uniform: [1.0e-4, 1.0e-1]}
      model.hidden: {int: [8, 256]}
      train.weight_decay: {log_uniform: [1.0e-6, 1.0e-1]}
      train.dropout: {uniform: [0.0, 0.7]}
EOF
    ;;
    fmnist) cat <<EOF
name: bench-fmnist
data:
  format: idx
  train: {images: $DATA/fashion-mnist/train-images-idx3-ubyte.gz, labels: $DATA/fashion-mnist/train-labels-idx1-ubyte.gz}
  test:  {images: $DATA/fashion-mnist/t10k-images-idx3-ubyte.gz,  labels: $DATA/fashion-mnist/t10k-labels-idx1-ubyte.gz}
  subset: {samples: 4000}
  splits: {train_val: 0.25, test_val: 0.5}
model: {arch: lenet}
train: {optimizer: adam, lr: 1.0e-3, batch_size: 64, epochs: 2}
stages:
  tune:
    trials: $BUDGET
    epochs: 2
    space:
      train.lr: {log_uniform: [1.0e-5, 1.0e-1]}
      train.batch_size: {choice: [8, 16, 32, 64, 128, 256]}
EOF
    ;;
    *) echo "unknown task $1" >&2; exit 2 ;;
    esac
}

if [ "$SUMMARY_ONLY" = 0 ]; then
    for task in $TASKS; do
        mkdir -p "$OUT/$task"
        task_yaml "$task" > "$OUT/$task/config.yaml"
        s=1
        while [ "$s" -le "$SEEDS" ]; do
            for v in $VARIANTS; do
                dir="$OUT/$task/$v/seed-$s"
                if [ -f "$dir/tune.json" ]; then continue; fi
                t0=$(date +%s)
                # shellcheck disable=SC2046
                "$BIN" tune "$OUT/$task/config.yaml" --out "$dir" --jobs "$JOBS" --quiet --set seed="$s" \
                    $(variant_args "$v") >"$OUT/$task/$v-seed-$s.log" 2>&1 || {
                    rc=$?
                    # 1: the stage ran and reported a failure (e.g. no healthy trial); its journal still counts.
                    [ "$rc" = 1 ] || { echo "$task $v seed $s: exit $rc (see $OUT/$task/$v-seed-$s.log)" >&2; exit 1; }
                }
                echo "$task $v seed $s: $(( $(date +%s) - t0 )) s"
            done
            s=$((s + 1))
        done
    done
fi

python3 - "$OUT" "$BUDGET" "$SEEDS" "$TASKS" "$VARIANTS" <<'EOF'
import json, os, statistics, sys
out, budget, seeds, tasks, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()

def trials(task, v, s):
    path = os.path.join(out, task, v, "seed-%d" % s, "trials.jsonl")
    if not os.path.exists(path):
        return None
    # Trial lines only (ASHA's rung lines have no "status").
    rows = [r for r in (json.loads(l) for l in open(path) if l.endswith("\n")) if "status" in r]
    rows.sort(key=lambda e: e["trial"])
    return rows

def score(e):
    return e["score"] if e["status"] == "ok" and e["score"] is not None else float("inf")

summary = {"budget": budget, "seeds": seeds, "tasks": {}}
for task in tasks:
    others = [v for v in variants if v != "random"]
    print("\n%s: budget %d trials; B = random's best train_val error" % (task, budget))
    print("seed  B        " + "  ".join("%-12s" % ("%s best" % v) for v in others) + "  " +
          "  ".join("%-10s" % ("%s k" % v) for v in others))
    per = {v: {"k": [], "best": [], "seconds": [], "steps": []} for v in ["random"] + others}
    for s in range(1, seeds + 1):
        base = trials(task, "random", s)
        if base is None or len(base) < budget:
            continue
        b = min(score(e) for e in base)
        per["random"]["best"].append(b)
        per["random"]["seconds"].append(sum(e["seconds"] or 0 for e in base))
        per["random"]["steps"].append(sum(e["steps"] or 0 for e in base))
        cells_best, cells_k = [], []
        for v in others:
            rows = trials(task, v, s)
            if rows is None or len(rows) < budget:
                cells_best.append("(missing)")
                cells_k.append("")
                continue
            run, k = float("inf"), None
            for i, e in enumerate(rows):
                run = min(run, score(e))
                if k is None and run <= b:
                    k = i + 1
            per[v]["best"].append(run)
            per[v]["k"].append(k if k is not None else budget + 1)
            per[v]["seconds"].append(sum(e["seconds"] or 0 for e in rows))
            per[v]["steps"].append(sum(e["steps"] or 0 for e in rows))
            cells_best.append("%.4f" % run)
            cells_k.append(str(k) if k is not None else "-")
        print("%-5d %.4f   " % (s, b) + "  ".join("%-12s" % c for c in cells_best) + "  " +
              "  ".join("%-10s" % c for c in cells_k))
    res = {}
    n = len(per["random"]["best"])
    if n == 0:
        print("no complete seeds")
        continue
    res["random"] = {"seeds": n, "median_best": statistics.median(per["random"]["best"]),
                     "median_seconds": statistics.median(per["random"]["seconds"]),
                     "median_steps": statistics.median(per["random"]["steps"])}
    print("random: %d seeds, median best %.4f, median %.0f s of training per study"
          % (n, res["random"]["median_best"], res["random"]["median_seconds"]))
    for v in others:
        ks = per[v]["k"]
        if not ks:
            continue
        med = statistics.median(ks)
        reached = sum(1 for k in ks if k <= budget)
        res[v] = {"seeds": len(ks), "k": ks, "median_k": med, "median_k_share": med / budget,
                  "reached": reached, "median_best": statistics.median(per[v]["best"]),
                  "median_seconds": statistics.median(per[v]["seconds"]),
                  "median_steps": statistics.median(per[v]["steps"])}
        print("%s: %d seeds, median trials to reach B %g = %.0f%% of the budget (reached in %d of %d), "
              "median best %.4f, median %.0f s of training per study"
              % (v, len(ks), med, 100 * med / budget, reached, len(ks), res[v]["median_best"],
                 res[v]["median_seconds"]))
    summary["tasks"][task] = res
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
print("\nwritten: %s" % os.path.join(out, "summary.json"))
EOF
