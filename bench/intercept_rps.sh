#!/bin/sh
# HTTPS_PROXY-mode RPS vs base-URL mode over Sluice's TLS listener, in one run
# (bench/intercept_rps.py has the method). Builds what it needs in a Release tree first.
#
#   bench/intercept_rps.sh [--build DIR] [--rounds N] [--duration S] [--connections C]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/.cache/build-intercept-rel"
if [ "${1:-}" = "--build" ]; then build=$2; shift 2; fi
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
cmake --build "$build" --target sluice sluice-mock intercept_load intercept_bench >/dev/null
py="$here/.cache/venv/bin/python"
[ -x "$py" ] || py=python3
exec "$py" "$here/bench/intercept_rps.py" --build "$build" "$@"
