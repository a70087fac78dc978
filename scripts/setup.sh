#!/usr/bin/env bash
# Installs the Debian 12 packages dsvl needs and builds it into build/ (Release).
# Idempotent: run it again after a pull to rebuild.
#   DSVL_BUILD_DIR  build folder (default: build)
#   DSVL_JOBS       parallel compile jobs (default: number of cores)
#   DSVL_CMAKE_ARGS extra CMake options, e.g. "-DDSVL_NATIVE=OFF" for a portable binary
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config          # compiler and build tools
  libgtest-dev libgmock-dev libbenchmark-dev            # tests and benchmarks
  nlohmann-json3-dev libpcre2-dev                       # JSON configs, tokenizer regexes
  libpng-dev libjpeg-dev libwebp-dev libgif-dev         # image decoders
  libcpp-httplib-dev                                    # dsvl serve
  unicode-data                                          # NFC conformance test data (tokenizer)
  tmux                                                  # drives `dsvl chat` in its interactive test
  clang libclang-rt-14-dev llvm                         # sanitizer build, libFuzzer, symbolizer
  nodejs chromium                                       # dsvl serve end-to-end tests (tests/server_e2e)
)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y "${PACKAGES[@]}"
# Debian's npm, unless Node came with its own: NodeSource's nodejs package bundles npm and
# conflicts with Debian's.
command -v npm >/dev/null || "${SUDO[@]}" apt-get install -y npm

BUILD_DIR="${DSVL_BUILD_DIR:-build}"
# shellcheck disable=SC2086  # DSVL_CMAKE_ARGS is a list of options
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release ${DSVL_CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j "${DSVL_JOBS:-$(nproc)}"
echo "dsvl built: $BUILD_DIR/dsvl"

# The end-to-end tests' npm packages (the openai client, playwright-core), exactly as locked,
# into tests/server_e2e/node_modules. Needs the npm registry; without it those tests are
# skipped (outside CI) and everything else still works.
if ! (cd tests/server_e2e && npm ci --no-audit --no-fund --loglevel=error); then
  echo "setup.sh: warning: npm ci failed in tests/server_e2e (no registry?)" >&2
fi
