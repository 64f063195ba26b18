#!/usr/bin/env bash
# make bench-port: `ocean resync` of the fake integration, 100,000 persons of 1 KiB, into the
# Port-like API (`fake-port`, its own process) over loopback. Prints entities/s, requests by
# endpoint and peak RSS; then a second job after ENTITY_AMOUNT halves, which deletes the stale half.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/bench-port; rm -rf "$out"; mkdir -p "$out"
swift build -c release --product ocean >/dev/null
swift build -c release --product fake-port >/dev/null
bin=$(swift build -c release --show-bin-path)
"$bin/fake-port" 18201 > "$out/fake-port.url" & fake=$!
trap 'kill -9 $fake 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:18201/__stats >/dev/null && break; sleep 0.1; done

job() { # label persons-per-department
  local text
  text=$( { OCEAN__CATALOG__PATH="$out/catalog.sqlite" OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT="$2" \
            OCEAN__PORT__CLIENT_ID=bench-client OCEAN__PORT__CLIENT_SECRET=bench-secret OCEAN__PORT__BASE_URL=http://127.0.0.1:18201 \
            OCEAN__INTEGRATION__IDENTIFIER=bench APPLICATION__LOG_LEVEL=warning \
            /usr/bin/time -f "rss=%M" "$bin/ocean" resync > /dev/null; } 2>&1 )
  printf '%s: %s; peak RSS %.1f MiB\n' "$1" "$(grep '^job job_' <<<"$text" | head -1)" \
    "$(awk -v k="$(sed -n 's/^rss=//p' <<<"$text")" 'BEGIN {print k/1024}')"
  sqlite3 "$out/catalog.sqlite" "SELECT json_extract(body, '$.reconciliation') FROM jobs ORDER BY created_at DESC LIMIT 1" 2>/dev/null \
    | sed 's/^/  reconciliation: /' || true
}
job "100,000 persons into Port" 20000
echo "  requests: $(curl -s http://127.0.0.1:18201/__stats)"
job "second job, 50,000 persons (the other half is stale)" 10000
echo "  requests: $(curl -s http://127.0.0.1:18201/__stats)"
