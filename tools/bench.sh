#!/bin/sh
# make bench: dnntrouble's training throughput per model and batch, and —
# when Debian's python3-torch and ../shared/bench are present — PyTorch's on
# the same shapes in the same run, interleaved, with the ratio.
bin=$1
seconds=${BENCH_SECONDS:-3}
threads=${BENCH_THREADS:-1}
py=/usr/bin/python3
ref=$(dirname "$0")/../../shared/bench/torch_ref.py
torch=0
if [ -f "$ref" ] && $py -c 'import torch' 2>/dev/null; then torch=1
else echo "(PyTorch side-by-side skipped: needs /usr/bin/python3 with python3-torch and ../shared/bench)"; fi
"$bin" bench --model mlp --batch 64 --seconds 0.2 --threads "$threads" | head -1   # sgemm ceiling
printf '%-6s %6s %14s %14s %8s %8s\n' model batch "ours samples/s" "torch samples/s" ratio GFLOP/s
for b in 64 256; do
    for m in lenet mlp lstm; do
        ours=$("$bin" bench --model "$m" --batch "$b" --threads "$threads" --seconds "$seconds" --json)
        os=$(echo "$ours" | sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p')
        gf=$(echo "$ours" | sed -n 's/.*"gflops": \([0-9.]*\).*/\1/p')
        if [ $torch = 1 ]; then
            t=$($py "$(dirname "$0")/bench_torch.py" "$m" "$b" "$threads" "$seconds" | sed -n 's/.*"samples_per_s": \([0-9.]*\).*/\1/p')
            ratio=$(awk -v a="$os" -v b="$t" 'BEGIN { printf "%.2fx", a / b }')
        else t=0; ratio="-"; fi
        printf "%-6s %6d %14.0f %14.0f %8s %8s\n" "$m" "$b" "$os" "$t" "$ratio" "$gf"
    done
done
