#!/usr/bin/env bash
# The harness of the end-to-end Kafka sink benchmarks: builds sluice and sluice-mock (Release),
# starts the mock and a broker (deploy/kafka/kafka.sh) in a temporary directory, runs
#   python3 SCRIPT --build DIR --mock-port P --bootstrap HOST:PORT --work TMP [ARGS...]
# and stops both and removes the directory on exit.
#
#   bench/lib/kafka_harness.sh SCRIPT.py [--build DIR] [--no-build] [ARGS passed to SCRIPT...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
script=$1
shift
name=$(basename "$script" .py)
build=$here/.cache/build-kafka-release do_build=1 args=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
kafka=$here/deploy/kafka/kafka.sh
if [ $do_build = 1 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
  cmake --build "$build" --target sluice sluice-mock >/dev/null
fi
work=$(mktemp -d "/tmp/sluice-$name-XXXXXX")
mock_pid=""
cleanup() {
  [ -z "$mock_pid" ] || kill "$mock_pid" 2>/dev/null || true
  "$kafka" stop --dir "$work/broker" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
"$build/mock/sluice-mock" --listen 127.0.0.1:0 --threads 1 --memory-records 0 --port-file "$work/mock.port" &
mock_pid=$!
for _ in $(seq 100); do [ -s "$work/mock.port" ] && break; sleep 0.05; done
bs=$("$kafka" start --dir "$work/broker")
python3 "$script" --build "$build" --mock-port "$(cat "$work/mock.port")" --bootstrap "$bs" \
  --work "$work" ${args[@]+"${args[@]}"}
