#!/bin/sh
# The ramp's "Done when" comparisons (issue 14): on the same budget,
#   Fashion-MNIST:                 lenet  vs resnet
#   Tiny Shakespeare (next char):  lstm   vs transformer
# each trained by `dnntrouble decompose` (train with early-stopping epoch
# restore on train_val, then the four splits measured), one line per run with
# train / train_val / test error, epochs and wall time.  The data is read in
# place from ../shared/data (never copied); a missing data set is skipped.
#
#   tools/ramp_compare.sh [BIN]          BIN: build/dnntrouble by default
#   RAMP_SEEDS ("0")  seeds per pair      RAMP_ONLY (images | text | both)
#   Images: RAMP_IMG_SUBSET (10000) training images, RAMP_IMG_EPOCHS (5), RAMP_IMG_LR (1e-3)
#   Text:   RAMP_TXT_SUBSET (20000) windows of RAMP_TXT_SEQ (32) characters, RAMP_TXT_EPOCHS (5),
#           RAMP_TXT_LR (1e-3), RAMP_TXT_HIDDEN (128: the lstm's state; the transformer's d stays 64)
bin=${1:-build/dnntrouble}
here=$(cd "$(dirname "$0")" && pwd)
data=${RAMP_DATA:-$here/../../shared/data}
seeds=${RAMP_SEEDS:-0}
only=${RAMP_ONLY:-both}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ramp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

lscpu 2>/dev/null | sed -n 's/^Model name: *\(.*\)/CPU: \1/p' | head -1
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
printf '%-14s %-12s %4s %8s %10s %9s %6s %8s\n' task arch seed train train_val test epochs seconds

# run NAME CONFIG SEED: decompose, then one line from its report
run() {
    out=$tmp/$1-$3
    t0=$(date +%s.%N)
    if ! "$bin" decompose "$2" --seed "$3" --out "$out" --quiet; then
        echo "$1: decompose failed" >&2
        return 1
    fi
    t1=$(date +%s.%N)
    /usr/bin/python3 - "$out/decompose.json" "$1" "$3" "$t0" "$t1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m, c = r["metrics"], r["config"]
task, arch = sys.argv[2].split(":")
print("%-14s %-12s %4s %8.4f %10.4f %9.4f %6d %8.0f" % (task, arch, sys.argv[3], m["train_error"],
      m["train_val_error"], m["test_error"], m.get("epochs_run", 0), float(sys.argv[5]) - float(sys.argv[4])))
EOF
}

fm=$data/fashion-mnist
if [ "$only" != text ]; then
    if [ -f "$fm/train-images-idx3-ubyte.gz" ]; then
        for arch in lenet resnet; do
            cat > "$tmp/fm-$arch.yaml" <<EOF
name: fashion-$arch
data:
  format: idx
  train: {images: $fm/train-images-idx3-ubyte.gz, labels: $fm/train-labels-idx1-ubyte.gz}
  test:  {images: $fm/t10k-images-idx3-ubyte.gz,  labels: $fm/t10k-labels-idx1-ubyte.gz}
  subset: {samples: ${RAMP_IMG_SUBSET:-10000}}
model: {arch: $arch}
train: {lr: ${RAMP_IMG_LR:-1.0e-3}, batch_size: 64, epochs: ${RAMP_IMG_EPOCHS:-5}, early_stopping: {patience: 0}}
EOF
            for s in $seeds; do run "fashion-mnist:$arch" "$tmp/fm-$arch.yaml" "$s"; done
        done
    else
        echo "(Fashion-MNIST skipped: $fm not found)"
    fi
fi

txt=$data/text/tinyshakespeare.txt
if [ "$only" != images ]; then
    if [ -f "$txt" ]; then
        for arch in lstm transformer; do
            hidden=""
            [ $arch = lstm ] && hidden="hidden: ${RAMP_TXT_HIDDEN:-128}, "
            cat > "$tmp/tx-$arch.yaml" <<EOF
name: shakespeare-$arch
data:
  format: text
  text: {path: $txt, seq_len: ${RAMP_TXT_SEQ:-32}}
  subset: {samples: ${RAMP_TXT_SUBSET:-20000}}
model: {${hidden}arch: $arch}
train: {lr: ${RAMP_TXT_LR:-1.0e-3}, batch_size: 64, epochs: ${RAMP_TXT_EPOCHS:-5}, clip_grad_norm: 5,
        early_stopping: {patience: 0}}
EOF
            for s in $seeds; do run "shakespeare:$arch" "$tmp/tx-$arch.yaml" "$s"; done
        done
    else
        echo "(Tiny Shakespeare skipped: $txt not found)"
    fi
fi
