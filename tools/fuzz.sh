#!/bin/sh
# Builds each libFuzzer harness with clang (fuzzer + ASan + UBSan) and runs
# it for SECONDS, printing how many executions it survived.
#   usage: sh tools/fuzz.sh SECONDS tests/fuzz/fuzz_x.c ...
# FUZZ_RUNS=N stops each harness after N executions instead (or at SECONDS,
# whichever comes first).
# Library sources are compiled once into build/fuzz/libfuzzsrc.a (again when
# they or any header change); a source
# that does not compile (work in progress elsewhere) is skipped with a
# warning, and each harness links only what it needs from the archive.
# Seeds come from tests/fuzz/seeds/NAME/ when present; the working corpus
# is build/fuzz/corpus/NAME, crashes go to build/fuzz/crash-NAME-*.
secs=${1:?usage: fuzz.sh SECONDS harness.c...}; shift
CC=${FUZZ_CC:-clang}
out=build/fuzz
FLAGS="-g -O1 -std=c11 -Iinclude -I/usr/include/cjson -D_GNU_SOURCE -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
LIBS="-lopenblas -lcjson -lyaml -lz -lm -lpthread"
command -v "$CC" >/dev/null 2>&1 || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
mkdir -p "$out/obj"

objs=""
for src in $(find src -name '*.c' ! -path 'src/cli/*' | sort); do
    o="$out/obj/$(echo "$src" | tr / _).o"
    # A header newer than the object changes what it was compiled against (a
    # struct's layout): rebuild then too, or objects of two trees get linked.
    if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find include src -name '*.h' -newer "$o" | head -n 1)" ]; then
        if ! $CC $FLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$o" 2>"$o.log"; then
            echo "fuzz: warning: $src does not compile, skipped (see $o.log)" >&2
            rm -f "$o"
            continue
        fi
    fi
    objs="$objs $o"
done
rm -f "$out/libfuzzsrc.a"
ar rcs "$out/libfuzzsrc.a" $objs

status=0
for h in "$@"; do
    name=$(basename "$h" .c)
    bin="$out/$name"
    if ! $CC $FLAGS -fsanitize=fuzzer "$h" "$out/libfuzzsrc.a" -o "$bin" $LIBS; then
        echo "$name: BUILD FAILED"; status=1; continue
    fi
    corpus="$out/corpus/$name"
    mkdir -p "$corpus"
    seeds=""
    [ -d "tests/fuzz/seeds/${name#fuzz_}" ] && seeds="tests/fuzz/seeds/${name#fuzz_}"
    log="$out/$name.log"
    start=$(date +%s)
    "$bin" -max_total_time="$secs" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$out/crash-$name-" "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "$name: survived ${runs:-?} executions in $(( $(date +%s) - start ))s (corpus $(ls "$corpus" | wc -l) inputs)"
    else
        echo "$name: FAILED after ${runs:-?} executions (exit $rc); see $log"
        grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$log"
        status=1
    fi
done
exit $status
