#!/usr/bin/env bash
# Time to the last byte of each call through Sluice with the Kafka sink's spool.fsync `always`
# (final bytes held until the event is durable) vs `interval`. Method: bench/kafka_fsync_latency.py.
#
#   bench/kafka_fsync_latency.sh [--seconds N (5)] [--rounds N (3)] [--rps N (2000)] [--build DIR]
#                                [--no-build]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$here/bench/lib/kafka_harness.sh" "$here/bench/kafka_fsync_latency.py" "$@"
