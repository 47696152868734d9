#!/bin/sh
# Installs the Debian packages dnntrouble needs, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
#   sh tools/install-deps.sh        build and run (make, make demo)
#   sh tools/install-deps.sh test   also what the tests use: python3-torch for the trajectory
#                                   tests against PyTorch (tests/test_trajectory.c); without it
#                                   they skip with a message, so it is installed when possible
#                                   but its absence does not stop the build
PKGS="build-essential libcjson-dev libyaml-dev libopenblas-dev zlib1g-dev libcmocka-dev"
TEST_PKGS="python3-torch python3-numpy"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=""
for p in $PKGS; do installed "$p" || missing="$missing $p"; done
optional=""
if [ "$1" = test ]; then
    for p in $TEST_PKGS; do installed "$p" || optional="$optional $p"; done
fi
[ -z "$missing$optional" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    if [ -n "$missing" ]; then
        echo "installing:$missing"
        apt-get update -qq && apt-get install -y -qq $missing >/dev/null || {
            echo "apt-get install failed for:$missing" >&2; exit 1; }
    fi
    if [ -n "$optional" ]; then
        echo "installing (for the PyTorch trajectory tests):$optional"
        { [ -n "$missing" ] || apt-get update -qq; } && apt-get install -y -qq $optional >/dev/null ||
            echo "apt-get install failed for:$optional (the PyTorch trajectory tests will skip)" >&2
    fi
    exit 0
fi
if [ -n "$optional" ]; then
    echo "for the PyTorch trajectory tests (they skip without it):" >&2
    echo "run: sudo apt-get install -y$optional" >&2
fi
if [ -n "$missing" ]; then
    echo "missing packages:$missing" >&2
    echo "run: sudo apt-get install -y$missing" >&2
    exit 1
fi
exit 0
