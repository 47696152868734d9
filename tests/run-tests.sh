#!/bin/sh
# Runs every test binary, prints each one's cmocka output, and closes with
# one summary line a CI reader understands: "N passed, N failed, N skipped".
# RUNNER (e.g. "valgrind --error-exitcode=99 ...") prefixes every binary.
build=$1; shift
passed=0 failed=0 skipped=0 crashed=""
for t in "$@"; do
    out=$($RUNNER "$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    # A binary that died before cmocka could report counts as one failure.
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); crashed="$crashed $t(rc=$rc)"; fi
done
[ -n "$crashed" ] && echo "crashed:$crashed"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
