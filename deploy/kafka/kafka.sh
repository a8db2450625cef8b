#!/usr/bin/env bash
# A real, single-node Apache Kafka (KRaft) on 127.0.0.1 for Sluice's tests and for trying Sluice.
# No download other than Maven Central: the broker's jars are resolved with `mvn` from
# deploy/kafka/pom.xml and cached. See deploy/kafka/README.md.
#
#   kafka.sh fetch                                   resolve + cache the jars (idempotent)
#   kafka.sh start   --dir DIR [--port N]            format + start, wait until ready, print bootstrap
#   kafka.sh stop    --dir DIR                       SIGTERM, wait, SIGKILL after a timeout
#   kafka.sh kill    --dir DIR                       SIGKILL (outage tests)
#   kafka.sh restart --dir DIR                       start again, same ports and data (outage tests)
#   kafka.sh status  --dir DIR                       exit 0 and print pid/bootstrap/RSS if running, else 3
#   kafka.sh bootstrap --dir DIR                     print 127.0.0.1:PORT
#   kafka.sh create-topic --dir DIR NAME [--partitions N]
#   kafka.sh consume --dir DIR TOPIC [--count N] [--timeout S]   JSON lines on stdout
#   kafka.sh run-class --dir DIR CLASS [ARGS...]     any class on the broker's classpath
#   kafka.sh selftest [--dir DIR]                    librdkafka idempotent+lz4 produce, checked on disk
#
# Environment:
#   SLUICE_KAFKA_VERSION        Kafka release (default below; README says why)
#   SLUICE_CACHE                cache root (default <repo>/.cache); jars go to kafka/<version>/libs
#   SLUICE_KAFKA_HEAP           JVM heap flags (default "-Xms256m -Xmx512m")
#   SLUICE_KAFKA_START_TIMEOUT  seconds to wait for readiness (default 60)
#   SLUICE_KAFKA_STOP_TIMEOUT   seconds between SIGTERM and SIGKILL (default 30)
# Only the bootstrap address (start/restart/bootstrap) and messages (consume) go to stdout.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
repo=$(cd "$here/../.." && pwd)
DEFAULT_KAFKA_VERSION=4.4.0
cache_root=${SLUICE_CACHE:-$repo/.cache}/kafka
heap=${SLUICE_KAFKA_HEAP:--Xms256m -Xmx512m}
start_timeout=${SLUICE_KAFKA_START_TIMEOUT:-60}
stop_timeout=${SLUICE_KAFKA_STOP_TIMEOUT:-30}

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }

apt_updated=0
apt_install() {  # apt_install PKG... (root, or password-less sudo)
  export DEBIAN_FRONTEND=noninteractive
  if [ $apt_updated = 0 ]; then as_root apt-get update -q >/dev/null || return 1; apt_updated=1; fi
  as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# --- prerequisites -------------------------------------------------------------------------------

java_major() { java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | sed 's/^1\.//'; }

ensure_java() {  # Kafka 4.x brokers need Java 17; 3.9 runs on 11+. Debian 12 ships 17.
  local v=""
  command -v java >/dev/null && v=$(java_major)
  if ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt 17 ]; then
    log "installing a Java 17 runtime (openjdk-17-jre-headless)"
    apt_install openjdk-17-jre-headless || die "need Java 17+ on PATH (apt-get install openjdk-17-jre-headless)"
  fi
}

ensure_mvn() {
  command -v mvn >/dev/null && return
  log "installing maven"
  apt_install maven || die "need mvn on PATH (apt-get install maven)"
}

ensure_kcat() {
  command -v kcat >/dev/null && return
  log "installing kcat"
  apt_install kcat || die "need kcat on PATH (apt-get install kcat)"
}

# --- the jars ------------------------------------------------------------------------------------

set_version() {  # set_version VERSION: the version's cache paths
  version=$1
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "bad Kafka version '$version'"
  vcache=$cache_root/$version
  libs=$vcache/libs
}

fetched() { [ -f "$vcache/.complete" ] && [ -d "$libs" ]; }

cmd_fetch() {
  fetched && { log "Kafka $version jars already cached in $libs"; return 0; }
  ensure_java; ensure_mvn
  mkdir -p "$vcache"
  exec 9>"$vcache/.lock"
  flock 9                          # concurrent fetches of one version: one resolves, the rest wait
  if fetched; then exec 9>&-; return 0; fi
  local profile=kafka3
  [ "${version%%.*}" -ge 4 ] && profile=kafka4
  local tmp=$vcache/libs.tmp.$$
  rm -rf "$tmp"
  log "resolving Kafka $version ($profile) with Maven into $libs"
  if ! mvn -q -B -f "$here/pom.xml" -P"$profile" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$vcache/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$vcache/mvn.log" >&2
    rm -rf "$tmp"
    die "mvn could not resolve org.apache.kafka:kafka_2.13:$version (is it on Maven Central?)"
  fi
  [ -f "$tmp/kafka_2.13-$version.jar" ] || { rm -rf "$tmp"; die "resolved classpath lacks kafka_2.13-$version.jar"; }
  rm -rf "$libs"
  mv "$tmp" "$libs"
  (cd "$libs" && ls) >"$vcache/.complete"
  exec 9>&-
  log "cached $(wc -l <"$vcache/.complete") jars, $(du -sh "$libs" | cut -f1)"
}

# A jar's entry names are stored uncompressed (local headers, central directory): grep finds them,
# no unzip needed.
has_class() { local j; for j in "$libs"/*.jar; do grep -aqF "$1" "$j" && return 0; done; return 1; }

storage_tool_class() {  # kafka.tools.StorageTool up to now; org.apache.kafka.tools.StorageTool if it moves
  if has_class kafka/tools/StorageTool.class; then echo kafka.tools.StorageTool
  elif has_class org/apache/kafka/tools/StorageTool.class; then echo org.apache.kafka.tools.StorageTool
  else die "no StorageTool class in $libs"; fi
}

# Tools (StorageTool, TopicCommand, ...) log warnings only, to stderr.
run_tool() {  # run_tool CLASS ARGS...
  java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$dir/tools-log4j.properties" \
    -Dlog4j2.configurationFile="$dir/tools-log4j2.properties" \
    -cp "$libs/*" "$@"
}

# --- a broker's directory ------------------------------------------------------------------------
# DIR/kafka.env (VERSION, PORT, CONTROLLER_PORT), DIR/server.properties, DIR/data/ (KRaft log dir),
# DIR/broker.log (stdout+stderr of the JVM), DIR/broker.pid.

parse_dir() {  # sets dir, rest=() from the arguments
  dir=""; rest=()
  while [ $# -gt 0 ]; do
    case $1 in
      --dir) [ $# -ge 2 ] || die "--dir needs a value"; dir=$2; shift 2 ;;
      --dir=*) dir=${1#--dir=}; shift ;;
      *) rest+=("$1"); shift ;;
    esac
  done
  [ -n "$dir" ] || die "--dir DIR is required"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
}

load_env() {  # reads DIR/kafka.env; fails if the broker was never started in DIR
  [ -f "$dir/kafka.env" ] || die "no broker in $dir (run: kafka.sh start --dir $dir)"
  # shellcheck disable=SC1091
  . "$dir/kafka.env"
  # shellcheck disable=SC2153  # VERSION comes from kafka.env
  set_version "$VERSION"
  bootstrap=127.0.0.1:$PORT
}

alive() {  # alive PID: running and not a zombie
  local st
  [ -r "/proc/$1/stat" ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
  [ "$st" != Z ] && [ "$st" != X ]
}

# The pid in DIR/broker.pid if it is still this directory's broker (guards against pid reuse).
broker_pid() {
  local pid
  [ -f "$dir/broker.pid" ] || return 1
  pid=$(cat "$dir/broker.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F "kafka.Kafka $dir/server.properties" >/dev/null || return 1
  echo "$pid"
}

free_ports() {  # two distinct free TCP ports on 127.0.0.1
  if command -v python3 >/dev/null; then
    python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])'
  else
    local out=() p
    while [ ${#out[@]} -lt 2 ]; do
      p=$((20000 + RANDOM % 40000))
      [ -z "$(ss -Htln "sport = :$p")" ] && [[ " ${out[*]} " != *" $p "* ]] && out+=("$p")
    done
    echo "${out[@]}"
  fi
}

port_in_use() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

write_configs() {
  cat >"$dir/kafka.env" <<EOF
VERSION=$version
PORT=$PORT
CONTROLLER_PORT=$CONTROLLER_PORT
EOF
  cat >"$dir/server.properties" <<EOF
# Written by deploy/kafka/kafka.sh: single-node KRaft broker+controller, loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
# One node: every internal topic with replication factor 1.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=true
group.initial.rebalance.delay.ms=0
# Small: tests, not throughput.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.segment.bytes=16777216
log.retention.hours=24
log.cleaner.dedupe.buffer.size=8388608
# After a SIGKILL the restarted controller waits for the dead broker's session to expire before
# it accepts the new registration: 3 s instead of 9 s keeps kill+restart outage tests short.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
EOF
  cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = OUT
logger.req.name = kafka.request.logger
logger.req.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
  cat >"$dir/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
  cat >"$dir/tools-log4j2.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.err.ref = ERR
EOF
}

format_storage() {
  local id tool
  # A cluster id is 16 random bytes, base64url without padding (what `StorageTool random-uuid` prints).
  # One starting with '-' would be read as an option by the tool's argument parser: draw again.
  id=-
  while [[ $id == -* ]]; do id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
  tool=$(storage_tool_class)
  # Static quorum (controller.quorum.voters): no --standalone/--initial-controllers needed, on 3.9 and 4.x.
  if ! run_tool "$tool" format --cluster-id "$id" --config "$dir/server.properties" --ignore-formatted \
      >"$dir/format.log" 2>&1; then
    cat "$dir/format.log" >&2
    die "formatting $dir/data failed"
  fi
}

launched_pid=""
fresh_data=0
cleanup_launch() {  # on any failure of start: no orphan JVM, and DIR reusable by a new start
  local rc=$?
  if [ -n "$launched_pid" ] && alive "$launched_pid"; then
    kill -KILL "$launched_pid" 2>/dev/null || true
    wait "$launched_pid" 2>/dev/null || true
  fi
  launched_pid=""
  rm -f "$dir/broker.pid"
  [ "$fresh_data" = 0 ] || rm -rf "$dir/data"
  return $rc
}

launch() {  # starts the JVM in the background
  : >>"$dir/broker.log"
  echo "=== kafka.sh: starting Kafka $version on $bootstrap at $(date -u +%FT%TZ)" >>"$dir/broker.log"
  # The subshell execs java, so $! is the JVM's pid; it runs in DIR, its output goes to the log only.
  # shellcheck disable=SC2086
  (cd "$dir" && exec java $heap -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dkafka.logs.dir="$dir" \
    -Dlog4j.configuration="file:$dir/log4j.properties" \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$libs/*" kafka.Kafka "$dir/server.properties") </dev/null >>"$dir/broker.log" 2>&1 9>&- &
  launched_pid=$!
  echo "$launched_pid" >"$dir/broker.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ready() {  # accepts connections, and a metadata request is answered with this broker in it
  local md
  port_open "$PORT" || return 1
  md=$(timeout 10 kcat -L -b "$bootstrap" -m 3 -q 2>/dev/null) || return 1
  grep -q "broker 1 at 127.0.0.1:$PORT" <<<"$md"
}

wait_ready() {  # returns 0 ready, 1 JVM died, 2 timeout
  local t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$start_timeout" ]; do
    alive "$launched_pid" || return 1
    ready && return 0
    sleep 0.2
  done
  return 2
}

cmd_start() {  # cmd_start [restart]
  local restart=${1:-} port="" rc formatted=0 t0 ms
  set -- "${rest[@]+"${rest[@]}"}"
  while [ $# -gt 0 ]; do
    case $1 in
      --port) [ $# -ge 2 ] || die "--port needs a value"; port=$2; shift 2 ;;
      --port=*) port=${1#--port=}; shift ;;
      *) die "start: unknown argument '$1'" ;;
    esac
  done
  if pid=$(broker_pid); then die "a broker is already running in $dir (pid $pid)"; fi
  rm -f "$dir/broker.pid"
  if [ -n "$restart" ]; then
    load_env
    [ -z "$port" ] || [ "$port" = "$PORT" ] || die "restart keeps port $PORT"
    [ -f "$dir/data/meta.properties" ] || die "restart: $dir/data is not formatted"
  else
    [ ! -f "$dir/data/meta.properties" ] || die "$dir already holds a broker's data: use restart, or an empty DIR"
    set_version "${SLUICE_KAFKA_VERSION:-$DEFAULT_KAFKA_VERSION}"
  fi
  ensure_java; ensure_kcat
  fetched || cmd_fetch
  trap cleanup_launch EXIT
  trap 'exit 130' INT TERM

  for _ in 1 2 3; do
    if [ -z "$restart" ]; then
      if [ -z "$port" ] || [ "$port" = 0 ]; then
        read -r PORT CONTROLLER_PORT <<<"$(free_ports)"
      else
        [[ $port =~ ^[0-9]+$ ]] || die "bad --port '$port'"
        PORT=$port
        read -r CONTROLLER_PORT _ <<<"$(free_ports)"
        [ "$CONTROLLER_PORT" != "$PORT" ] || read -r _ CONTROLLER_PORT <<<"$(free_ports)"
      fi
      bootstrap=127.0.0.1:$PORT
      write_configs
      rm -rf "$dir/data"
      fresh_data=1
      format_storage
      formatted=1
    fi
    if port_in_use "$PORT"; then
      [ $formatted = 1 ] && { [ -z "$port" ] || [ "$port" = 0 ]; } && continue   # taken meanwhile: pick again
      die "port $PORT on 127.0.0.1 is in use"
    fi
    t0=$(date +%s%N)
    launch
    rc=0; wait_ready || rc=$?
    if [ $rc = 0 ]; then
      launched_pid=""   # success: the broker outlives this script
      fresh_data=0
      trap - EXIT INT TERM
      ms=$((($(date +%s%N) - t0) / 1000000))
      log "Kafka $version ready on $bootstrap in $((ms / 1000)).$(printf %03d $((ms % 1000)))s" \
          "(pid $(cat "$dir/broker.pid"), log $dir/broker.log)"
      echo "$bootstrap"
      return 0
    fi
    cleanup_launch || true
    # A free port picked by us may have been taken before the JVM bound it: pick again.
    if [ $rc = 1 ] && [ $formatted = 1 ] && { [ -z "$port" ] || [ "$port" = 0 ]; } &&
        tail -n 50 "$dir/broker.log" | grep 'Address already in use' >/dev/null; then
      log "port race, retrying with new ports"; continue
    fi
    break
  done
  log "broker did not become ready ($([ $rc = 1 ] && echo 'JVM exited' || echo "timeout ${start_timeout}s")); last log lines:"
  tail -n 30 "$dir/broker.log" >&2
  exit 1
}

signal_and_wait() {  # signal_and_wait SIG TIMEOUT: returns 0 once gone
  local pid=$1 sig=$2 timeout=$3 t0=$SECONDS
  kill -"$sig" "$pid" 2>/dev/null || true
  while alive "$pid"; do
    [ $((SECONDS - t0)) -ge "$timeout" ] && return 1
    sleep 0.2
  done
}

cmd_stop() {
  local pid
  if ! pid=$(broker_pid); then rm -f "$dir/broker.pid"; log "no broker running in $dir"; return 0; fi
  if ! signal_and_wait "$pid" TERM "$stop_timeout"; then
    log "broker $pid still up ${stop_timeout}s after SIGTERM: SIGKILL"
    signal_and_wait "$pid" KILL 10 || die "pid $pid survived SIGKILL"
  fi
  rm -f "$dir/broker.pid"
  log "stopped broker $pid"
}

cmd_kill() {
  local pid
  if ! pid=$(broker_pid); then rm -f "$dir/broker.pid"; log "no broker running in $dir"; return 0; fi
  signal_and_wait "$pid" KILL 10 || die "pid $pid survived SIGKILL"
  rm -f "$dir/broker.pid"
  log "killed broker $pid"
}

cmd_status() {
  local pid rss
  [ -f "$dir/kafka.env" ] || { echo "no broker in $dir"; exit 3; }
  load_env
  if pid=$(broker_pid); then
    rss=$(awk '/^VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status")
    if ready; then echo "running pid=$pid bootstrap=$bootstrap version=$version rss=\"$rss\""; return 0; fi
    echo "starting-or-unresponsive pid=$pid bootstrap=$bootstrap version=$version rss=\"$rss\""; exit 4
  fi
  echo "stopped bootstrap=$bootstrap version=$version"; exit 3
}

cmd_create_topic() {
  local name="" partitions=1
  set -- "${rest[@]+"${rest[@]}"}"
  while [ $# -gt 0 ]; do
    case $1 in
      --partitions) [ $# -ge 2 ] || die "--partitions needs a value"; partitions=$2; shift 2 ;;
      --partitions=*) partitions=${1#--partitions=}; shift ;;
      -*) die "create-topic: unknown option '$1'" ;;
      *) [ -z "$name" ] || die "create-topic: one topic name"; name=$1; shift ;;
    esac
  done
  [ -n "$name" ] || die "create-topic: topic name missing"
  load_env
  broker_pid >/dev/null || die "no broker running in $dir"
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$name" --partitions "$partitions" --replication-factor 1 >&2
}

cmd_consume() {
  local topic="" count="" timeout_s=30 rc out n
  set -- "${rest[@]+"${rest[@]}"}"
  while [ $# -gt 0 ]; do
    case $1 in
      --count) [ $# -ge 2 ] || die "--count needs a value"; count=$2; shift 2 ;;
      --count=*) count=${1#--count=}; shift ;;
      --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; timeout_s=$2; shift 2 ;;
      --timeout=*) timeout_s=${1#--timeout=}; shift ;;
      -*) die "consume: unknown option '$1'" ;;
      *) [ -z "$topic" ] || die "consume: one topic"; topic=$1; shift ;;
    esac
  done
  [ -n "$topic" ] || die "consume: topic missing"
  load_env
  ensure_kcat
  # kcat -J: {"topic","partition","offset","tstype","ts","broker","headers"?,"key","payload"}.
  # Renamed to "value" so the contract does not depend on the tool. An unescaped "payload": can
  # only be the object key: quotes inside JSON strings are escaped.
  local args=(-C -b "$bootstrap" -t "$topic" -o beginning -J -q -m 5 -X fetch.wait.max.ms=100)
  if [ -n "$count" ]; then args+=(-c "$count"); else args+=(-e); fi
  out=$(mktemp)
  rc=0
  timeout "$timeout_s" kcat "${args[@]}" >"$out" || rc=$?
  sed 's/"payload":/"value":/' "$out"
  n=$(grep -c . "$out" || true)
  rm -f "$out"
  if [ -n "$count" ] && [ "$n" -lt "$count" ]; then
    die "consume: got $n of $count messages from $topic within ${timeout_s}s (kcat rc=$rc)"
  fi
  [ $rc = 0 ] || [ $rc = 124 ] || die "consume: kcat failed (rc=$rc)"
  [ $rc = 0 ] || [ -n "$count" ] || die "consume: timed out after ${timeout_s}s before the end of $topic"
}

dump_log_class() {  # moved from core (kafka.tools) to the tools module in later 4.x releases
  if has_class org/apache/kafka/tools/DumpLogSegments.class; then echo org.apache.kafka.tools.DumpLogSegments
  else echo kafka.tools.DumpLogSegments; fi
}

# Produces with the Debian librdkafka (through kcat) the way Sluice does: enable.idempotence=true,
# acks=all, lz4; then checks on the broker's own log segments that the batches carry a producer id
# and are lz4-compressed, and reads everything back. Starts (and stops) its own broker unless
# --dir names a running one.
cmd_selftest() {
  local own="" n=1000 i topic work pid_line files dump batches lz4 pids got
  ensure_kcat
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-selftest.XXXXXX")
    own=1
    # shellcheck disable=SC2064
    trap "'$self' stop --dir '$dir' >/dev/null 2>&1 || true; rm -rf '$dir'" EXIT
    bash "$self" start --dir "$dir" >/dev/null
  fi
  load_env
  broker_pid >/dev/null || die "no broker running in $dir"
  topic=sluice-selftest-$(date +%s)-$$
  work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-kafka-selftest-work.XXXXXX")
  bash "$self" create-topic --dir "$dir" "$topic" --partitions 3 >/dev/null 2>&1
  for ((i = 0; i < n; i++)); do printf 'tenant-%d\t{"seq":%d,"pad":"%s"}\n' $((i % 7)) "$i" aaaaaaaaaaaaaaaaaaaaaaaa; done >"$work/in"
  kcat -P -b "$bootstrap" -t "$topic" -K '\t' -z lz4 -X enable.idempotence=true -X acks=all \
    -X linger.ms=20 -d eos -l "$work/in" 2>"$work/producer.log" || { cat "$work/producer.log" >&2; die "selftest: kcat producer failed"; }
  pid_line=$(grep -o 'Acquired PID{[^}]*}' "$work/producer.log" | head -1 || true)
  [ -n "$pid_line" ] || { tail -n 20 "$work/producer.log" >&2; die "selftest: the producer never acquired a producer id: idempotence is not active"; }
  grep -q 'Broker does not support compression' "$work/producer.log" && die "selftest: librdkafka fell back to no compression"
  files=("$dir"/data/"$topic"-*/*.log)
  dump=$(run_tool "$(dump_log_class)" --files "$(IFS=,; echo "${files[*]}")" 2>/dev/null)
  batches=$(grep -c 'baseOffset:' <<<"$dump" || true)
  lz4=$(grep 'baseOffset:' <<<"$dump" | grep -c 'compresscodec: lz4' || true)
  pids=$(grep -o 'producerId: [-0-9]*' <<<"$dump" | sort -u | tr '\n' ' ')
  if [ "$batches" = 0 ] || [ "$batches" != "$lz4" ]; then die "selftest: $lz4 of $batches batches are lz4"; fi
  [[ $pids =~ ^(producerId:\ [0-9]+\ )+$ ]] || die "selftest: batches without a producer id ($pids)"
  got=$(bash "$self" consume --dir "$dir" "$topic" --count "$n" --timeout 30 | grep -c '"value":' || true)
  [ "$got" = "$n" ] || die "selftest: read back $got of $n"
  rm -rf "$work"
  echo "selftest ok: Kafka $version, $(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*' | head -1):" \
       "$pid_line; $batches batches, all lz4, ${pids% }; $got/$n messages read back"
  [ -z "$own" ] || log "stopping the selftest broker"
}

cmd_run_class() {
  load_env
  [ ${#rest[@]} -ge 1 ] || die "run-class: CLASS missing"
  run_tool "${rest[@]}"
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$self"; }

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    fetch)
      set_version "${SLUICE_KAFKA_VERSION:-$DEFAULT_KAFKA_VERSION}"
      [ $# = 0 ] || die "fetch takes no arguments (version: SLUICE_KAFKA_VERSION)"
      cmd_fetch ;;
    start)        parse_dir "$@"; cmd_start ;;
    restart)      parse_dir "$@"; [ ${#rest[@]} = 0 ] || die "restart takes only --dir"
                  load_env; cmd_stop; rest=(); cmd_start restart ;;
    stop)         parse_dir "$@"; cmd_stop ;;
    kill)         parse_dir "$@"; cmd_kill ;;
    status)       parse_dir "$@"; cmd_status ;;
    bootstrap)    parse_dir "$@"; load_env; echo "$bootstrap" ;;
    create-topic) parse_dir "$@"; cmd_create_topic ;;
    consume)      parse_dir "$@"; cmd_consume ;;
    run-class)    parse_dir "$@"; cmd_run_class ;;
    selftest)     dir=""; rest=()
                  if [ $# -gt 0 ]; then parse_dir "$@"; [ ${#rest[@]} = 0 ] || die "selftest takes only --dir"; fi
                  cmd_selftest ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
