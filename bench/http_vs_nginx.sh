#!/usr/bin/env bash
# HTTP speed of the real server against nginx serving the same bytes, measured with wrk in one run:
#   GET /missions/{id} with a tenant's API key (admission, rate limit, permission, audit and
#   metering all on) vs nginx 1.22 returning the same response body as a static file, at 1, 4
#   and 16 keep-alive connections (wrk, one thread); then POST /missions (a new id each request,
#   durable sync bus) at the same connection counts.
# Usage: bench/http_vs_nginx.sh [nexus-forge binary] [seconds per run]   (installs wrk and nginx)
# Not part of the test run; figures go to docs/performance.md.
set -euo pipefail
[ -n "${NF_BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
BIN="${1:-build/apps/nexus-forge/nexus-forge}"
SECS="${2:-10}"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
WORK="$(mktemp -d /tmp/nf-http-bench.XXXXXX)"
ADMIN_KEY="nfk_systemtestsplatformadminkey00001"
ADMIN_SHA="$(printf %s "$ADMIN_KEY" | sha256sum | cut -d' ' -f1)"
cleanup() {
  [ -n "${NF_PID:-}" ] && kill "$NF_PID" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${NF_BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/nf.json" <<JSON
{"data_dir":"$WORK/data","log_level":"warn","http":{"listen":"127.0.0.1:0"},
 "auth":{"platform_admin_key_sha256":"$ADMIN_SHA"}}
JSON
"$BIN" serve --config "$WORK/nf.json" --json > "$WORK/serve.out" 2> "$WORK/serve.err" &
NF_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
URL="$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['listening'])" "$WORK/serve.out")"
H=(-H "Authorization: Bearer $ADMIN_KEY" -H "Content-Type: application/json")
# A tenant whose limits hold but never refuse in a benchmark: every check still runs.
curl -sf "${H[@]}" -X POST "$URL/tenants" -d '{"id":"bench","name":"Bench","plan":"enterprise","quotas":{"requestsPerMinute":1000000000,"eventsPerDay":1000000000}}' >/dev/null
KEY="$(curl -sf "${H[@]}" -X POST "$URL/tenants/bench/keys" -d '{"role":"developer"}' | python3 -c 'import json,sys;print(json.load(sys.stdin)["key"])')"
T=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
MID="01900000-0000-7000-8000-00000000b001"
curl -sf "${T[@]}" -X POST "$URL/missions" -d "{\"id\":\"$MID\",\"objective\":\"benchmark the read path\",\"priority\":\"P1\",\"originatingSpec\":\"https://spec/bench\"}" >/dev/null
curl -sf "${T[@]}" "$URL/missions/$MID" > "$WORK/mission.json"
BYTES=$(wc -c < "$WORK/mission.json")

# nginx: the same bytes from a file, same content type, keep-alive, on loopback; as many workers
# as cores (the server uses two I/O threads).
mkdir -p "$WORK/www/missions" "$WORK/nginx"
cp "$WORK/mission.json" "$WORK/www/missions/$MID"
chmod 755 "$WORK"; chmod -R a+rX "$WORK/www"   # nginx workers run as another user
cat > "$WORK/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:18089;
    root $WORK/www;
    default_type application/json;
  }
}
CONF
nginx -c "$WORK/nginx.conf" -p "$WORK/nginx"
sleep 0.5
curl -sf "http://127.0.0.1:18089/missions/$MID" | cmp -s - "$WORK/mission.json" || { echo "nginx does not serve the same bytes" >&2; exit 1; }

rps() { awk '/Requests\/sec/ {print $2}'; }
cat > "$WORK/post.lua" <<'LUA'
local n = 0
local thread_id = math.random(1, 1000000)
request = function()
  n = n + 1
  local id = string.format("01900000-%04x-7000-8000-%012x", thread_id % 65536, n)
  local body = '{"id":"' .. id .. '","objective":"benchmark the write path","priority":"P1","originatingSpec":"https://spec/bench"}'
  return wrk.format("POST", "/missions", nil, body)
end
LUA

echo "GET /missions/{id}: $BYTES bytes, tenant API key; nginx 1.22 serving the same bytes; wrk -t1, ${SECS}s each"
printf "%-12s %14s %14s %8s\n" connections "nexus-forge/s" "nginx/s" ratio
for c in 1 4 16; do
  nf=$(wrk -t1 -c"$c" -d"${SECS}s" "${T[@]}" "$URL/missions/$MID" | rps)
  ng=$(wrk -t1 -c"$c" -d"${SECS}s" "http://127.0.0.1:18089/missions/$MID" | rps)
  printf "%-12s %14s %14s %8s\n" "$c" "$nf" "$ng" "$(python3 -c "print(f'{$nf/$ng:.2f}')")"
done
echo
echo "POST /missions (new id each request, durable sync bus, tenant API key); wrk -t1, ${SECS}s each"
printf "%-12s %14s\n" connections "nexus-forge/s"
for c in 1 4 16; do
  nf=$(wrk -t1 -c"$c" -d"${SECS}s" "${T[@]}" -s "$WORK/post.lua" "$URL" | rps)
  printf "%-12s %14s\n" "$c" "$nf"
done
# Every request was audited: the audit log holds them (batched), nothing was lost.
sleep 1
curl -sf "${H[@]}" "$URL/metrics" | grep -E '^nf_(gateway_access_records_total|tenancy_records_lost_total)' || true
