#!/usr/bin/env bash
# One command: install dependencies, build, and run every test tier (unit, component, system).
# Soak and benchmark runs are not part of it (see docs/performance.md). The normal build also
# runs the web console's browser tests (label browser); the sanitized one does not.
#   scripts/test.sh             the normal build (build/)
#   scripts/test.sh --sanitize  a clang build with AddressSanitizer and UndefinedBehaviorSanitizer
#                               (build-sanitize/): the same tiers, and any report fails the run
# Further arguments go to ctest (e.g. -R Hardening).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ "${1:-}" = "--sanitize" ]; then
  shift
  NF_SANITIZE=1 scripts/build.sh RelWithDebInfo
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
  cd "${NF_BUILD_DIR:-build-sanitize}"
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Sanitized binaries run slower: fewer tests at once and more time each.
  exec ctest --output-on-failure -L 'unit|component|system' -j "$(nproc)" --timeout 900 "$@"
fi
scripts/build.sh RelWithDebInfo
cd "${NF_BUILD_DIR:-build}"
# browser: the web console in Debian's Chromium (tests/browser/), against this build's binary.
ctest --output-on-failure -L 'unit|component|system|browser' -j "$(nproc)" --timeout 600 "$@"
