#!/bin/sh
# make bench: dnntrouble's training throughput per model and batch, and —
# when Debian's python3-torch and ../shared/bench are present — PyTorch's on
# the same shapes in the same run, interleaved, with the ratio.
#
# Both sides run the same OpenBLAS kernel: dnntrouble picks it (replacing a
# generic fallback, see docs/design.md "BLAS kernel") and reports it in
# --json as blas_kernel; PyTorch (which takes its BLAS from the same Debian
# OpenBLAS) is started with OPENBLAS_CORETYPE set to that kernel, unless the
# user set OPENBLAS_CORETYPE, which then applies to both.
#
# Both sides run BENCH_THREADS threads.  torch.set_num_threads() (what
# torch_ref.py calls) sets OpenMP's threads, but Debian's torch leaves
# OpenBLAS's own pool at one thread per CPU, so PyTorch also gets
# OPENBLAS_NUM_THREADS and OMP_NUM_THREADS; the line "PyTorch: ..." shows the
# OpenBLAS threads that took effect.
#
#   BENCH_SECONDS (3)  timed seconds per measurement
#   BENCH_THREADS (1)  threads on both sides
#   BENCH_REPEAT  (1)  measurements per (model, batch), alternating ours and
#                      torch; the table shows medians and the ratio range
#   BENCH_MODELS  ("lenet mlp lstm resnet transformer"), BENCH_BATCHES ("64 256")
bin=$1
seconds=${BENCH_SECONDS:-3}
threads=${BENCH_THREADS:-1}
repeat=${BENCH_REPEAT:-1}
models=${BENCH_MODELS:-lenet mlp lstm resnet transformer}
batches=${BENCH_BATCHES:-64 256}
py=/usr/bin/python3
here=$(dirname "$0")
ref=$here/../../shared/bench/torch_ref.py
torch=0
if [ -f "$ref" ] && $py -c 'import torch' 2>/dev/null; then torch=1
else echo "(PyTorch side-by-side skipped: needs /usr/bin/python3 with python3-torch and ../shared/bench)"; fi

field() { # field NAME JSON-LINE: a number or a string value
    echo "$2" | sed -n "s/.*\"$1\": \"\{0,1\}\([^\",}]*\).*/\1/p"
}
# PyTorch with the same kernel and thread count as dnntrouble (see above).
torch_py() { OPENBLAS_CORETYPE=$tk_env OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads $py "$@"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

lscpu 2>/dev/null | sed -n 's/^Model name: *\(.*\)/CPU: \1/p' | head -1
"$bin" bench --model mlp --batch 64 --seconds 0.2 --threads "$threads" | sed -n '1,2p'   # BLAS, sgemm ceiling
kernel=$(field blas_kernel "$("$bin" bench --model mlp --batch 4 --seconds 0.01 --threads 1 --json | head -1)")
tk_env=$kernel
if [ $torch = 1 ]; then
    if [ -n "$OPENBLAS_CORETYPE" ] && [ -z "$DNNTROUBLE_BLAS_REPLACED" ]; then
        tk_env=$OPENBLAS_CORETYPE
        echo "PyTorch: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (yours, for both)"
    fi
    tj=$(torch_py "$here/bench_torch.py" mlp 4 "$threads" 0.01)
    tk=$(field blas_kernel "$tj")
    echo "PyTorch: $($py -c 'import torch; print(torch.__version__)' 2>/dev/null), OpenBLAS kernel $tk, $(field blas_threads "$tj") OpenBLAS thread(s)"
    [ "$tk" = "$kernel" ] || echo "warning: PyTorch runs OpenBLAS kernel '$tk', dnntrouble '$kernel'"
fi
echo "(medians of $repeat interleaved measurement(s) of ${seconds}s each; %ceil: of the sgemm ceiling measured in the same process)"
printf '%-6s %6s %14s %15s %8s %13s %8s %6s\n' model batch "ours samples/s" "torch samples/s" ratio "ratio range" GFLOP/s %ceil
for b in $batches; do
    for m in $models; do
        o="" t="" g="" c="" r=""
        i=0
        while [ $i -lt "$repeat" ]; do
            ours=$("$bin" bench --model "$m" --batch "$b" --threads "$threads" --seconds "$seconds" --json)
            os=$(field samples_per_s "$ours")
            o="$o $os"
            g="$g $(field gflops "$ours")"
            c="$c $(awk -v a="$(field gflops "$ours")" -v p="$(field peak_gflops "$ours")" 'BEGIN { printf "%.1f", (p > 0) ? 100 * a / p : 0 }')"
            if [ $torch = 1 ]; then
                ts=$(field samples_per_s "$(torch_py "$here/bench_torch.py" "$m" "$b" "$threads" "$seconds")")
                t="$t $ts"
                r="$r $(awk -v a="$os" -v b="$ts" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')"
            fi
            i=$((i + 1))
        done
        om=$(echo $o | tr ' ' '\n' | median)
        gm=$(echo $g | tr ' ' '\n' | median)
        cm=$(echo $c | tr ' ' '\n' | median)
        if [ $torch = 1 ]; then
            tm=$(echo $t | tr ' ' '\n' | median)
            ratio=$(awk -v a="$om" -v b="$tm" 'BEGIN { printf "%.2fx", (b > 0) ? a / b : 0 }')
            range=$(echo $r | tr ' ' '\n' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
        else tm=0; ratio="-"; range="-"; fi
        printf "%-6s %6d %14.0f %15.0f %8s %13s %8.2f %5.1f%%\n" "$m" "$b" "$om" "$tm" "$ratio" "$range" "$gm" "$cm"
    done
done
