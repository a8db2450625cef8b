#!/usr/bin/env bash
# End-to-end benchmark, one run on one machine: sluice-mock directly, nginx as a plain reverse
# proxy (bench/nginx.conf.in), and Sluice with the filters of conf/sluice.yaml; non-streamed and
# streamed calls. Closed-loop throughput (wrk), fixed-rate latency (h2load --rps), time to first
# byte, memory per idle connection and RSS growth, callgrind instructions per request.
#
# Usage: bench/run.sh [--quick] [--out DIR] [--no-readme] [--no-setup] [--no-build]
#                     [--rounds N] [--phases tput,rate,ttfb,mem,cg] [--wait-quiet S] [--nice N]
#                     [--keep-work]
#   (default)    full run (about 12 minutes); writes bench/results/ and the "Latest figures"
#                section of bench/README.md
#   --quick      smoke test (under 3 minutes); writes $SLUICE_CACHE/bench-quick/, README untouched
#   --out DIR    write latest.json, nginx-T.txt, sluice-bench.yaml to DIR (README untouched
#                unless DIR is bench/results)
#   --no-setup   skip deploy/setup.sh --test;  --no-build  use the existing Release build
#   --wait-quiet S  wait up to S seconds for other processes to use < 0.1 CPU before starting
#   --nice N     run all benchmark processes at nice N (e.g. -10 on a shared machine; needs root)
#   --keep-work  keep the scratch directory (logs, h2load per-request logs, callgrind files)
# Needs 2+ CPUs; CPU 0 runs the proxy under test, CPU 1 the mock and the load generators
# (BENCH_PROXY_CPU / BENCH_LOAD_CPU change that). Binds 127.0.0.1 only.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
build=${BENCH_BUILD_DIR:-$cache/build-release}

quick=0 out="" readme=auto setup=1 do_build=1 keep_work=0 extra=()
orig_args="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --no-readme) readme=0 ;;
    --no-setup) setup=0 ;;
    --no-build) do_build=0 ;;
    --keep-work) keep_work=1 ;;
    --rounds|--phases|--wait-quiet|--nice) extra+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$out" ]; then
  if [ $quick = 1 ]; then out=$cache/bench-quick; else out=$here/bench/results; fi
fi
out=$(mkdir -p "$out" && cd "$out" && pwd)
if [ $readme = auto ]; then
  if [ "$out" = "$here/bench/results" ]; then readme=1; else readme=0; fi
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "bench/run.sh: needs at least 2 CPUs (proxy on one, mock and load generator on another)" >&2
  exit 1
fi

if [ $setup = 1 ]; then "$here/deploy/setup.sh" --test; fi
for tool in nginx wrk h2load valgrind taskset; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool not found (deploy/setup.sh --test installs it)" >&2; exit 1; }
done

if [ $do_build = 1 ]; then
  export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
  # Two jobs at most: this is shared with other builds on small machines.
  cmake --build "$build" -j "${BENCH_JOBS:-2}" --target sluice sluice-mock
fi

# 10,000 idle connections need as many descriptors in Sluice, nginx and the client.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

py=${PYTHON:-}
if [ -z "$py" ]; then
  if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=python3; fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
py_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$py_pid" ] && kill -0 "$py_pid" 2>/dev/null; then
    kill -TERM "$py_pid" 2>/dev/null || true
    wait "$py_pid" 2>/dev/null || true
  fi
  # Anything the benchmark started and did not stop: kill by pid, only if the pid still names
  # the same process (same start time).
  if [ -f "$work/pids" ]; then
    while read -r pid start; do
      [ -r "/proc/$pid/stat" ] || continue
      now=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $20}')
      if [ "$now" = "$start" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    done < "$work/pids"
  fi
  if [ $keep_work = 1 ]; then echo "bench/run.sh: scratch files kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command_line="bench/run.sh${orig_args:+ $orig_args}"
args=(--build "$build" --work "$work" --out "$out" --command "$command_line")
[ $quick = 1 ] && args+=(--quick)
args+=(--proxy-cpu "${BENCH_PROXY_CPU:-0}" --load-cpu "${BENCH_LOAD_CPU:-1}")
[ ${#extra[@]} -gt 0 ] && args+=("${extra[@]}")

"$py" "$here/bench/lib/bench.py" "${args[@]}" &
py_pid=$!
rc=0
wait "$py_pid" || rc=$?
py_pid=""

if [ $readme = 1 ] && [ $rc -ne 130 ]; then
  "$py" "$here/bench/lib/render.py" "$out/latest.json" "$here/bench/README.md" >/dev/null
  echo "bench/run.sh: updated bench/README.md (Latest figures) from $out/latest.json"
  if command -v gnuplot >/dev/null; then
    "$py" "$here/bench/lib/chart.py" "$out/latest.json" "$out/latest.png" >/dev/null &&
      echo "bench/run.sh: chart in $out/latest.png"
  fi
fi
[ $rc -ne 130 ] && echo "bench/run.sh: results in $out/latest.json"
exit $rc
