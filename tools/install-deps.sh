#!/bin/sh
# Installs the Debian packages dnntrouble needs, when they are missing.
#   sh tools/install-deps.sh          build dependencies (make, make demo)
#   sh tools/install-deps.sh test     and what the tests use: Debian's PyTorch for the
#                                     golden, trajectory and export tests, and Debian's
#                                     Chromium (headless) for the report.html tests, and
#                                     Open MPI for tune --mpi and its tests
# As root it runs apt-get; otherwise it prints the exact command to run.  A
# missing build dependency is an error; a missing test extra is not (those
# tests skip with a message saying what to install).
BUILD="build-essential libcjson-dev libyaml-dev libopenblas-dev zlib1g-dev libcmocka-dev"
TEST="python3-torch python3-numpy chromium openmpi-bin libopenmpi-dev"

missing_of() {
    out=""
    for p in $1; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
    done
    echo "$out"
}

build=$(missing_of "$BUILD")
extra=""
[ "$1" = test ] && extra=$(missing_of "$TEST")
[ -z "$build$extra" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "apt-get update failed; trying the install anyway" >&2
    if [ -n "$build" ]; then
        echo "installing:$build"
        apt-get install -y -qq $build >/dev/null || { echo "apt-get install failed for:$build" >&2; exit 1; }
    fi
    if [ -n "$extra" ]; then
        echo "installing test extras:$extra"
        apt-get install -y -qq $extra >/dev/null ||
            echo "apt-get install failed for:$extra; the tests that need them will skip" >&2
    fi
    exit 0
fi
if [ -n "$build" ]; then
    echo "missing packages:$build" >&2
    echo "run: sudo apt-get install -y$build$extra" >&2
    exit 1
fi
echo "missing test extras:$extra (tests that need them will skip)" >&2
echo "run: sudo apt-get install -y$extra" >&2
exit 0
