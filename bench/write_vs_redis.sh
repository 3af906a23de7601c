#!/usr/bin/env bash
# Durable write speed against the anchor a user would pick for a single-node durable stream:
# Redis 7 Streams with `appendonly yes`, `appendfsync always` (fsync before every reply, like our
# `sync` durability), measured in the same run on loopback at 1, 16 and 64 connections:
#   Redis   XADD of a 120-byte field (redis-benchmark);
#   ours    POST /topics/bench/events, one event of a 120-byte field per request (durable,
#           answered once its fsync is done; wrk, one thread);
#           the same with batches of 100 events per request (events/s);
#           POST /missions (validation, idempotency through the id's owner, answered after the
#           read model applied it; a new id per request).
# Prints requests/s (events/s for batches), the ratio to Redis and each side's p99 latency, then
# the p99 of single-event produce paced to half its measured rate.
# Usage: bench/write_vs_redis.sh [nexus-forge binary] [seconds per run]   (installs wrk, redis)
# Not part of the test run; figures go to docs/performance.md.
set -euo pipefail
[ -n "${NF_BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
BIN="${1:-build/apps/nexus-forge/nexus-forge}"
SECS="${2:-10}"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
WORK="$(mktemp -d /tmp/nf-write-bench.XXXXXX)"
ADMIN_KEY="nfk_systemtestsplatformadminkey00001"
ADMIN_SHA="$(printf %s "$ADMIN_KEY" | sha256sum | cut -d' ' -f1)"
RPORT=16390
cleanup() {
  [ -n "${NF_PID:-}" ] && kill "$NF_PID" 2>/dev/null || true
  [ -n "${R_PID:-}" ] && kill "$R_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${NF_BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# Redis: AOF on, fsync always, no RDB snapshots, data in the work dir, loopback only.
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$WORK" --appendonly yes --appendfsync always --save "" \
  --daemonize no --logfile "$WORK/redis.log" &
R_PID=$!
for _ in $(seq 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

cat > "$WORK/nf.json" <<JSON
{"data_dir":"$WORK/data","log_level":"warn","http":{"listen":"127.0.0.1:0"},
 "bus":{"embedded":{"durability":"sync"}},
 "topics":{"bench":{"partitions":3,"accept_unknown_types":true}},
 "auth":{"platform_admin_key_sha256":"$ADMIN_SHA"}}
JSON
"$BIN" serve --config "$WORK/nf.json" --json > "$WORK/serve.out" 2> "$WORK/serve.err" &
NF_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
URL="$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['listening'])" "$WORK/serve.out")"
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

cat > "$WORK/post.lua" <<'LUA'
local n = 0
local run = math.random(1, 1000000)
wrk.headers["Authorization"] = "Bearer nfk_systemtestsplatformadminkey00001"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local id = string.format("01900000-%04x-7000-8000-%012x", run % 65536, n)
  local body = '{"id":"' .. id .. '","objective":"benchmark the durable write path","priority":"P1","originatingSpec":"https://spec/bench"}'
  return wrk.format("POST", "/missions", nil, body)
end
LUA

cat > "$WORK/produce1.lua" <<'LUA'
local n = 0
wrk.headers["Authorization"] = "Bearer nfk_systemtestsplatformadminkey00001"
wrk.headers["Content-Type"] = "application/json"
local field = string.rep("x", 120)
request = function()
  n = n + 1
  return wrk.format("POST", "/topics/bench/events", nil, '{"type":"bench.tick","key":"k' .. (n % 64) .. '","payload":{"payload":"' .. field .. '"}}')
end
LUA
python3 - "$WORK/produce100.lua" <<'PY'
import json, sys
events = [{"type": "bench.tick", "key": "k%d" % i, "payload": {"payload": "x" * 120}} for i in range(100)]
body = json.dumps({"events": events}).replace("\\", "\\\\").replace("'", "\\'")
open(sys.argv[1], "w").write("""wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer nfk_systemtestsplatformadminkey00001"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '%s'
wrk.path = "/topics/bench/events"
""" % body)
PY

PAYLOAD="$(python3 -c "print('x'*120)")"
redis_run() {  # connections -> "requests/s p99_ms"
  local c="$1" n
  n=$(python3 -c "print(max(2000, int($c * 400 * $SECS / 2)))")
  redis-benchmark -p "$RPORT" -c "$c" -n "$n" --csv XADD bench '*' payload "$PAYLOAD" 2>/dev/null |
    python3 -c 'import csv,sys
rows=list(csv.reader(sys.stdin))
h,v=rows[0],rows[-1]
d=dict(zip(h,v))
print(d["rps"], d.get("p99_latency_ms","?"))'
}
wrk_run() {  # connections script -> "requests/s p99_ms"
  wrk -t1 -c"$1" -d"${SECS}s" --latency -s "$2" "$URL${3:-}" |
    python3 -c 'import re,sys
t=sys.stdin.read()
rps=re.search(r"Requests/sec:\s*([0-9.]+)",t).group(1)
m=re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)",t,re.M)
p99="?"
if m:
  v=float(m.group(1)); p99="%.2f"%(v/1000 if m.group(2)=="us" else v*1000 if m.group(2)=="s" else v)
print(rps,p99)'
}

echo "Durable writes on loopback, ${SECS}s per run; Redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') XADD (appendfsync always) vs nexus-forge (sync bus)"
printf "%-12s %12s %10s | %14s %9s %6s | %14s %9s | %12s %9s %6s\n" connections "redis/s" "redis p99" "produce 1/s" "p99" ratio \
  "batch100 ev/s" "p99" "missions/s" "p99" ratio
half=()
for c in 1 16 64; do
  read -r rr rp <<< "$(redis_run "$c")"
  read -r pr pp <<< "$(wrk_run "$c" "$WORK/produce1.lua")"
  [ "$c" = 1 ] && one_conn="$pr"
  # The same load paced to half that rate: a connection's cycle is 2c/rate, of which the answer
  # takes about what it takes unloaded (1/rate at one connection); it waits the rest. wrk's
  # delay() takes whole milliseconds, so each wait is rounded up or down at random to keep the
  # mean exact.
  wait_ms="$(python3 -c "print(max(0.0, 2000 * $c / $pr - 1000 / $one_conn))")"
  sed "s/^request = function()/delay = function() local d = $wait_ms; local f = math.floor(d); if math.random() < d - f then f = f + 1 end; return f end\nrequest = function()/" \
    "$WORK/produce1.lua" > "$WORK/produce1_half.lua"
  read -r hr hp <<< "$(wrk_run "$c" "$WORK/produce1_half.lua")"
  half+=("$(printf "%-12s %10s %14s %9sms" "$c" "$(python3 -c "print(int($pr / 2))")" "$hr" "$hp")")
  read -r br bp <<< "$(wrk_run "$c" "$WORK/produce100.lua" /topics/bench/events)"
  read -r nr np <<< "$(wrk_run "$c" "$WORK/post.lua")"
  printf "%-12s %12s %8sms | %14s %7sms %6s | %14s %7sms | %12s %7sms %6s\n" "$c" "$rr" "$rp" "$pr" "$pp" "$(python3 -c "print(f'{$pr/$rr:.2f}')")" \
    "$(python3 -c "print(int($br*100))")" "$bp" "$nr" "$np" "$(python3 -c "print(f'{$nr/$rr:.2f}')")"
done
echo
echo "produce 1 event per request, paced to half the rate measured above (p99 at half load):"
printf "%-12s %10s %14s %11s\n" connections "target/s" "requests/s" p99
for line in "${half[@]}"; do echo "$line"; done
