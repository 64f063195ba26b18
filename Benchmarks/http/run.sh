#!/usr/bin/env bash
# make bench-http: wrk against GET /health/live of the Swift server and of a plain C evhttp server,
# one loop thread each, in interleaved A/B rounds; prints req/s, p50/p99 per round, medians and the
# Swift/C ratio. Servers are pinned to core 0 and wrk to core 1 (when taskset exists), so the two
# servers meet the same conditions and the rounds vary less.
# BASELINE=/path/to/an/older/ocean adds that binary to the same rounds (an A/B of two builds).
# Usage: run.sh [rounds] [seconds-per-round] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}; seconds=${2:-10}; connections=${3:-50}
out=.build/bench-http; mkdir -p "$out"
cc -O2 -o "$out/hello-evhttp" Benchmarks/http/hello-evhttp.c -levent
swift build -c release --product ocean >/dev/null
swift_bin=$(swift build -c release --show-bin-path)/ocean
c_port=18101; swift_port=18102; base_port=18103
server_cpu=(); client_cpu=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

pids=()
"${server_cpu[@]}" "$out/hello-evhttp" "$c_port" & pids+=($!)
(cd "$out" && APPLICATION__LOG_LEVEL=warning OCEAN__RESYNC_ON_START=false exec "${server_cpu[@]}" "$swift_bin" serve --host 127.0.0.1 --port "$swift_port") & pids+=($!)
names=(C Swift); ports=($c_port $swift_port)
if [ -n "${BASELINE:-}" ]; then
  mkdir -p "$out/baseline"
  (cd "$out/baseline" && APPLICATION__LOG_LEVEL=warning OCEAN__RESYNC_ON_START=false exec "${server_cpu[@]}" "$BASELINE" serve --host 127.0.0.1 --port "$base_port") & pids+=($!)
  names+=(Base); ports+=($base_port)
fi
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
for port in "${ports[@]}"; do
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
declare -A rates
for port in "${ports[@]}"; do "${client_cpu[@]}" wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$port/health/live" >/dev/null; done  # warm-up
count=${#names[@]}
for round in $(seq "$rounds"); do
  # A different server goes first each round.
  for offset in $(seq 0 $((count - 1))); do
    i=$(( (round + offset) % count ))
    rates[${names[$i]}]+="$(measure "${names[$i]}" "${ports[$i]}") "
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ratio_line() { # name
  local -a c s r=()
  read -ra c <<<"${rates[C]}"; read -ra s <<<"${rates[$1]}"
  for i in "${!c[@]}"; do r+=("$(awk -v s="${s[$i]}" -v c="${c[$i]}" 'BEGIN {printf "%.3f", s/c}')"); done
  printf '%s: median %.0f req/s; %s/C per-round ratios %s (median %s)\n' "$1" "$(median "${s[@]}")" "$1" "${r[*]}" "$(median "${r[@]}")"
}
read -ra c_all <<<"${rates[C]}"
printf 'C: median %.0f req/s\n' "$(median "${c_all[@]}")"
ratio_line Swift
if [ -n "${BASELINE:-}" ]; then
  ratio_line Base
  read -ra s_all <<<"${rates[Swift]}"; read -ra b_all <<<"${rates[Base]}"
  r=(); for i in "${!s_all[@]}"; do r+=("$(awk -v s="${s_all[$i]}" -v b="${b_all[$i]}" 'BEGIN {printf "%.3f", s/b}')"); done
  printf 'Swift/Base per-round ratios %s (median %s)\n' "${r[*]}" "$(median "${r[@]}")"
fi
