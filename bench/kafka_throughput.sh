#!/usr/bin/env bash
# Sustained throughput of Sluice's Kafka sink into a real local broker (issue 3 target:
# >= 50,000 events/s of ~1 KB with fsync: interval 10 ms).
#
#   bench/kafka_throughput.sh [--seconds N] [--bytes B] [--fsync interval|never|always]
#                             [--build DIR] [--no-build]
#
# Builds kafka_throughput (Release, in DIR, default .cache/build-kafka-release), starts a broker
# with deploy/kafka/kafka.sh in a temporary directory, creates a 3-partition topic, runs the
# driver (bench/kafka_throughput.cc: publishes for N seconds, waits until Kafka acknowledged
# everything, prints one JSON line), then counts the messages on the broker with kcat and
# checks that every event is there. The broker is stopped and the directories removed on exit.
# The broker and the driver share the machine's cores.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=10 bytes=1024 fsync=interval build=$here/.cache/build-kafka-release do_build=1
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --fsync) fsync=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    *) echo "kafka_throughput.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
kafka=$here/deploy/kafka/kafka.sh
if [ $do_build = 1 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSLUICE_TESTS=OFF -DSLUICE_BENCH=ON >/dev/null
  cmake --build "$build" --target kafka_throughput >/dev/null
fi
work=$(mktemp -d /tmp/sluice-kafka-tput-XXXXXX)
cleanup() { "$kafka" stop --dir "$work/broker" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
bs=$("$kafka" start --dir "$work/broker")
topic=bench.events
"$kafka" create-topic --dir "$work/broker" "$topic" --partitions 3 >/dev/null 2>&1
echo "kafka_throughput.sh: broker $bs, $seconds s of ~$bytes-byte events, fsync $fsync" >&2
rc=0
result=$("$build/bench/kafka_throughput" --bootstrap "$bs" --spool "$work/spool" --topic "$topic" \
  --seconds "$seconds" --bytes "$bytes" --fsync "$fsync" 2> >(grep -v '^%' >&2)) || rc=$?
echo "$result"
[ $rc = 0 ] || { echo "kafka_throughput.sh: not every event was acknowledged (rc=$rc)" >&2; exit 1; }
# Every acknowledged event is on the broker (plus the warm-up events).
on_broker=$(timeout 120 kcat -C -b "$bs" -t "$topic" -o beginning -e -q -f '%o\n' | wc -l)
events=$(sed 's/.*"events":\([0-9]*\).*/\1/' <<<"$result")
echo "kafka_throughput.sh: $on_broker messages on the broker for $events events published" >&2
[ "$on_broker" -ge "$events" ]
