#!/usr/bin/env bash
# make bench-webhook: signed deliveries to the fake integration's /integration/webhook over loopback,
# durable store on (each accepted delivery is committed to SQLite before the 202).
#  1. throughput: wrk, 50 connections, 10 s, 200 pre-signed bodies about 100 persons in turn (two
#     different bodies a person, alternating: the same body twice in a row would be a sender's retry,
#     answered as a duplicate and not stored): accepted deliveries/s;
#  2. latency: once that backlog is applied, 500 deliveries/s for 10 s (paced.py), p50/p99 from
#     acceptance to applied.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/bench-webhook; rm -rf "$out"; mkdir -p "$out"
# OCEAN_BIN=/path/to/ocean measures that binary instead (an A/B: run it for each build in turn).
if [ -n "${OCEAN_BIN:-}" ]; then
  ocean=$OCEAN_BIN
else
  swift build -c release --product ocean >/dev/null
  ocean=$(swift build -c release --show-bin-path)/ocean
fi
secret=bench-webhook-secret
port=18301
OCEAN__CATALOG__PATH="$out/catalog.sqlite" OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET=$secret OCEAN__RESYNC_ON_START=false \
  OCEAN__WEBHOOK__MAX_QUEUED=1000000 APPLICATION__LOG_LEVEL=warning "$ocean" serve --host 127.0.0.1 --port $port & server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done

{
  echo 'bodies = {}'
  echo 'signatures = {}'
  for n in $(seq 0 199); do
    body="{\"action\":\"upsert\",\"person\":{\"id\":\"hr-$((n % 100))\",\"name\":\"Bench $n\",\"email\":\"b@x\",\"age\":30,\"status\":\"WORKING\",\"bio\":\"bench\",\"department\":{\"id\":\"hr\",\"name\":\"Human Resources\"}}}"
    signature="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | awk '{print $NF}')"
    printf "bodies[%d] = '%s'\nsignatures[%d] = '%s'\n" $((n + 1)) "$body" $((n + 1)) "$signature"
  done
  cat <<'LUA'
counter = 0
request = function()
  counter = counter % 200 + 1
  return wrk.format("POST", "/integration/webhook",
    {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signatures[counter]}, bodies[counter])
end
LUA
} > "$out/post.lua"
text=$(wrk -t1 -c50 -d10s --latency -s "$out/post.lua" "http://127.0.0.1:$port/integration/webhook")
rate=$(awk '/Requests\/sec/ {print $2}' <<<"$text")
non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$text")
printf 'accepted deliveries: %.0f/s (wrk -c50, 10 s; non-2xx answers: %s; answer p50 %s, p99 %s)\n' "$rate" "${non2xx:-0}" \
  "$(awk '$1=="50%" {print $2}' <<<"$text")" "$(awk '$1=="99%" {print $2}' <<<"$text")"
started=$(date +%s)
for _ in $(seq 900); do
  waiting=$( (curl -s "http://127.0.0.1:$port/webhooks/deliveries?status=pending&limit=1"; curl -s "http://127.0.0.1:$port/webhooks/deliveries?status=failed&limit=1") | grep -c '"id"' || true)
  [ "$waiting" = 0 ] && break; sleep 1
done
echo "the backlog was applied in about $(( $(date +%s) - started )) s more"
python3 Benchmarks/webhook/paced.py "http://127.0.0.1:$port" "$secret" 500 10
