#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (the README's test command; .ci/run calls it
# with every gate on). Tests that need ../shared (conformance kits, tokenizer goldens) are
# skipped with a reason when it is missing, except under CI=true, where missing data is a failure.
#   bash scripts/test.sh                    normal (Release) build and tests
#   bash scripts/test.sh --sanitize         + the suite again under ASan + UBSan (build-asan/)
#   bash scripts/test.sh --fuzz SECONDS     + every fuzz target for SECONDS each (fuzz/run.sh)
# Every run also tests `dsvl serve` end to end (tests/server_e2e/run.sh: the openai npm client,
# the chat page in headless Chromium, a bounded load test) on a tiny synth model with the real
# DeepSeek tokenizer, then the checks that need the fake engine (--fake). DSVL_SKIP_E2E=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=0
FUZZ_SECONDS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) SANITIZE=1 ;;
    --fuzz) FUZZ_SECONDS="$2"; shift ;;
    *) echo "usage: $0 [--sanitize] [--fuzz SECONDS]" >&2; exit 2 ;;
  esac
  shift
done

# One ctest run in $1, printing the reason of every skipped test; extra ctest options follow.
run_ctest() {
  local dir="$1" status=0
  shift
  (cd "$dir" && ctest --output-on-failure -j2 "$@") || status=$?
  # ctest lists skipped tests without the reason; print one line per skipped test from its log.
  awk '/^\[ RUN      \] /{name=$4} skip{print "skipped: " name ": " $0; skip=0} /: Skipped$/{skip=1}' \
    "$dir/Testing/Temporary/LastTest.log" 2>/dev/null || true
  return "$status"
}

stamp() { echo "== $(date +%T) $*"; }

# tests/server_e2e against the real engine on a tiny random model (real tokenizer), then
# against the fake engine (its echo and long answers check the plumbing the random model
# cannot). About a minute on 2 cores. Bounded: the load test (64 streams, 64 + 256 requests)
# stops itself after 240 s, and `timeout` kills (and fails) each run.sh past 8 / 4 min.
run_server_e2e() {
  local bin="$PWD/${DSVL_BUILD_DIR:-build}/dsvl" tok=../shared/tokenizers/deepseek_vl
  local dir rc=0 tok_args=() require_chromium=0
  [ "${CI:-}" = true ] && require_chromium=1
  if [ ! -d tests/server_e2e/node_modules/openai ] && [ "${CI:-}" != true ]; then
    echo "skipped: server e2e: tests/server_e2e/node_modules missing (npm ci failed in setup)"
    return 0
  fi
  if [ -f "$tok/tokenizer.json" ]; then
    tok_args=(--tokenizer "$tok")
  elif [ "${CI:-}" = true ]; then
    echo "server e2e: $tok/tokenizer.json missing" >&2
    return 1
  else
    echo "note: server e2e uses the built-in small tokenizer ($tok missing)"
  fi
  dir="$(mktemp -d)"
  "$bin" synth --like 1.3b-chat --tiny "${tok_args[@]}" --out "$dir/tiny" >/dev/null || rc=$?
  if [ "$rc" = 0 ]; then
    DSVL_BIN="$bin" DSVL_REQUIRE_CHROMIUM="$require_chromium" \
      timeout 480 tests/server_e2e/run.sh "$dir/tiny" || rc=$?
  fi
  rm -rf "$dir"
  DSVL_BIN="$bin" DSVL_REQUIRE_CHROMIUM="$require_chromium" \
    timeout 240 tests/server_e2e/run.sh --fake --no-load || { [ "$rc" != 0 ] || rc=1; }
  return "$rc"
}

status=0
stamp "setup + Release build"
bash scripts/setup.sh
stamp "tests (Release)"
run_ctest "${DSVL_BUILD_DIR:-build}" || status=$?
if [ "${DSVL_SKIP_E2E:-0}" != 1 ]; then
  stamp "dsvl serve end to end (tests/server_e2e)"
  run_server_e2e || status=$?
fi

if [ "$SANITIZE" = 1 ] || [ "$FUZZ_SECONDS" != 0 ]; then
  # One clang build serves both gates: ASan + UBSan everywhere, libFuzzer coverage in every
  # object (harmless for the tests), the fuzz targets linked beside the test binary.
  ASAN_DIR="${DSVL_ASAN_BUILD_DIR:-build-asan}"
  stamp "sanitizer build ($ASAN_DIR)"
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DDSVL_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" \
    -DDSVL_BUILD_BENCH=OFF -DDSVL_BUILD_TOOLS=OFF >/dev/null
  cmake --build "$ASAN_DIR" -j "${DSVL_JOBS:-$(nproc)}"
fi
if [ "$SANITIZE" = 1 ]; then
  stamp "tests (ASan + UBSan)"
  # Any report fails the test: UBSan is built with -fno-sanitize-recover, ASan aborts.
  # Only the full-size synth test (also skipped by default) is left out.
  ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    run_ctest "$ASAN_DIR" -E 'Slow$' || status=$?
fi
if [ "$FUZZ_SECONDS" != 0 ]; then
  stamp "fuzzing, $FUZZ_SECONDS s per target"
  DSVL_FUZZ_BUILD_DIR="$ASAN_DIR" bash fuzz/run.sh "$FUZZ_SECONDS" || status=$?
fi
stamp "done (status $status)"
exit "$status"
