#!/usr/bin/env bash
# make bench-resync: `ocean resync` of the fake integration, 100,000 persons of 1 KiB (20,000 per
# department) with the default mapping, into a fresh catalog each round; prints entities/s (from the
# job's own start and finish) and peak RSS; then 1,000,000 persons to check that memory stays flat.
# Usage: run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
out=.build/bench-resync; rm -rf "$out"; mkdir -p "$out"
swift build -c release --product ocean >/dev/null
ocean=$(swift build -c release --show-bin-path)/ocean

run() { # label persons-per-department
  local catalog="$out/catalog-$RANDOM.sqlite" text rate rss
  text=$( { OCEAN__CATALOG__PATH="$catalog" OCEAN__INTEGRATION__CONFIG__ENTITY_AMOUNT="$2" APPLICATION__LOG_LEVEL=warning \
            /usr/bin/time -f "rss=%M" "$ocean" resync > /dev/null; } 2>&1 )
  rate=$(sed -n 's/.*(\([0-9]*\) entities\/s).*/\1/p' <<<"$text")
  rss=$(sed -n 's/^rss=//p' <<<"$text")
  printf '%-10s %s; peak RSS %.1f MiB\n' "$1" "$(grep -o 'succeeded in.*' <<<"$text" || grep -o 'job .*' <<<"$text" | tail -1)" "$(awk -v k="$rss" 'BEGIN {print k/1024}')" >&2
  rm -f "$catalog"*
  echo "$rate $rss"
}
rates=(); rsses=()
for round in $(seq "$rounds"); do
  read -r rate rss < <(run "100k #$round" 20000); rates+=("$rate"); rsses+=("$rss")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mrate=$(median "${rates[@]}"); mrss=$(median "${rsses[@]}")
printf 'medians (100k): %d entities/s, peak RSS %.1f MiB\n' "$mrate" "$(awk -v k="$mrss" 'BEGIN {print k/1024}')"
read -r rate rss < <(run "1M" 200000)
printf '1,000,000 persons: %d entities/s, peak RSS %.1f MiB (%.2fx the 100k median)\n' "$rate" \
  "$(awk -v k="$rss" 'BEGIN {print k/1024}')" "$(awk -v a="$rss" -v b="$mrss" 'BEGIN {print a/b}')"
