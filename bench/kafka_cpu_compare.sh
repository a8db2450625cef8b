#!/usr/bin/env bash
# Sluice's own CPU time per request and p99 at half load, with the Kafka sink on and off
# (issue 3 target: on/off <= 1.1 for both). See bench/kafka_cpu_compare.py for the method.
#
#   bench/kafka_cpu_compare.sh [--seconds N (10)] [--rounds N (2)] [--build DIR] [--no-build]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$here/bench/lib/kafka_harness.sh" "$here/bench/kafka_cpu_compare.py" "$@"
