#!/usr/bin/env bash
# make bench-http: wrk against GET /health/live of the Swift server and of a plain C evhttp server,
# one loop thread each, in interleaved A/B rounds; prints req/s, p50/p99 per round, medians and the
# Swift/C ratio. Servers are pinned to core 0 and wrk to core 1 (when taskset exists), so the two
# servers meet the same conditions and the rounds vary less.
# Usage: run.sh [rounds] [seconds-per-round] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}; seconds=${2:-10}; connections=${3:-50}
out=.build/bench-http; mkdir -p "$out"
cc -O2 -o "$out/hello-evhttp" Benchmarks/http/hello-evhttp.c -levent
swift build -c release --product ocean >/dev/null
swift_bin=$(swift build -c release --show-bin-path)/ocean
c_port=18101; swift_port=18102
server_cpu=(); client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

"${server_cpu[@]}" "$out/hello-evhttp" "$c_port" & c_pid=$!
APPLICATION__LOG_LEVEL=warning "${server_cpu[@]}" "$swift_bin" serve --host 127.0.0.1 --port "$swift_port" & s_pid=$!
trap 'kill $c_pid $s_pid 2>/dev/null; wait 2>/dev/null' EXIT
for port in $c_port $swift_port; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
done

# wrk --latency prints "Requests/sec: N" and the 50%/99% latency lines.
measure() { # name port
  local text rps p50 p99
  text=$("${client_cpu[@]}" wrk -t1 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$2/health/live")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$text")
  p50=$(awk '$1=="50%" {print $2}' <<<"$text")
  p99=$(awk '$1=="99%" {print $2}' <<<"$text")
  printf '%-6s round %d: %10.0f req/s  p50 %-8s p99 %s\n' "$1" "$round" "$rps" "$p50" "$p99" >&2
  echo "$rps"
}
c_rates=(); s_rates=()
"${client_cpu[@]}" wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$c_port/health/live" >/dev/null      # warm-up
"${client_cpu[@]}" wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$swift_port/health/live" >/dev/null
for round in $(seq "$rounds"); do
  if (( round % 2 )); then
    c_rates+=("$(measure C $c_port)"); s_rates+=("$(measure Swift $swift_port)")
  else
    s_rates+=("$(measure Swift $swift_port)"); c_rates+=("$(measure C $c_port)")
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
c_median=$(median "${c_rates[@]}"); s_median=$(median "${s_rates[@]}")
ratios=(); for i in "${!c_rates[@]}"; do ratios+=("$(awk -v s="${s_rates[$i]}" -v c="${c_rates[$i]}" 'BEGIN {printf "%.3f", s/c}')"); done
printf 'median C %.0f req/s, Swift %.0f req/s; Swift/C ratio of medians %.3f; per-round ratios %s (median %s)\n' \
  "$c_median" "$s_median" "$(awk -v s="$s_median" -v c="$c_median" 'BEGIN {print s/c}')" "${ratios[*]}" "$(median "${ratios[@]}")"
