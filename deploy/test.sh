#!/usr/bin/env bash
# Sets up a fresh machine and runs every test: unit tests (GoogleTest, ctest) and integration
# tests (the real openai/anthropic SDKs through Sluice to sluice-mock) on one ASan+UBSan build.
# Idempotent; build trees and the Python venv are cached under $SLUICE_CACHE (default .cache/).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
"$here/deploy/setup.sh" --test

build=$cache/build-asan
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
# Paths relative to the checkout in ccache's keys: another clone of the tree reuses the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$here} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

status=0
echo "== unit tests (ctest)"
(cd "$build" && ctest --output-on-failure -j "$(nproc)") || status=1

echo "== fuzzing (SseFramer, libFuzzer, 30 s; the corpus is kept between runs)"
fuzz=$cache/build-fuzz
corpus=$cache/fuzz-corpus/sse_framer
mkdir -p "$corpus"
if cmake -S "$here" -B "$fuzz" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSLUICE_FUZZ=ON \
     -DSLUICE_TESTS=OFF -DSLUICE_BENCH=OFF >/dev/null &&
   cmake --build "$fuzz" --target sse_framer_fuzz >/dev/null; then
  mkdir -p "$cache/fuzz-artifacts"
  "$fuzz/tests/fuzz/sse_framer_fuzz" -max_total_time=30 -artifact_prefix="$cache/fuzz-artifacts/" "$corpus" >"$cache/fuzz.log" 2>&1 ||
    { tail -40 "$cache/fuzz.log"; echo "fuzzing found a failure (reproducer in $cache/fuzz-artifacts)"; status=1; }
  grep -E "^Done [0-9]+ runs" "$cache/fuzz.log" | tail -1 || true
else
  echo "fuzz build failed"; status=1
fi

echo "== integration tests (pytest)"
SLUICE_BUILD_DIR=$build "$cache/venv/bin/python" -m pytest -q "$here/tests/integration" "$@" || status=1

echo "== deployment tests (image build steps, Helm chart, .deb, dashboards)"
SLUICE_CACHE=$cache "$here/tests/deploy/run.sh" || status=1
exit $status
