#!/bin/sh
# Runs every test binary, prints each one's cmocka output, and closes with
# one summary line a CI reader understands: "N passed, N failed, N skipped".
# RUNNER (e.g. "valgrind --error-exitcode=99 ...") prefixes every binary.
# JOBS=N runs N binaries at once (valgrind: a core each); the outputs still
# print in the order given, each when its binary is done.
build=$1; shift
jobs=${JOBS:-1}
out_dir=$(mktemp -d "${TMPDIR:-/tmp}/dt-run-tests.XXXXXX") || exit 1
trap 'rm -rf "$out_dir"' EXIT
passed=0 failed=0 skipped=0 crashed=""

# One binary: its output and exit code into out_dir/N.out and N.rc.
run_one() {
    $RUNNER "$2" >"$out_dir/$1.out" 2>&1
    echo $? >"$out_dir/$1.rc"
}

count() {
    sed -n "s/^\[  $1 *\] \([0-9]*\) test.*/\1/p" "$2" | awk '{s+=$1} END {print s+0}'
}

# Prints binary N's output and adds up its counts.
report() {
    cat "$out_dir/$1.out"
    rc=$(cat "$out_dir/$1.rc")
    p=$(count PASSED "$out_dir/$1.out")
    f=$(count FAILED "$out_dir/$1.out")
    s=$(count SKIPPED "$out_dir/$1.out")
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    # A binary that died before cmocka could report counts as one failure.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); crashed="$crashed $2(rc=$rc)"
    # valgrind --quiet prints only errors, as ==PID== lines; a forked child's
    # errors do not reach the binary's exit code, so they count here.
    elif [ -n "${RUNNER:-}" ] && grep -q '^==[0-9]*== ' "$out_dir/$1.out"; then
        failed=$((failed + 1)); crashed="$crashed $2(valgrind errors)"
    fi
}

i=0
for t in "$@"; do
    i=$((i + 1))
    if [ "$jobs" -gt 1 ]; then
        run_one $i "$t" &
        # Throttle: wait until fewer than JOBS binaries are running.
        while [ "$(ls "$out_dir" | grep -c '\.rc$')" -le $((i - jobs)) ]; do sleep 1; done
    else
        run_one $i "$t"
        report $i "$t"
    fi
done
wait
if [ "$jobs" -gt 1 ]; then
    i=0
    for t in "$@"; do
        i=$((i + 1))
        report $i "$t"
    done
fi
[ -n "$crashed" ] && echo "crashed:$crashed"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
