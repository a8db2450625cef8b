#!/bin/bash
# Container health check: exit 0 when Sluice's admin listener answers GET /healthz with 200.
# Uses bash's /dev/tcp so the slim runtime image needs no curl. The port comes from
# SLUICE_ADMIN_LISTEN (host:port, as in sluice.yaml); the check always dials 127.0.0.1
# (or SLUICE_HEALTH_HOST), which reaches an admin listener bound to 0.0.0.0 or to loopback.
set -u
port=${SLUICE_ADMIN_LISTEN:-127.0.0.1:9090}
port=${port##*:}
host=${SLUICE_HEALTH_HOST:-127.0.0.1}
{ exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null || { echo "healthcheck: cannot connect to $host:$port" >&2; exit 1; }
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 3 status <&3 || { echo "healthcheck: no answer from $host:$port" >&2; exit 1; }
case $status in
  "HTTP/1.1 200"*) exit 0 ;;
  *) echo "healthcheck: $host:$port answered ${status%$'\r'}" >&2; exit 1 ;;
esac
