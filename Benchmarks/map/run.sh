#!/usr/bin/env bash
# make bench-map: `ocean map` on 100,000 generated records of about 1 KB with a standard mapping
# (identifier, title, blueprint, six properties, one relation, a selector dropping about 10%).
# Interleaved rounds of: one worker, two workers, one worker evaluating each field as its own
# program (Ocean's way). Prints records/s and peak RSS per run, medians, and the 2-worker speed-up;
# then maps 1,000,000 records streamed from the generator to check that memory does not grow with N.
# Usage: run.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
out=.build/bench-map; mkdir -p "$out"
swift build -c release --product ocean >/dev/null
ocean=$(swift build -c release --show-bin-path)/ocean
mapping=Benchmarks/map/mapping.yml
[ -s "$out/records-100k.ndjson" ] || python3 Benchmarks/map/generate.py 100000 > "$out/records-100k.ndjson"

# One run: prints "records/s rss-KiB" (the map command's own rate, /usr/bin/time's peak RSS).
measure() { # label args...
  local label=$1; shift
  local stats
  stats=$( { /usr/bin/time -f "rss=%M" "$ocean" map --mapping "$mapping" --stats "$@" > /dev/null; } 2>&1 )
  local rate rss
  rate=$(sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p' <<<"$stats")
  rss=$(sed -n 's/^rss=//p' <<<"$stats")
  printf '%-22s %8d records/s  peak RSS %6.1f MiB\n' "$label" "$rate" "$(awk -v k="$rss" 'BEGIN {print k/1024}')" >&2
  echo "$rate $rss"
}
one=(); two=(); perfield=(); rss=()
for round in $(seq "$rounds"); do
  echo "round $round" >&2
  read -r r m < <(measure "1 worker" --workers 1 "$out/records-100k.ndjson"); one+=("$r"); rss+=("$m")
  read -r r m < <(measure "2 workers" --workers 2 "$out/records-100k.ndjson"); two+=("$r"); rss+=("$m")
  read -r r m < <(measure "1 worker, per field" --workers 1 --per-field "$out/records-100k.ndjson"); perfield+=("$r")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m1=$(median "${one[@]}"); m2=$(median "${two[@]}"); mp=$(median "${perfield[@]}"); mr=$(median "${rss[@]}")
printf 'medians (100k): 1 worker %d records/s, 2 workers %d records/s (%.2fx), per-field %d records/s (combined %.2fx faster); peak RSS median %.1f MiB\n' \
  "$m1" "$m2" "$(awk -v a="$m2" -v b="$m1" 'BEGIN {print a/b}')" "$mp" "$(awk -v a="$m1" -v b="$mp" 'BEGIN {print a/b}')" "$(awk -v k="$mr" 'BEGIN {print k/1024}')"

# 1,000,000 records, streamed from the generator through a pipe: RSS must stay where 100k left it.
stats=$( { python3 Benchmarks/map/generate.py 1000000 | /usr/bin/time -f "rss=%M" "$ocean" map --mapping "$mapping" --workers 2 --stats > /dev/null; } 2>&1 )
big=$(sed -n 's/^rss=//p' <<<"$stats")
printf '1,000,000 records (streamed, 2 workers): %s; peak RSS %.1f MiB (%.2fx the 100k median)\n' \
  "$(grep -o 'mapped.*' <<<"$stats")" "$(awk -v k="$big" 'BEGIN {print k/1024}')" "$(awk -v a="$big" -v b="$mr" 'BEGIN {print a/b}')"
