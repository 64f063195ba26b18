#!/usr/bin/env bash
# make bench-port: `ocean resync` of the fake integration, 100,000 persons of 1 KiB, into the
# Port-like API (`fake-port`, its own process) over loopback, with Port answering at once and after
# PORT_LATENCY_MS=50 (a remote Port's round trip). At each: a fresh resync (an empty Port), the same
# resync unchanged, one with 1% of the persons changed (CHANGED_PERCENT=1), and one where half the
# persons are gone (reconciliation deletes them). Prints, per job, wall time, CPU seconds and peak
# RSS of the ocean process, and the requests it made by endpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.build/bench-port; rm -rf "$out"; mkdir -p "$out"
swift build -c release --product ocean >/dev/null
swift build -c release --product fake-port >/dev/null
bin=$(swift build -c release --show-bin-path)
LATENCIES=${LATENCIES:-0 50}
trap 'kill -9 $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT

stats() { curl -s http://127.0.0.1:18201/__stats; }
job() { # label persons-per-department changed-percent
  local before after text
  before=$(stats)
  text=$( { OCEAN__CATALOG__PATH="$out/catalog-$latency.sqlite" OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT="$2" \
            OCEAN__INTEGRATION__CONFIG__CHANGED_PERCENT="$3" \
            OCEAN__PORT__CLIENT_ID=bench-client OCEAN__PORT__CLIENT_SECRET=bench-secret OCEAN__PORT__BASE_URL=http://127.0.0.1:18201 \
            OCEAN__INTEGRATION__IDENTIFIER=bench APPLICATION__LOG_LEVEL=warning \
            /usr/bin/time -f "rusage %e %U %S %M" "$bin/ocean" resync > /dev/null; } 2>&1 )
  after=$(stats)
  python3 - "$1" "$before" "$after" "$text" <<'PY'
import json, re, sys
label, before, after, text = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
job = next((l for l in text.splitlines() if l.startswith("job job_")), "")
wall, user, system, rss = next(l for l in text.splitlines() if l.startswith("rusage")).split()[1:]
upserted = re.search(r"(\d+) entities upserted", job)
unchanged = re.search(r"(\d+) unchanged", job)
requests = {k: v - before["requests"].get(k, 0) for k, v in after["requests"].items() if v - before["requests"].get(k, 0) > 0}
status = job.split()[2] if job else "?"
print(f"{label}: {status}, upserted {upserted.group(1) if upserted else '?'}, unchanged {unchanged.group(1) if unchanged else 0}; "
      f"wall {float(wall):.2f} s, CPU {float(user) + float(system):.2f} s, peak RSS {int(rss) / 1024:.1f} MiB; "
      f"{sum(requests.values())} requests")
for endpoint, count in sorted(requests.items(), key=lambda e: -e[1]):
    print(f"    {count:6d}  {endpoint}")
PY
}

for latency in $LATENCIES; do
  PORT_LATENCY_MS=$latency "$bin/fake-port" 18201 > /dev/null &
  fake=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:18201/__stats >/dev/null && break; sleep 0.1; done
  echo "== Port answering after ${latency} ms"
  job "fresh, 100,000 persons" 20000 0
  job "unchanged" 20000 0
  job "1% of the persons changed" 20000 1
  job "half the persons gone" 10000 1
  kill $fake; wait $fake 2>/dev/null || true
done
