#!/usr/bin/env bash
# Installs every Debian package Nexus Forge needs to build, test and run. Does nothing when all
# are present, so it is safe to call on every run.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler
  libboost-dev libboost-program-options-dev libcli11-dev
  libspdlog-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat python3-kafka curl openssl
  clang libclang-rt-14-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
