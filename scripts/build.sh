#!/usr/bin/env bash
# Configures and builds into build/ (or $NF_BUILD_DIR) with Ninja and ccache.
# Usage: scripts/build.sh [Release|RelWithDebInfo|Debug]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_TYPE="${1:-RelWithDebInfo}"
BUILD_DIR="${NF_BUILD_DIR:-build}"
WERROR=OFF
if [ "${CI:-}" = "true" ]; then WERROR=ON; fi
export CCACHE_DIR="${CCACHE_DIR:-$PWD/.cache/ccache}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DNF_WERROR="$WERROR" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
