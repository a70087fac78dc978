#!/usr/bin/env bash
# End-to-end checks of `dsvl serve` on 127.0.0.1 (random port):
#   1. e2e.test.mjs   the official openai client: completions, streams, images, errors, ...
#   2. page.test.mjs  the chat page in headless Chromium (skipped when Chromium is absent,
#                     unless DSVL_REQUIRE_CHROMIUM=1); screenshot → $DSVL_SCREENSHOT if set
#   3. load_test.mjs  64 concurrent streams with random disconnects, RSS check (--no-load skips)
#
# usage: tests/server_e2e/run.sh MODEL_DIR [--no-load] [--no-page]
#        tests/server_e2e/run.sh --fake    [--no-load] [--no-page]
# env:   DSVL_BIN (default build/dsvl), DSVL_SERVE_ARGS (extra flags for dsvl serve),
#        DSVL_LOAD_ARGS (load_test.mjs options replacing the defaults below),
#        DSVL_REQUIRE_CHROMIUM=1 (fail instead of skipping the page test without Chromium)
# Exits non-zero as soon as a part fails; each part prints its own summary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dsvl="${DSVL_BIN:-$root/build/dsvl}"
model="${1:?usage: run.sh MODEL_DIR|--fake [--no-load] [--no-page]}"
shift
run_load=1
run_page=1
for a in "$@"; do
  case "$a" in
    --no-load) run_load=0 ;;
    --no-page) run_page=0 ;;
    *) echo "run.sh: unknown option $a" >&2; exit 2 ;;
  esac
done
[ -x "$dsvl" ] || { echo "run.sh: $dsvl not built" >&2; exit 1; }

cd "$here"
# scripts/setup.sh has usually installed the packages; again only when the lock file changed.
if [ ! -d node_modules/openai ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
reporter=(--test-reporter=spec)

if [ "$model" = "--fake" ]; then
  model_args=(--fake --fake-token-ms 1 --ctx 2048)
  export DSVL_FAKE=1
else
  model_args=(-m "$model")
  export DSVL_FAKE=0
fi
key="e2e-$RANDOM$RANDOM"
export DSVL_MAX_BODY_MB=4
logdir="$(mktemp -d)"
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ "$rc" != 0 ] && [ -s "$logdir/server.log" ]; then
    echo "run.sh: FAILED (status $rc); the server's last log lines:" >&2
    tail -n 30 "$logdir/server.log" >&2
  fi
  rm -rf "$logdir"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# Starts dsvl serve with the given flags; sets DSVL_URL once /health answers 200.
start_server() {
  local log="$logdir/server.log"
  if [ -n "$server_pid" ]; then kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  # A fresh file: the new server's shell truncates it only once it runs, so the port of the
  # previous server could be read from the old log in between.
  rm -f "$log"
  # shellcheck disable=SC2086  # DSVL_SERVE_ARGS is a list of flags
  "$dsvl" serve "${model_args[@]}" --host 127.0.0.1 --port 0 ${DSVL_SERVE_ARGS:-} "$@" >"$log" 2>&1 &
  server_pid=$!
  local port=""
  for _ in $(seq 1 600); do
    port="$(grep -so 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)"
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "run.sh: server did not start" >&2; cat "$log" >&2; exit 1; }
  export DSVL_URL="http://127.0.0.1:$port"
  # Loading a real model can take a while; /health is 503 until then.
  for _ in $(seq 1 600); do
    [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$DSVL_URL/health")" = 200 ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  echo "run.sh: model did not load in time" >&2
  exit 1
}

echo "== e2e suite (openai client) =="
export DSVL_API_KEY="$key"
start_server --api-key "$key" --max-body-mb "$DSVL_MAX_BODY_MB" --parallel 4 --queue 16
node --test "${reporter[@]}" --test-concurrency=1 e2e.test.mjs

if [ "$run_page" = 1 ]; then
  echo "== chat page (headless Chromium) =="
  if command -v "${CHROMIUM:-chromium}" >/dev/null; then
    node --test "${reporter[@]}" page.test.mjs
  elif [ "${DSVL_REQUIRE_CHROMIUM:-0}" = 1 ]; then
    echo "run.sh: chromium not installed (apt-get install chromium)" >&2
    exit 1
  else
    echo "skipped: chromium not installed (apt-get install chromium)"
  fi
fi

if [ "$run_load" = 1 ]; then
  echo "== load test =="
  unset DSVL_API_KEY
  start_server --parallel 8 --queue 64
  # shellcheck disable=SC2206  # DSVL_LOAD_ARGS is a list of options
  load_args=(${DSVL_LOAD_ARGS:---streams 64 --requests 256 --disconnect 0.25 --max-seconds 240})
  [ "$DSVL_FAKE" = 1 ] && load_args+=(--prompt "[[count 200]]")
  node load_test.mjs --pid "$server_pid" "${load_args[@]}"
fi
echo "run.sh: all passed"
