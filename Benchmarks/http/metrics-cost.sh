#!/usr/bin/env bash
# make bench-metrics: what the request metrics cost. Two `ocean serve` of one release build, one with
# OCEAN__METRICS__ENABLED=false, both pinned to core 0 (wrk to core 1), `wrk -t1 -c50` against
# GET /health/live of each in turn; prints req/s per round, the medians and the cost in percent.
# Usage: metrics-cost.sh [rounds] [seconds-per-round]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}; seconds=${2:-5}
out=.build/bench-metrics; rm -rf "$out"; mkdir -p "$out"
swift build -c release --product ocean >/dev/null
bin=$(swift build -c release --show-bin-path)/ocean
on_port=18111; off_port=18112
server_cpu=(); client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

APPLICATION__LOG_LEVEL=warning OCEAN__CATALOG__PATH="$out/on.sqlite" \
  "${server_cpu[@]}" "$bin" serve --host 127.0.0.1 --port "$on_port" & on_pid=$!
APPLICATION__LOG_LEVEL=warning OCEAN__CATALOG__PATH="$out/off.sqlite" OCEAN__METRICS__ENABLED=false \
  "${server_cpu[@]}" "$bin" serve --host 127.0.0.1 --port "$off_port" & off_pid=$!
trap 'kill $on_pid $off_pid 2>/dev/null; wait 2>/dev/null' EXIT
for port in $on_port $off_port; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
  "${client_cpu[@]}" wrk -t1 -c50 -d2s "http://127.0.0.1:$port/health/live" >/dev/null   # warm-up
done

rate() { "${client_cpu[@]}" wrk -t1 -c50 -d"${seconds}s" "http://127.0.0.1:$1/health/live" | awk '/Requests\/sec/ {print $2}'; }
on=(); off=()
for round in $(seq "$rounds"); do
  if (( round % 2 )); then on+=("$(rate $on_port)"); off+=("$(rate $off_port)"); else off+=("$(rate $off_port)"); on+=("$(rate $on_port)"); fi
  printf 'round %d: metrics on %10.0f req/s, off %10.0f req/s\n' "$round" "${on[-1]}" "${off[-1]}" >&2
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_on=$(median "${on[@]}"); m_off=$(median "${off[@]}")
printf 'median: metrics on %.0f req/s, off %.0f req/s; cost %.1f%%\n' "$m_on" "$m_off" "$(awk -v a="$m_on" -v b="$m_off" 'BEGIN {print (1 - a/b) * 100}')"
