#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, CMake option DSVL_FUZZ) and runs each one for
# SECONDS seconds (default 30) on its seed corpus, the regression inputs and, when ../shared is
# there, the conformance images and configs (read in place, never copied). Fails on any crash,
# leak, sanitizer report, out-of-memory or timeout; the input that caused it is kept in
# $DSVL_FUZZ_OUT/<target>/ (default: build-fuzz/findings).
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#   DSVL_FUZZ_BUILD_DIR  build folder (default: build-fuzz)
#   DSVL_JOBS            parallel compile jobs (default: number of cores)
#   DSVL_SHARED          the shared data folder (default: ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-30}"
shift || true
BUILD_DIR="${DSVL_FUZZ_BUILD_DIR:-build-fuzz}"
SHARED="${DSVL_SHARED:-../shared}"
OUT="${DSVL_FUZZ_OUT:-$BUILD_DIR/findings}"

# Optimised with line tables (readable reports); asserts stay on.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DDSVL_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only" \
  -DDSVL_BUILD_BENCH=OFF -DDSVL_BUILD_TOOLS=OFF ${DSVL_FUZZ_CMAKE_ARGS:-} >/dev/null
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in fuzz/targets/*.cpp; do
    name=$(basename "$f" .cpp)
    if [ "$name" != common ]; then TARGETS+=("$name"); fi
  done
fi
cmake --build "$BUILD_DIR" -j "${DSVL_JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"

# Folders the fuzzer only reads: seeds, regressions, shared data (symlinked, not copied).
extra_dirs() {
  local target="$1"
  # A target's seeds are tests/fuzz-seeds/<target>, or the folder of its family (image_png: image).
  if [ -d "tests/fuzz-seeds/$target" ]; then echo "tests/fuzz-seeds/$target"
  else echo "tests/fuzz-seeds/${target%%_*}"; fi
  if [ -d "tests/fuzz-seeds/regressions/$target" ]; then echo "tests/fuzz-seeds/regressions/$target"; fi
  if [ -d "$SHARED/conformance" ]; then
    case "$target" in
      image_*) echo "$SHARED/conformance/images" ;;
      config)
        local links="$WORK/shared-configs"
        mkdir -p "$links"
        for f in "$SHARED"/conformance/models/*/config.json; do
          if [ -e "$f" ]; then ln -sf "$(realpath "$f")" "$links/$(basename "$(dirname "$f")").json"; fi
        done
        echo "$links" ;;
    esac
  fi
  return 0
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export DSVL_FUZZ_TOKENIZER=""
if [ -f "$SHARED/tokenizers/deepseek_vl/tokenizer.json" ]; then
  DSVL_FUZZ_TOKENIZER="$(realpath "$SHARED/tokenizers/deepseek_vl")"
fi
# Leaks are reported at exit of each input's process; UBSan findings abort like ASan's.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
printf '%-18s %10s %8s %7s  %s\n' target executions exec/s corpus result
for t in "${TARGETS[@]}"; do
  corpus="$WORK/corpus-$t"
  mkdir -p "$corpus" "$OUT/$t"
  mapfile -t dirs < <(extra_dirs "$t")
  log="$OUT/$t.log"
  rc=0
  # -timeout: one input taking > 10 s is a hang; -rss_limit_mb also caps single allocations
  # (malloc_limit_mb defaults to it): a giant allocation is a finding.
  "$BUILD_DIR/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$OUT/$t/" "$corpus" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc, log $log)"
    status=1
  fi
  printf '%-18s %10s %8s %7s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "${units:-?}" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -m1 -E "ERROR: |runtime error|terminate called|what\(\)" "$log" || tail -5 "$log"
    ls "$OUT/$t" | sed 's/^/    input: /'
  fi
done
exit "$status"
