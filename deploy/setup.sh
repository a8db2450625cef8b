#!/usr/bin/env bash
# Idempotent machine setup for Sluice: Debian packages, the Python test venv.
# Usage: deploy/setup.sh [--build-only|--test]   (default: everything a developer needs)
# Cache directory: $SLUICE_CACHE (default .cache/ in the checkout) holds the venv and build trees.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
mode=${1:-all}
mkdir -p "$cache"

build_pkgs=(build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libsimdjson-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev ca-certificates openssl
  librdkafka-dev libvectorscan-dev libgoogle-perftools-dev)
test_pkgs=(python3-venv python3-pip curl clang-14 libclang-rt-14-dev
  nginx-light wrk nghttp2-client valgrind
  kcat redis-server openjdk-17-jre-headless maven gnuplot-nox iptables iproute2)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=()
want=("${build_pkgs[@]}")
[ "$mode" != "--build-only" ] && want+=("${test_pkgs[@]}")
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get update -q >/dev/null
  sudo_ apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  # nginx-light's package enables a default site on port 80; Sluice's bench runs its own nginx.
  if command -v systemctl >/dev/null && systemctl is-active nginx >/dev/null 2>&1; then sudo_ systemctl stop nginx || true; fi
  pkill -x nginx 2>/dev/null || true
fi

if [ "$mode" != "--build-only" ]; then
  venv=$cache/venv
  stamp=$venv/.sluice-reqs
  reqs=$here/tests/integration/requirements.txt
  if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
  if [ ! -f "$stamp" ] || ! cmp -s "$reqs" "$stamp"; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs"
    cp "$reqs" "$stamp"
  fi
fi
