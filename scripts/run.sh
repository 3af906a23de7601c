#!/usr/bin/env bash
# One command: install dependencies, build (Release) and serve on the embedded bus (data in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
NF_BUILD_DIR="${NF_BUILD_DIR:-build-release}" scripts/build.sh Release
exec "${NF_BUILD_DIR:-build-release}/apps/nexus-forge/nexus-forge" serve --config config/nexus-forge.json "$@"
