#!/usr/bin/env bash
# An A/B of two `ocean` release binaries on the resync and map benches, interleaved round by round
# (resync: the fake integration's 100,000 persons into a fresh catalog; map: bench-map's 100k
# records with 1 and 2 workers); prints each round and the medians with B/A.
# Usage: Benchmarks/ab.sh A-binary B-binary [rounds]
set -uo pipefail
A=$1; B=$2; rounds=${3:-5}
cd "$(dirname "$0")/.."
out=.build/bench-ab; mkdir -p $out
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
resync() { local bin=$1 catalog=$out/c-$RANDOM.sqlite text
  text=$( { OCEAN__CATALOG__PATH="$catalog" OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT=20000 APPLICATION__LOG_LEVEL=warning "$bin" resync > /dev/null; } 2>&1 )
  rm -f "$catalog"*; sed -n 's/.*(\([0-9]*\) entities\/s).*/\1/p' <<<"$text"; }
map() { local bin=$1 w=$2
  { "$bin" map --mapping Benchmarks/map/mapping.yml --stats --workers $w .build/bench-map/records-100k.ndjson > /dev/null; } 2>&1 | sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p'; }
[ -s .build/bench-map/records-100k.ndjson ] || { mkdir -p .build/bench-map; python3 Benchmarks/map/generate.py 100000 > .build/bench-map/records-100k.ndjson; }
ra=(); rb=(); m1a=(); m1b=(); m2a=(); m2b=()
for r in $(seq $rounds); do
  ra+=($(resync $A)); rb+=($(resync $B))
  m1a+=($(map $A 1)); m1b+=($(map $B 1))
  m2a+=($(map $A 2)); m2b+=($(map $B 2))
  echo "round $r: resync A ${ra[-1]} B ${rb[-1]}; map1 A ${m1a[-1]} B ${m1b[-1]}; map2 A ${m2a[-1]} B ${m2b[-1]}"
done
for name in resync map1 map2; do
  case $name in resync) a=("${ra[@]}"); b=("${rb[@]}");; map1) a=("${m1a[@]}"); b=("${m1b[@]}");; map2) a=("${m2a[@]}"); b=("${m2b[@]}");; esac
  ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
  printf '%s: median A %s, B %s, B/A %.3f\n' $name $ma $mb $(awk -v a=$ma -v b=$mb 'BEGIN{print b/a}')
done
