#!/usr/bin/env bash
# Runs every libFuzzer harness in fuzz/ for a bounded time, starting from its committed seed
# corpus (fuzz/corpus/<name>/); new inputs go to a scratch copy, crashes to fuzz/findings/.
# Usage: scripts/fuzz.sh [seconds per harness, default 60] [harness ...]
# Builds with NF_SANITIZE=1 (clang, ASan + UBSan) into build-sanitize/ unless it is there.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
shift || true
HARNESSES=("$@")
if [ ${#HARNESSES[@]} -eq 0 ]; then HARNESSES=(http_request json_contracts jwt envelope config position_token produce_batch backup_manifest semver manifest package resolver cron expression json_schema workflow_definition region_input console_headers); fi
scripts/deps.sh
NF_SANITIZE=1 scripts/build.sh RelWithDebInfo >/dev/null
BUILD="${NF_BUILD_DIR:-build-sanitize}"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
mkdir -p fuzz/findings
status=0
for h in "${HARNESSES[@]}"; do
  work="$(mktemp -d)"
  cp -r "fuzz/corpus/$h/." "$work/"
  echo "== $h: ${SECONDS_EACH}s"
  log="$(mktemp)"
  if ! "$BUILD/fuzz/${h}_fuzz" "$work" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="fuzz/findings/${h}-" -print_final_stats=1 >"$log" 2>&1; then
    echo "!! $h found a crash (see fuzz/findings/):"
    tail -60 "$log"
    status=1
  fi
  # The last status line (executions, coverage) and the final stats.
  grep -aE "^#[0-9]+" "$log" | tail -1 || true
  grep -aE "stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
  rm -rf "$work" "$log"
done
exit $status
