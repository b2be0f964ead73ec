#!/usr/bin/env bash
# Runs each libFuzzer target (tests/fuzz/, built by `deploy/build.sh --fuzz` into build-fuzz/)
# for a bounded time, starting from the seeds (docs/events/examples/, the event contract cases,
# tests/fuzz/seeds/) plus whatever corpus earlier runs in this build tree kept.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]     default 30; CI runs 30, a longer hunt e.g. 3600
#
# A crash, a leak, a sanitizer report or a failed check stops that target: its input is saved
# in build-fuzz/fuzz-crashes/<target>/ and the script exits 1 after running the others.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
build=$repo/build-fuzz
work=$build/fuzz-work
for t in event_decoder_fuzz search_request_fuzz analyzer_fuzz; do
  [ -x "$build/tests/fuzz/$t" ] || { echo "fuzz: $build/tests/fuzz/$t is missing: run deploy/build.sh --fuzz" >&2; exit 1; }
done

# Seeds. The decoder's first byte picks the key mode (see event_decoder_fuzz.cc): 1 = a valid key.
seeds=$work/seeds
rm -rf "$seeds" && mkdir -p "$seeds/event_decoder_fuzz" "$seeds/search_request_fuzz" "$seeds/analyzer_fuzz"
for f in "$repo"/docs/events/examples/*.json; do
  { printf '\001'; cat "$f"; } >"$seeds/event_decoder_fuzz/$(basename "$f")"
done
n=0
while IFS= read -r event; do
  n=$((n + 1))
  { printf '\001'; printf '%s' "$event"; } >"$seeds/event_decoder_fuzz/case-$n.json"
done < <(jq -c '.cases[].event' "$repo/tests/contract/event_cases.json")
cp "$repo"/tests/fuzz/seeds/search/* "$seeds/search_request_fuzz/"
cp "$repo"/tests/fuzz/seeds/analyzer/* "$seeds/analyzer_fuzz/"

status=0
for t in event_decoder_fuzz search_request_fuzz analyzer_fuzz; do
  corpus=$work/corpus/$t
  crashes=$build/fuzz-crashes/$t
  mkdir -p "$corpus" "$crashes"
  dict=()
  case "$t" in event_decoder_fuzz|search_request_fuzz) dict=(-dict="$repo/tests/fuzz/json.dict") ;; esac
  start=$SECONDS
  if "$build/tests/fuzz/$t" "$corpus" "$seeds/$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
       -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 -artifact_prefix="$crashes/" \
       >"$work/$t.log" 2>&1; then
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$work/$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
    echo "fuzz: $t: ok, ${runs:-?} inputs in $(( SECONDS - start )) s, $cov, corpus $(ls "$corpus" | wc -l) files"
  else
    status=1
    echo "fuzz: $t FAILED; the input is in $crashes/ (reproduce: $build/tests/fuzz/$t <file>):"
    grep -E -A 30 'ERROR: |==[0-9]+==|_fuzz: ' "$work/$t.log" | head -n 60
  fi
done
exit "$status"
