#!/usr/bin/env bash
# Sluice's instructions per call with the Kafka sink on and off, per thread (callgrind). See
# bench/kafka_sink_instructions.py for the method.
#
#   bench/kafka_sink_instructions.sh [--seconds N (4)] [--rates LO,HI (100,300)] [--build DIR] [--no-build]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$here/bench/lib/kafka_harness.sh" "$here/bench/kafka_sink_instructions.py" "$@"
