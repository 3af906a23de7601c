#!/usr/bin/env bash
# Configures and builds into build/ (or $NF_BUILD_DIR) with Ninja and ccache.
# Usage: scripts/build.sh [Release|RelWithDebInfo|Debug]
# NF_SANITIZE=1: a clang build with AddressSanitizer, UndefinedBehaviorSanitizer and the libFuzzer
# harnesses (default directory build-sanitize/, no benchmarks; -O1 with line tables, enough for
# sanitizer stack traces and quicker to compile).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${1:-RelWithDebInfo}"
WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
export CCACHE_DIR="${CCACHE_DIR:-$PWD/.cache/ccache}"
# The web console's npm packages, exactly as console/package-lock.json pins them (the build
# bundles console/ into the binary with them); only when missing or the lockfile changed.
if [ ! -f console/node_modules/.package-lock.json ] || [ console/package-lock.json -nt console/node_modules/.package-lock.json ]; then
  npm ci --prefix console --no-audit --no-fund --loglevel=error >&2
fi
if [ "${NF_SANITIZE:-}" = "1" ]; then
  BUILD_DIR="${NF_BUILD_DIR:-build-sanitize}"
  # Warnings are held to -Werror by the g++ build; clang's differ and do not fail this one.
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DNF_WERROR=OFF \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DNF_SANITIZE=ON -DNF_FUZZ=ON -DNF_BUILD_BENCH=OFF >/dev/null
else
  BUILD_DIR="${NF_BUILD_DIR:-build}"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DNF_WERROR="$WERROR" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
