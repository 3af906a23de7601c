#!/usr/bin/env bash
# Installs every Debian package Nexus Forge needs to build, test and run. Does nothing when all
# are present, so it is safe to call on every run.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libboost-dev libboost-program-options-dev libcli11-dev
  libspdlog-dev nlohmann-json3-dev libssl-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat python3-kafka python3-croniter python3-jsonschema curl openssl git tar
  clang libclang-rt-14-dev
  chromium
)
# Node.js and npm run test tools (the OpenAPI checks); the machine image usually has them.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# npm test tools, exactly as the lockfile pins them (only when missing or the lockfile changed).
cd "$(dirname "$0")/.."
if [ ! -f tests/openapi/node_modules/.package-lock.json ] || [ tests/openapi/package-lock.json -nt tests/openapi/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/openapi --no-audit --no-fund --loglevel=error >&2
fi
# npm's own semver package: the reference the marketplace's ranges are tested against.
if [ ! -f tests/semver/node_modules/.package-lock.json ] || [ tests/semver/package-lock.json -nt tests/semver/node_modules/.package-lock.json ]; then
  npm ci --prefix tests/semver --no-audit --no-fund --loglevel=error >&2
fi
