#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (the README's test command; .ci/run calls it).
# Tests that need ../shared (conformance kits, tokenizer goldens) are skipped with a reason when
# it is missing, except under CI=true, where missing data is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd "${DSVL_BUILD_DIR:-build}"
ctest --output-on-failure -j2
