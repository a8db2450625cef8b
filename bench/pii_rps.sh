#!/usr/bin/env bash
# The pii filter end to end (issue 4): Sluice requests per second with the filter on both
# directions vs without it, alternated in one run (wrk with bench/lib/wrk.lua, non-streamed and
# streamed), and the time to the first text byte of a paced stream with and without the
# hold-back. Pinned like bench/run.sh: the proxies on CPU 0, sluice-mock and wrk on CPU 1.
#
# Usage: bench/pii_rps.sh [--build DIR] [--rounds N] [--secs S] [--ttft-n N] [--out FILE]
#   --build DIR  a Release build with sluice and sluice-mock (default .cache/build-release;
#                built here if missing)
# Needs wrk and taskset (deploy/setup.sh --test). Binds 127.0.0.1 only; stops what it starts.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
build=${BENCH_BUILD_DIR:-$cache/build-release}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift ;;
    --rounds|--secs|--ttft-n|--out|--conns|--token-delay-ms) args+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/pii_rps.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$(nproc)" -ge 2 ] || { echo "bench/pii_rps.sh: needs 2 CPUs" >&2; exit 1; }
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "bench/pii_rps.sh: $tool not found" >&2; exit 1; }
done
if [ ! -x "$build/proxy/sluice" ] || [ ! -x "$build/mock/sluice-mock" ]; then
  export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
  cmake --build "$build" -j "${BENCH_JOBS:-2}" --target sluice sluice-mock
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pii-rps.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 "$here/bench/pii_rps.py" --build "$build" --work "$work" \
  --proxy-cpu "${BENCH_PROXY_CPU:-0}" --load-cpu "${BENCH_LOAD_CPU:-1}" ${args[@]+"${args[@]}"}
