#!/usr/bin/env bash
# One command: install dependencies, build, and run every test tier (unit, component, system).
# Soak and benchmark runs are not part of it (see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh RelWithDebInfo
cd "${NF_BUILD_DIR:-build}"
ctest --output-on-failure -L 'unit|component|system' -j "$(nproc)" --timeout 600 "$@"
