#!/bin/sh
# lr-find against a dense lr grid (docs/tune.md "lr-find").
#
#   sh tools/lr_find_bench.sh [BIN] [OUT]      (BIN default build/dnntrouble, OUT default /tmp/lr_find_bench)
#
# Three tasks from /work/shared/data (DNNTROUBLE_DATA overrides): MNIST/LeNet and
# Fashion-MNIST/LeNet on 5000-image subsets (4000 train, 1000 train_val), 2 epochs;
# the digits table (1797 rows) with the one-hidden-layer MLP, 5 epochs.  Adam, batch 64.
# The grid: 13 lrs from 1e-4 to 1e-1, a quarter decade apart, each trained by
# `dnntrouble decompose` with the budget above for seeds 0-4; the grid's best lr has the
# lowest train_val error averaged over the seeds (tune's score).  lr-find runs for the
# same seeds under each variant in VARIANTS (stages.lr-find keys), and every rule's
# suggestion (metrics.rules) is compared with the grid's best.  Runs are kept in OUT and
# skipped when their report exists, so a second call only prints the tables.
# A shared 2-core machine: everything runs one at a time under nice.
set -eu
BIN=${1:-build/dnntrouble}
OUT=${2:-/tmp/lr_find_bench}
DATA=${DNNTROUBLE_DATA:-/work/shared/data}
SEEDS=${SEEDS:-"0 1 2 3 4"}
TASKS=${TASKS:-"mnist fashion digits"}
GRID=${GRID:-"0.0001 0.00017783 0.00031623 0.00056234 0.001 0.0017783 0.0031623 0.0056234 0.01 0.017783 0.031623 0.056234 0.1"}
# name:steps:smoothing:restarts
VARIANTS=${VARIANTS:-"s100b98:100:0.98:1 s100b90:100:0.9:1 s100b90r3:100:0.9:3 s200b95:200:0.95:1 s200b90:200:0.9:1 s200b95r3:200:0.95:3"}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for f in mnist/train-images-idx3-ubyte.gz fashion-mnist/train-images-idx3-ubyte.gz tabular/digits.csv.gz; do
    [ -f "$DATA/$f" ] || { echo "lr_find_bench: $DATA/$f missing (set DNNTROUBLE_DATA)" >&2; exit 3; }
done
mkdir -p "$OUT"

write_config() {   # task -> OUT/TASK.yaml
    case $1 in
    mnist|fashion)
        d=mnist; [ "$1" = fashion ] && d=fashion-mnist
        cat > "$OUT/$1.yaml" <<EOF
name: lr-find-bench-$1
data:
  format: idx
  train: {images: $DATA/$d/train-images-idx3-ubyte.gz, labels: $DATA/$d/train-labels-idx1-ubyte.gz}
  subset: {samples: 5000}
  splits: {train_val: 0.2, test_val: 0.5}
model: {arch: lenet}
train: {optimizer: adam, lr: 1.0e-3, batch_size: 64, epochs: 2, early_stopping: {patience: 0}}
EOF
        ;;
    digits)
        cat > "$OUT/$1.yaml" <<EOF
name: lr-find-bench-digits
data:
  format: csv
  train: {path: $DATA/tabular/digits.csv.gz}
  csv: {header: false, label: -1}
  splits: {train_val: 0.2, test_val: 0.5}
model: {arch: mlp, hidden: 64}
train: {optimizer: adam, lr: 1.0e-3, batch_size: 64, epochs: 5, early_stopping: {patience: 0}}
EOF
        ;;
    esac
}

for t in $TASKS; do
    write_config "$t"
    for s in $SEEDS; do
        for lr in $GRID; do
            dir="$OUT/grid-$t-$lr-$s"
            [ -f "$dir/decompose.json" ] || nice -n 5 "$BIN" decompose "$OUT/$t.yaml" --seed "$s" --set "train.lr=$lr" \
                --out "$dir" --quiet || true
        done
        for v in $VARIANTS; do
            name=${v%%:*}; rest=${v#*:}; steps=${rest%%:*}; rest=${rest#*:}; beta=${rest%%:*}; restarts=${rest#*:}
            dir="$OUT/find-$t-$name-$s"
            [ -f "$dir/lr-find.json" ] || nice -n 5 "$BIN" lr-find "$OUT/$t.yaml" --seed "$s" \
                --set "stages.lr-find.steps=$steps" --set "stages.lr-find.smoothing=$beta" \
                --set "stages.lr-find.restarts=$restarts" --out "$dir" --quiet || true
        done
    done
done

# TUNE_TRIALS=N: also what tune picks in `run` after lr-find (the default variant's sweep):
# N trials in 2 rounds over train.lr log-uniform a decade each side of the suggestion.
TUNE_TRIALS=${TUNE_TRIALS:-0}
TUNE_VARIANT=${TUNE_VARIANT:-s100b90}
if [ "$TUNE_TRIALS" -gt 0 ]; then
    for t in $TASKS; do
        for s in $SEEDS; do
            lr=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['metrics']['suggested_lr'] or '')" \
                "$OUT/find-$t-$TUNE_VARIANT-$s/lr-find.json" 2>/dev/null || true)
            dir="$OUT/tune-$t-$s"
            [ -n "$lr" ] && [ ! -f "$dir/tune.json" ] && nice -n 5 "$BIN" tune "$OUT/$t.yaml" --seed "$s" \
                --set "stages.tune.trials=$TUNE_TRIALS" --set stages.tune.rounds=2 \
                --set "stages.tune.space.train.lr={log_uniform: [$(python3 -c "print($lr/10)"), $(python3 -c "print($lr*10)")]}" \
                --out "$dir" --quiet || true
        done
    done
fi

python3 - "$OUT" "$TASKS" "$SEEDS" "$GRID" "$VARIANTS" "$TUNE_VARIANT" <<'EOF'
import json, math, os, sys
out, tasks, seeds, grid, variants = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), \
    [v.split(':')[0] for v in sys.argv[5].split()]
def load(path):
    try:
        with open(path) as f: return json.load(f)
    except (OSError, ValueError): return None
rules = ['steepest', 'min/10', 'valley', 'window']
summary = {}
for t in tasks:
    print(f'\n## {t}: grid (train_val error, mean over seeds {" ".join(seeds)})')
    means = {}
    for lr in grid:
        errs = [j['metrics']['train_val_error'] for s in seeds
                if (j := load(f'{out}/grid-{t}-{lr}-{s}/decompose.json'))]
        if errs:
            m = sum(errs) / len(errs)
            sd = math.sqrt(sum((e - m) ** 2 for e in errs) / max(1, len(errs) - 1))
            means[float(lr)] = (m, sd / math.sqrt(len(errs)))
            print(f'  lr {float(lr):.3g}: {m:.4f} ± {sd / math.sqrt(len(errs)):.4f} (n={len(errs)})')
    best = min(means, key=lambda k: means[k][0])
    print(f'  best lr {best:.3g} (error {means[best][0]:.4f})')
    def grid_err(lr):   # the error of the nearest grid lr (log distance)
        k = min(means, key=lambda g: abs(math.log(g / lr)))
        return means[k][0]
    print(f'\n## {t}: suggestions (seeds {" ".join(seeds)}) against the grid best {best:.3g}')
    print('| variant | rule | suggestions | spread (max/min) | worst ratio to best | within 3x | error at suggestion (mean) |')
    print('|---|---|---|---|---|---|---|')
    for v in variants:
        for r in rules:
            sug = []
            for s in seeds:
                j = load(f'{out}/find-{t}-{v}-{s}/lr-find.json')
                x = j and j['metrics']['rules'].get(r)
                sug.append(x if isinstance(x, (int, float)) else None)
            ok = [x for x in sug if x]
            within = sum(1 for x in ok if abs(math.log(x / best)) <= math.log(3))
            worst = max((max(x / best, best / x) for x in ok), default=float('nan'))
            spread = max(ok) / min(ok) if ok else float('nan')
            err = sum(grid_err(x) for x in ok) / len(ok) if ok else float('nan')
            summary.setdefault((v, r), []).append((within, len(seeds), worst))
            print(f'| {v} | {r} | {" ".join("%.2g" % x if x else "none" for x in sug)} | {spread:.2f} | '
                  f'{worst:.2f} | {within}/{len(seeds)} | {err:.4f} |')
    tuned = []
    for s in seeds:
        j = load(f'{out}/tune-{t}-{s}/tune.json')
        f = load(f'{out}/find-{t}-{sys.argv[6]}-{s}/lr-find.json')
        if j and f and j['metrics'].get('best'):
            tuned.append((f['metrics']['suggested_lr'], j['metrics']['best']['params']['train.lr'],
                          j['metrics']['best']['train_val_error']))
    if tuned:
        print(f'\n## {t}: tune after lr-find ({sys.argv[6]}): suggestion, tuned lr, its train_val error')
        for sug, lr, err in tuned:
            print(f'  suggested {sug:.3g}  tuned {lr:.3g} ({lr / sug:.2f}x the suggestion, {lr / best:.2f}x the grid best)'
                  f'  error {err:.4f}')
print('\n## all tasks: seeds within 3x of the grid best, and the worst ratio')
print('| variant | rule | within 3x | worst ratio |')
print('|---|---|---|---|')
for (v, r), rows in summary.items():
    print(f'| {v} | {r} | {sum(a for a, _, _ in rows)}/{sum(b for _, b, _ in rows)} | '
          f'{max(c for _, _, c in rows):.2f} |')
EOF
