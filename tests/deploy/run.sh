#!/usr/bin/env bash
# Deployment tests: builds what they need, then runs pytest on tests/deploy/.
#   - a Release build of `sluice` ($SLUICE_CACHE/build-deploy), configured like the container
#     image and the Debian package (the package itself is built by test_deb.py with cpack);
#   - helm, installed as a Go module into $SLUICE_CACHE/bin (GOPATH, module and build caches under
#     $SLUICE_CACHE/go, so a second run downloads and compiles nothing).
# Usage: tests/deploy/run.sh [pytest args]     (deploy/test.sh runs it after the integration tests)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
helm_version=v3.22.0
build=$cache/build-deploy
export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target sluice

helm=$cache/bin/helm
if [ ! -x "$helm" ] || ! "$helm" version --short 2>/dev/null | grep -q "^${helm_version%.*}"; then
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  echo "deploy tests: installing helm $helm_version (Go module) into $cache/bin" >&2
  GOBIN=$cache/bin GOPATH=$cache/go GOMODCACHE=$cache/go/pkg/mod GOCACHE=$cache/go/cache GOFLAGS=-modcacherw \
    go install "helm.sh/helm/v3/cmd/helm@$helm_version"
fi

SLUICE_DEPLOY_BUILD_DIR=$build SLUICE_HELM=$helm SLUICE_CACHE=$cache \
  "$cache/venv/bin/python" -m pytest -q -p no:cacheprovider "$here/tests/deploy" "$@"
