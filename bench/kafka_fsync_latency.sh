#!/usr/bin/env bash
# Time to the last byte of each call through Sluice with the Kafka sink's spool.fsync `always`
# (final bytes held until the event is durable) vs `interval`. Method: bench/kafka_fsync_latency.py.
#
#   bench/kafka_fsync_latency.sh [--seconds N] [--rounds N] [--rps N] [--build DIR] [--no-build]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=5 rounds=3 rps=2000 build=$here/.cache/build-kafka-release do_build=1
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --rps) rps=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "kafka_fsync_latency.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
kafka=$here/deploy/kafka/kafka.sh
if [ $do_build = 1 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
  cmake --build "$build" --target sluice sluice-mock >/dev/null
fi
work=$(mktemp -d /tmp/sluice-kafka-fsync-XXXXXX)
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
python3 "$here/bench/kafka_fsync_latency.py" --build "$build" --mock-port "$(cat "$work/mock.port")" \
  --bootstrap "$bs" --seconds "$seconds" --rounds "$rounds" --rps "$rps" --work "$work"
