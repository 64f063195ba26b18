#!/usr/bin/env bash
# An A/B of two `ocean` release binaries on bench-port's job: the fake integration's 100,000
# persons of 1 KiB into a fresh Port-like API (`fake-port`, its own process, on loopback),
# interleaved round by round. Each job gets a new, empty fake whose blueprints B provisions first
# (`ocean defaults apply`), so a binary that does not provision is measured the same way.
# Prints each round and the medians with B/A.
# Usage: Benchmarks/port/ab.sh A-binary B-binary [rounds]
set -uo pipefail
A=$1; B=$2; rounds=${3:-5}
cd "$(dirname "$0")/../.."
swift build -c release --product fake-port >/dev/null
fake=$(swift build -c release --show-bin-path)/fake-port
out=.build/bench-port-ab; mkdir -p $out
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
job() { local bin=$1 port=18211 pid text
  "$fake" $port > /dev/null & pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/__stats >/dev/null && break; sleep 0.05; done
  local env=(OCEAN__CATALOG__PATH=$out/c-$RANDOM.sqlite OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=20000
             OCEAN__PORT__CLIENT_ID=bench-client OCEAN__PORT__CLIENT_SECRET=bench-secret
             OCEAN__PORT__BASE_URL=http://127.0.0.1:$port OCEAN__INTEGRATION__IDENTIFIER=bench APPLICATION__LOG_LEVEL=warning)
  env "${env[@]}" "$B" defaults apply > /dev/null 2>&1
  text=$( { env "${env[@]}" "$bin" resync > /dev/null; } 2>&1 )
  kill $pid; wait $pid 2>/dev/null; rm -f $out/c-*
  sed -n 's/.*(\([0-9]*\) entities\/s).*/\1/p' <<<"$text" | head -1; }
ra=(); rb=()
for r in $(seq $rounds); do
  ra+=($(job $A)); rb+=($(job $B))
  echo "round $r: A ${ra[-1]} B ${rb[-1]} entities/s"
done
ma=$(median "${ra[@]}"); mb=$(median "${rb[@]}")
printf 'port: median A %s, B %s, B/A %.3f\n' $ma $mb $(awk -v a=$ma -v b=$mb 'BEGIN{print b/a}')
