#!/usr/bin/env bash
# Serving over HTTP, through the real processes (DESIGN §6: 1M chunks hybrid top-10 p50 <= 5 ms,
# p99 <= 25 ms single client, >= 400 q/s on 2 cores over keep-alive; ready <= 15 s with 1M
# chunks; memory <= 1.5x raw vector bytes + text).
#   1. builds tidectl, tide-ingest and tide-query (--no-build skips);
#   2. makes the corpus of tests/bench/make_bench_events.py (real Korean/English text), publishes
#      it through the dev broker (paced, see pipeline_lib.sh) and lets tide-ingest apply it;
#      stops the worker, which writes its final index snapshot;
#   3. starts tide-query twice and times process start -> /readyz 200 at the store's last change
#      (snapshot load + change-log replay), keeping the second one;
#   4. drives it with wrk over keep-alive (a Lua script in the run directory rotates 300 real
#      Korean queries as POST bodies) for each mode and search type and for /v1/context: one
#      client (latency) and 2 threads x 8 connections (throughput);
#   5. reads VmRSS/VmHWM of both processes and compares them with the raw data size;
#   6. replaces the section "## Serving over HTTP" of docs/benchmarks.md (latency CDF plot in
#      docs/bench/serving_latency.png when matplotlib is there).
#
#   tests/bench/serving_bench.sh [--quick | --full] [--chunks N] [--duration S] [--no-build] [--keep]
#                                [--from DIR]
#
# --quick (default): 100,000 chunks, 6 s per wrk run; --full: 1,000,000 chunks, 15 s per run.
# --from DIR skips steps 2's corpus and ingest and serves the store `ingest_bench.sh --handoff
# DIR` left (its corpus plus the freshness probes and background load it ingested; the sizes
# in the section are read from that store).
# wrk runs on the same 2 cores as the daemon, so throughput figures include its cost.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/pipeline_lib.sh"
bin=${TIDE_BUILD_DIR:-$repo/build}
chunks=100000
duration=6
mode=quick
connections=8
build=1
command_line="tests/bench/serving_bench.sh${*:+ $*}"
from=""
usage="usage: tests/bench/serving_bench.sh [--quick | --full] [--chunks N] [--duration S] [--no-build] [--keep] [--from DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) chunks=100000; duration=6; mode=quick ;;
    --full) chunks=1000000; duration=15; mode=full ;;
    --chunks) chunks=$2; shift ;;
    --duration) duration=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --from) from=$2; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
for tool in jq curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "serving_bench: $tool is needed" >&2; exit 1; }
done

bench_suffix "$mode"
heading="## Serving over HTTP$heading_suffix"
png="serving_latency$plot_suffix.png"
script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 tidectl tide-ingest tide-query
fi
mkdir -p "$bin"
run=$(mktemp -d "$bin/bench-serving.XXXXXX")
trap pipeline_cleanup EXIT
trap 'exit 130' INT TERM
pipeline_copy_binaries ingest/tidectl ingest/tide-ingest query/tide-query

if [ -n "$from" ]; then
  for f in data corpus.json queries.json; do
    [ -e "$from/$f" ] || { echo "serving_bench: $from/$f is missing (made by ingest_bench.sh --handoff)" >&2; exit 1; }
  done
  ls "$from"/data/snapshots/snap-* >/dev/null 2>&1 || { echo "serving_bench: no snapshot in $from/data" >&2; exit 1; }
  mv "$from/data" "$from/corpus.json" "$from/queries.json" "$run/"
  echo "serving_bench: serving the store handed over in $from"
  stats=$("$bin/ingest/tidectl" stats --data_dir "$run/data")
  docs=$(jq '.documents' <<<"$stats")
  stored_chunks=$(jq '.chunks' <<<"$stats")
  change_seq=$(jq '.change_seq' <<<"$stats")
  worker_rss=""; worker_hwm=""; ingest_ms=""
else
  echo "serving_bench: making a corpus of $chunks chunks in $run"
  pipeline_corpus "$chunks"
  docs=$(jq '.documents' "$run/corpus.json")

  pipeline_start_broker
  echo "serving_bench: ingesting $docs documents"
  t0=$(now_ms)
  pipeline_start_worker
  pipeline_publish_paced "$run/events.jsonl" || { echo "publishing stalled"; tail -n 20 "$run/ingest.log"; exit 1; }
  wait_until $(( 900 + chunks / 50 )) worker_caught_up "$docs" || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
  ingest_ms=$(( $(now_ms) - t0 ))
  worker_rss=$(proc_status_kb "$worker_pid" VmRSS); worker_hwm=$(proc_status_kb "$worker_pid" VmHWM)
  pipeline_stop "$worker_pid"  # writes the final snapshot
  pipeline_stop "${pids[0]}"   # the broker: nothing more to publish
  grep -q 'snapshot written' "$run/ingest.log" || { echo "no snapshot written"; tail -n 20 "$run/ingest.log"; exit 1; }
  stats=$("$bin/ingest/tidectl" stats --data_dir "$run/data")
  stored_chunks=$(jq '.chunks' <<<"$stats")
  change_seq=$(jq '.change_seq' <<<"$stats")
  if [ "$stored_chunks" -ne "$chunks" ] || [ "$(jq '.documents' <<<"$stats")" -ne "$docs" ]; then
    echo "serving_bench: expected $docs documents and $chunks chunks in the store: $stats" >&2
    exit 1
  fi
fi
# The raw text size is the store's own (with --from it holds more than the corpus file says).
text_bytes=$(jq '.chunk_text_bytes' <<<"$stats")
snapshot_bytes=$(du -sb "$run/data/snapshots" | cut -f1)
store_bytes=$(du -sb "$run/data/store" | cut -f1)

# Result and query-embedding caches (when this tide-query has them) would turn 300 rotating
# queries into cache hits: the timed rows run with them off, and one extra row with them on.
no_cache=()
if "$bin/query/tide-query" --help 2>&1 | grep -q 'cache.results'; then
  no_cache=(--cache.results 0 --cache.query_embeddings 0)
fi

# Start to ready, twice: first as configured (for the cached row), then without caches, which
# stays up for the timed rows.
ready_ms=()
ready() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" |
    jq -e ".ready and .watermark.seq >= $change_seq" >/dev/null
}
start_ready() {
  local start
  start=$(now_ms)
  pipeline_start_query "$@"
  wait_until 600 ready || { echo "tide-query did not get ready"; tail -n 20 "$run/query.log"; exit 1; }
  ready_ms+=($(( $(now_ms) - start )))
  echo "serving_bench: tide-query ready after ${ready_ms[-1]} ms"
  query_ready_rss=$(proc_status_kb "$query_pid" VmRSS)
}

# --- load -----------------------------------------------------------------------------------
cp "$repo/tests/bench/rotate.lua" "$run/rotate.lua"

containers=$(jq -c '.chunks_per_container | keys' "$run/corpus.json")
one_container=team-05
one_share=$(jq --arg c "$one_container" '.chunks_per_container[$c] / .chunks' "$run/corpus.json")
bodies() {  # NAME JQ-OBJECT-EXPRESSION (with $q the query, $c the containers)
  jq -c --argjson c "$2" ".[] as \$q | $3" "$run/queries.json" >"$run/bodies_$1.jsonl"
}
bodies hybrid_general "$containers" '{query: $q, container_ids: $c, k: 10, mode: "hybrid", search_type: "general"}'
bodies hybrid_rag "$containers" '{query: $q, container_ids: $c, k: 10, mode: "hybrid", search_type: "rag"}'
bodies vector_general "$containers" '{query: $q, container_ids: $c, k: 10, mode: "vector", search_type: "general"}'
bodies vector_rag "$containers" '{query: $q, container_ids: $c, k: 10, mode: "vector", search_type: "rag"}'
bodies keyword_general "$containers" '{query: $q, container_ids: $c, k: 10, mode: "keyword", search_type: "general"}'
bodies keyword_rag "$containers" '{query: $q, container_ids: $c, k: 10, mode: "keyword", search_type: "rag"}'
bodies hybrid_one "[\"$one_container\"]" '{query: $q, container_ids: $c, k: 10, mode: "hybrid", search_type: "general"}'
bodies context "$containers" '{query: $q, container_ids: $c, k: 5}'

wrk_run() {  # NAME ROUTE THREADS CONNECTIONS SECONDS
  local out
  out=$(wrk -t"$3" -c"$4" -d"$5s" --timeout 10s -s "$run/rotate.lua" "http://127.0.0.1:$port" \
    -- "$2" "$run/bodies_$1.jsonl" "$api_key" | grep '^RESULT ' | cut -d' ' -f2-)
  [ -n "$out" ] || { echo "serving_bench: wrk printed no result for $1"; exit 1; }
  echo "$out"
}
start_ready
cached=""
if [ ${#no_cache[@]} -gt 0 ]; then
  echo "serving_bench: hybrid with the caches on"
  wrk_run hybrid_general /v1/search 2 4 3 >/dev/null
  cached_single=$(wrk_run hybrid_general /v1/search 1 1 "$duration")
  cached_multi=$(wrk_run hybrid_general /v1/search 2 "$connections" "$duration")
  cached=$(jq -cn --argjson single "$cached_single" --argjson multi "$cached_multi" \
    '{name: "hybrid_cached", single: $single, multi: $multi}')
fi
pipeline_stop "$query_pid"
start_ready "${no_cache[@]}"

# Every configuration answers 200 with hits before it is timed.
for name in hybrid_general vector_general keyword_general context; do
  route=/v1/search; [ "$name" = context ] && route=/v1/context
  code=$(curl -s -o "$run/sample_$name.json" -w '%{http_code}' -X POST "http://127.0.0.1:$port$route" \
    -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' -d "$(head -n 1 "$run/bodies_$name.jsonl")")
  [ "$code" = 200 ] || { echo "serving_bench: $name answered $code: $(cat "$run/sample_$name.json")"; exit 1; }
done

echo "serving_bench: warming up"
wrk_run hybrid_general /v1/search 2 4 3 >/dev/null
: >"$run/results.jsonl"
cpu_before=$(proc_cpu_s "$query_pid")
for name in hybrid_general hybrid_rag vector_general vector_rag keyword_general keyword_rag hybrid_one context; do
  route=/v1/search; [ "$name" = context ] && route=/v1/context
  single=$(wrk_run "$name" "$route" 1 1 "$duration")
  multi=$(wrk_run "$name" "$route" 2 "$connections" "$duration")
  jq -cn --arg name "$name" --argjson single "$single" --argjson multi "$multi" \
    '{name: $name, single: $single, multi: $multi}' >>"$run/results.jsonl"
  echo "serving_bench: $name: $(jq -r '"p50 \(.single.cdf[6][1] / 1000) ms, p99 \(.single.cdf[14][1] / 1000) ms, \(.multi.requests * 1e6 / .multi.duration_us | floor) q/s"' <<<"$(tail -n 1 "$run/results.jsonl")")"
done
query_cpu=$(awk -v a="$(proc_cpu_s "$query_pid")" -v b="$cpu_before" 'BEGIN { printf "%.1f", a - b }')
if [ -n "$cached" ]; then echo "$cached" >>"$run/results.jsonl"; fi
query_rss=$(proc_status_kb "$query_pid" VmRSS); query_hwm=$(proc_status_kb "$query_pid" VmHWM)
total_s=$(( $(date +%s) - script_start ))

# --- the section -----------------------------------------------------------------------------
have_plot=0
mkdir -p "$repo/docs/bench"
find_matplotlib
if [ -n "$py" ]; then
  "$py" - "$run/results.jsonl" "$repo/docs/bench/$png" "$stored_chunks" <<'PY' && have_plot=$png
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
results = [json.loads(l) for l in open(sys.argv[1])]
fig, ax = plt.subplots(figsize=(7.5, 4))
for r in results:
    cdf = r["single"]["cdf"]
    ax.plot([v / 1000 for _, v in cdf], [p for p, _ in cdf], marker=".", label=r["name"])
ax.axvline(5, color="grey", linestyle=":", label="bar p50 5 ms")
ax.axvline(25, color="red", linestyle="--", label="bar p99 25 ms")
ax.set_xscale("log")
ax.set_xlabel("latency, one client over keep-alive (ms, log scale)")
ax.set_ylabel("percentile")
ax.set_title(f"tide-query, {int(sys.argv[3]):,} chunks")
ax.legend(fontsize=7, loc="lower right")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
PY
fi

python3 - "$run" "$stored_chunks" "$docs" "$text_bytes" "$ingest_ms" "${ready_ms[0]}" "${ready_ms[1]}" \
  "$worker_rss" "$worker_hwm" "$query_ready_rss" "$query_rss" "$query_hwm" "$snapshot_bytes" \
  "$store_bytes" "$duration" "$connections" "$one_container" "$one_share" "$query_cpu" "$have_plot" <<'PY' >"$run/body.md"
import json, sys
(run, chunks, docs, text_bytes, ingest_ms, ready1, ready2, w_rss, w_hwm, q_ready_rss, q_rss, q_hwm,
 snap_bytes, store_bytes, duration, conns, one, one_share, query_cpu, have_plot) = sys.argv[1:]
chunks, text_bytes = int(chunks), int(text_bytes)
corpus_chunks = json.load(open(f"{run}/corpus.json"))["chunks"]
raw = chunks * 384 * 4 + text_bytes
mib = lambda kb: int(kb) / 1024
results = [json.loads(l) for l in open(f"{run}/results.jsonl")]
caches_off = any(r["name"] == "hybrid_cached" for r in results)
labels = {
    "hybrid_general": "hybrid, general", "hybrid_rag": "hybrid, rag",
    "vector_general": "vector, general", "vector_rag": "vector, rag",
    "keyword_general": "keyword, general", "keyword_rag": "keyword, rag",
    "hybrid_one": f"hybrid, general, one container ({one}, {100 * float(one_share):.1f} % of chunks)",
    "context": "`/v1/context` (k 5, 6,000 chars)",
    "hybrid_cached": "hybrid, general, **result and embedding caches on**, as shipped (hits only when one "
                     "of the 300 queries comes round again within the run)"}
def pct(r, p):
    return dict((q, v) for q, v in r["cdf"])[p] / 1000
def ok(b): return "yes" if b else "**no**"
p = print
origin = ("the ingest benchmark's generator" if ingest_ms else
          "a store built earlier and handed over with `--from`"
          + ("" if corpus_chunks == chunks else
             ": the ingest benchmark's, with its freshness probes and background load"))
p(f"Corpus: {chunks:,} chunks in {int(docs):,} documents over 24 containers ({origin}), "
  f"`hash` embedder at 384 dimensions, `configs/query.conf` as shipped (1 I/O thread, 2 worker threads, "
  f"`filtered_ef_search` 256). Every request is scoped: to the corpus's 24 containers unless the row says otherwise "
  + (f"(so the vector retriever walks HNSW with a filter that permits everything). " if corpus_chunks == chunks else
     f"({corpus_chunks:,} of the {chunks:,} chunks: the filter of the HNSW walk and of the BM25 postings rejects "
     f"the ingest benchmark's load and probe containers). ")
  + f"k = 10, `group_by: chunk`. "
  f"300 Korean queries (150 KLUE sentences, 150 LibreOffice help headings) rotate as bodies. "
  f"wrk {duration} s per run; one client is `-t1 -c1`, concurrent is `-t2 -c{conns}`; wrk shares the 2 cores. "
  + ("Rows run with `--cache.results 0 --cache.query_embeddings 0` (the rotating queries would otherwise be "
     "cache hits), except the last." if caches_off else ""))
p()
p(f"| request | 1 client: p50 | p90 | p99 | q/s | {conns} connections: q/s | p50 | p99 | errors |")
p("|---|---|---|---|---|---|---|---|---|")
for r in results:
    s, m = r["single"], r["multi"]
    qs1 = s["requests"] * 1e6 / s["duration_us"]
    qsm = m["requests"] * 1e6 / m["duration_us"]
    errs = s["non2xx"] + s["socket_errors"] + m["non2xx"] + m["socket_errors"]
    p(f"| {labels[r['name']]} | {pct(s, 50):.2f} ms | {pct(s, 90):.2f} | {pct(s, 99):.2f} | {qs1:,.0f} | "
      f"{qsm:,.0f} | {pct(m, 50):.2f} | {pct(m, 99):.2f} | {errs} |")
p()
h = next(r for r in results if r["name"] == "hybrid_general")
hp50, hp99 = pct(h["single"], 50), pct(h["single"], 99)
hqs = h["multi"]["requests"] * 1e6 / h["multi"]["duration_us"]
q_total = (int(q_rss)) * 1024
p("| DESIGN §6 (bars are for 1M chunks) | measured here | bar | met |")
p("|---|---|---|---|")
p(f"| hybrid top-10, one client, p50 | {hp50:.2f} ms | ≤ 5 ms | {ok(hp50 <= 5)} |")
p(f"| hybrid top-10, one client, p99 | {hp99:.2f} ms | ≤ 25 ms | {ok(hp99 <= 25)} |")
p(f"| hybrid top-10, throughput over keep-alive | {hqs:,.0f} q/s | ≥ 400 q/s | {ok(hqs >= 400)} |")
p(f"| start → `/readyz` 200 at the last change (snapshot load + replay), two starts | {int(ready1) / 1000:.1f} s, {int(ready2) / 1000:.1f} s | ≤ 15 s | {ok(max(int(ready1), int(ready2)) <= 15000)} |")
p(f"| tide-query VmRSS after the load runs / raw data | {q_total / raw:.2f}× | ≤ 1.5× | {ok(q_total / raw <= 1.5)} |")
p()
p(f"**Memory.** Raw data: {chunks:,} × 384 × 4 B of vectors ({chunks * 1536 / 2**20:.0f} MiB) + "
  f"{text_bytes / 2**20:.0f} MiB of chunk text = {raw / 2**20:.0f} MiB.")
p()
p("| process | VmRSS | VmHWM | ÷ raw (RSS) |")
p("|---|---|---|---|")
p(f"| tide-query, just ready | {mib(q_ready_rss):.0f} MiB | | {int(q_ready_rss) * 1024 / raw:.2f}× |")
p(f"| tide-query, after the load runs | {mib(q_rss):.0f} MiB | {mib(q_hwm):.0f} MiB | {int(q_rss) * 1024 / raw:.2f}× |")
if w_rss:
    p(f"| tide-ingest, after the ingest | {mib(w_rss):.0f} MiB | {mib(w_hwm):.0f} MiB | {int(w_rss) * 1024 / raw:.2f}× |")
    p(f"| both | {mib(int(q_rss) + int(w_rss)):.0f} MiB | | {(int(q_rss) + int(w_rss)) * 1024 / raw:.2f}× |")
else:
    p("| tide-ingest | not measured here (the store was handed over with `--from`) | | |")
p()
p(f"On disk: store {int(store_bytes) / 2**20:.0f} MiB, index snapshots {int(snap_bytes) / 2**20:.0f} MiB. "
  + (f"The worker took {int(ingest_ms) / 1000:.0f} s to ingest the corpus (alone, tide-query not running). "
     if ingest_ms else "")
  + f"tide-query used {float(query_cpu):.0f} CPU-seconds during the timed runs.")
if have_plot != "0":
    p()
    p(f"![latency CDF, one client](bench/{have_plot})")
PY

section="$run/section.md"
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command (from the repository root): \`$command_line\` (whole script: ${total_s} s)."
  echo
  cat "$run/body.md"
  echo
  if [ -f "$repo/tests/bench/serving_reading.md" ]; then cat "$repo/tests/bench/serving_reading.md"; echo; fi
} >"$section"
replace_section "$heading" "$section"
cat "$run/body.md"
echo "serving_bench: wrote docs/benchmarks.md (section \"$heading\") in ${total_s} s"
ok=1
