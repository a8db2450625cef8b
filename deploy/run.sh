#!/usr/bin/env bash
# Sets up a fresh machine, builds Sluice (Release) and runs it on its embedded defaults
# (conf/sluice.yaml): 127.0.0.1:8080 for API calls, 127.0.0.1:9090 for health and metrics.
#
# To try it offline against the bundled mock provider instead of api.openai.com:
#   SLUICE_TRY_MOCK=1 deploy/run.sh
# starts sluice-mock on 127.0.0.1:8443 (TLS, with a throwaway CA) and points Sluice at it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${SLUICE_CACHE:-$here/.cache}
"$here/deploy/setup.sh" --build-only
build=$cache/build-release
export CCACHE_DIR=${CCACHE_DIR:-$cache/ccache}
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF -DSLUICE_BENCH=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target sluice sluice-mock

if [ "${SLUICE_TRY_MOCK:-0}" = 1 ]; then
  certs=$cache/try-certs
  mkdir -p "$certs"
  if [ ! -f "$certs/server.pem" ]; then
    (cd "$certs" &&
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
        -days 30 -subj "/CN=Sluice try-it CA" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign 2>/dev/null &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
        -out server.csr -subj /CN=localhost 2>/dev/null &&
      printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
        -days 30 -extfile ext.cnf 2>/dev/null)
  fi
  "$build/mock/sluice-mock" --listen 127.0.0.1:8443 --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" >/dev/null &
  mock_pid=$!
  trap 'kill $mock_pid 2>/dev/null' EXIT
  export SLUICE_OPENAI_URL=https://127.0.0.1:8443 SLUICE_ANTHROPIC_URL=https://127.0.0.1:8443
  export SLUICE_UPSTREAM_CA=$certs/ca.pem
  echo "sluice-mock on https://127.0.0.1:8443; try:" >&2
  echo "  OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=sk-demo python3 -c \"import openai; print(openai.OpenAI().chat.completions.create(model='gpt-4o', messages=[{'role':'user','content':'hi'}]).choices[0].message.content)\"" >&2
fi
"$build/proxy/sluice" "$@"
