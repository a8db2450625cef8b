#!/bin/sh
# Transparent mode for a Sluice sidecar: redirect the pod's outgoing TCP to the given ports
# (HTTPS by default) into Sluice's transparent listener (intercept.transparent_address), like a
# service-mesh init container. Sluice learns the destination from SO_ORIGINAL_DST and the host
# from the TLS SNI (docs/interception.md).
#
# Runs as root with NET_ADMIN in the pod's network namespace, before the sidecar starts.
# Idempotent: running it again replaces the rules. `--uninstall` removes them.
#
# Environment:
#   SLUICE_UID               Sluice's uid; its own connections (to the real providers, the
#                            tunnels) are never redirected (required)
#   SLUICE_TRANSPARENT_PORT  the port of intercept.transparent_address (default 8443)
#   SLUICE_REDIRECT_PORTS    destination ports to redirect, space-separated (default "443")
#   SLUICE_EXCLUDE_CIDRS     destinations never redirected (default "127.0.0.0/8")
#   SLUICE_EXCLUDE_GID       also exempt this gid (optional)
#
# IPv4 only: the transparent listener is an IPv4 address. Pods with IPv6 egress should block it
# (or run a second listener on [::1]) so that nothing bypasses Sluice over IPv6.
set -eu

chain=SLUICE_OUTPUT
ipt=${IPTABLES:-iptables}

uninstall() {
  while $ipt -t nat -C OUTPUT -p tcp -j "$chain" 2>/dev/null; do
    $ipt -t nat -D OUTPUT -p tcp -j "$chain"
  done
  if $ipt -t nat -L "$chain" >/dev/null 2>&1; then
    $ipt -t nat -F "$chain"
    $ipt -t nat -X "$chain"
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  uninstall
  exit 0
fi

: "${SLUICE_UID:?set SLUICE_UID to the uid Sluice runs as (its own traffic must not loop back)}"
port=${SLUICE_TRANSPARENT_PORT:-8443}
ports=${SLUICE_REDIRECT_PORTS:-443}
excludes=${SLUICE_EXCLUDE_CIDRS:-127.0.0.0/8}

case "$SLUICE_UID$port" in
  *[!0-9]*) echo "sluice-iptables: SLUICE_UID and SLUICE_TRANSPARENT_PORT must be numbers" >&2; exit 2 ;;
esac

uninstall
$ipt -t nat -N "$chain"
$ipt -t nat -A "$chain" -m owner --uid-owner "$SLUICE_UID" -j RETURN
if [ -n "${SLUICE_EXCLUDE_GID:-}" ]; then
  $ipt -t nat -A "$chain" -m owner --gid-owner "$SLUICE_EXCLUDE_GID" -j RETURN
fi
for cidr in $excludes; do
  $ipt -t nat -A "$chain" -d "$cidr" -j RETURN
done
for p in $ports; do
  $ipt -t nat -A "$chain" -p tcp --dport "$p" -j REDIRECT --to-ports "$port"
done
$ipt -t nat -A OUTPUT -p tcp -j "$chain"
echo "sluice-iptables: tcp ports [$ports] -> :$port, except uid $SLUICE_UID and [$excludes]"
