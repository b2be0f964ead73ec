#!/usr/bin/env bash
# What the router costs per query (decision 0016): the same searches sent to one tide-query
# over every shard of a per-partition data directory, and to a router (shards = remote) in
# front of two tide-query nodes that serve half the shards each, over the same stores.
#   1. builds tidectl, tide-ingest and tide-query (--no-build skips);
#   2. makes the corpus of tests/bench/make_bench_events.py (real Korean/English text, 24
#      containers), publishes it placed by container to a dev broker topic of 4 partitions
#      (paced, see pipeline_lib.sh) and lets one tide-ingest with shards = per_partition apply
#      it; stops the worker (final snapshots);
#   3. starts the daemon over all four shards, node A (partitions 0,1), node B (2,3) and the
#      router over A and B, every one with its result and query-embedding caches off;
#   4. checks that the router's answers equal the daemon's for every timed request kind, then
#      drives both with wrk over keep-alive (rotate.lua, 300 Korean queries): one client
#      (latency) and 2 threads x 8 connections (throughput), and reads every process's CPU;
#   5. replaces the section "## Router over two nodes vs one daemon" of docs/benchmarks.md.
#
#   tests/bench/router_bench.sh [--quick | --full] [--chunks N] [--duration S] [--no-build] [--keep]
#
# --quick (default): 100,000 chunks, 6 s per wrk run; --full: 1,000,000 chunks, 15 s per run.
# Everything (wrk, the router, both nodes) shares the 2 cores.
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
command_line="tests/bench/router_bench.sh${*:+ $*}"
usage="usage: tests/bench/router_bench.sh [--quick | --full] [--chunks N] [--duration S] [--no-build] [--keep]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) chunks=100000; duration=6; mode=quick ;;
    --full) chunks=1000000; duration=15; mode=full ;;
    --chunks) chunks=$2; shift ;;
    --duration) duration=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
for tool in jq curl python3 wrk; do
  command -v "$tool" >/dev/null || { echo "router_bench: $tool is needed" >&2; exit 1; }
done

bench_suffix "$mode"
heading="## Router over two nodes vs one daemon$heading_suffix"
script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 tidectl tide-ingest tide-query
fi
mkdir -p "$bin"
run=$(mktemp -d "$bin/bench-router.XXXXXX")
trap pipeline_cleanup EXIT
trap 'exit 130' INT TERM
pipeline_copy_binaries ingest/tidectl ingest/tide-ingest query/tide-query

echo "router_bench: making a corpus of $chunks chunks in $run"
pipeline_corpus "$chunks"
docs=$(jq '.documents' "$run/corpus.json")
"$bin/ingest/tidectl" dev-broker --partitions 4 --bootstrap-file "$run/bootstrap" >"$run/broker.log" 2>&1 &
pids+=($!)
wait_until 20 test -s "$run/bootstrap" || { cat "$run/broker.log"; exit 1; }
brokers=$(cat "$run/bootstrap")
echo "router_bench: ingesting $docs documents into 4 shards"
pipeline_start_worker --shards per_partition
pipeline_publish_paced "$run/events.jsonl" || { echo "publishing stalled"; tail -n 20 "$run/ingest.log"; exit 1; }
wait_until $(( 900 + chunks / 50 )) worker_caught_up "$docs" || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
pipeline_stop "$worker_pid"
stats=$("$bin/ingest/tidectl" stats --data_dir "$run/data")
stored_chunks=$(jq '.chunks' <<<"$stats")
[ "$stored_chunks" -eq "$chunks" ] || { echo "router_bench: expected $chunks chunks in the shards: $stats" >&2; exit 1; }

no_cache=(--cache.results 0 --cache.query_embeddings 0)
declare -A ports qpids
start() {  # NAME ARGS...: a tide-query with its own log, port and secondary directory
  local name=$1
  shift
  pipeline_start_query "${no_cache[@]}" --follow.secondary_dir "$run/secondary-$name" "$@"
  mv "$run/query.log" "$run/$name.log"
  ports[$name]=$port
  qpids[$name]=$query_pid
}
ready_at() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$1/v1/stats" | jq -e ".chunks == $chunks" >/dev/null
}
start one --shards per_partition
start node_a --shards per_partition --partitions 0,1
start node_b --shards per_partition --partitions 2,3
start router --shards remote --remote.api_key "$(jq -r '.keys[0].key' "$run/api_keys.json")" \
  --remote.nodes "http://127.0.0.1:${ports[node_a]},http://127.0.0.1:${ports[node_b]}"
for name in one router; do
  wait_until 600 ready_at "${ports[$name]}" || { echo "router_bench: $name did not get ready"; tail -n 20 "$run/$name.log"; exit 1; }
done

cp "$repo/tests/bench/rotate.lua" "$run/rotate.lua"
containers=$(jq -c '.chunks_per_container | keys' "$run/corpus.json")
one_container=team-05
bodies() {  # NAME CONTAINERS JQ-OBJECT-EXPRESSION (with $q the query, $c the containers)
  jq -c --argjson c "$2" ".[] as \$q | $3" "$run/queries.json" >"$run/bodies_$1.jsonl"
}
bodies hybrid "$containers" '{query: $q, container_ids: $c, k: 10, mode: "hybrid"}'
bodies keyword "$containers" '{query: $q, container_ids: $c, k: 10, mode: "keyword"}'
bodies vector "$containers" '{query: $q, container_ids: $c, k: 10, mode: "vector"}'
bodies hybrid_one "[\"$one_container\"]" '{query: $q, container_ids: $c, k: 10, mode: "hybrid"}'
bodies context "$containers" '{query: $q, container_ids: $c, k: 5}'

# The router's answers are the daemon's: the same chunks in the same order, the same scores.
hits() { jq -c '[.hits[]? | [.container_id, .chunk_id, .score]], [.citations[]? | .chunk_id], .context'; }
for name in hybrid keyword vector hybrid_one context; do
  route=/v1/search; [ "$name" = context ] && route=/v1/context
  for i in 1 2 3 4 5; do
    body=$(sed -n "${i}p" "$run/bodies_$name.jsonl")
    for target in one router; do
      curl -sf -X POST "http://127.0.0.1:${ports[$target]}$route" -H "Authorization: Bearer $api_key" \
        -H 'Content-Type: application/json' -d "$body" | hits >"$run/answer_$target.json"
    done
    cmp -s "$run/answer_one.json" "$run/answer_router.json" ||
      { echo "router_bench: the router's $name answer differs from one daemon's for: $body"; exit 1; }
  done
done
echo "router_bench: the router's answers equal the daemon's"

wrk_run() {  # PORT NAME ROUTE THREADS CONNECTIONS SECONDS
  local out
  out=$(wrk -t"$4" -c"$5" -d"$6s" --timeout 10s -s "$run/rotate.lua" "http://127.0.0.1:$1" \
    -- "$3" "$run/bodies_$2.jsonl" "$api_key" | grep '^RESULT ' | cut -d' ' -f2-)
  [ -n "$out" ] || { echo "router_bench: wrk printed no result for $2"; exit 1; }
  echo "$out"
}
cpu_all() { for n in one node_a node_b router; do printf '%s ' "$(proc_cpu_s "${qpids[$n]}")"; done; }
echo "router_bench: warming up"
wrk_run "${ports[one]}" hybrid /v1/search 2 4 3 >/dev/null
wrk_run "${ports[router]}" hybrid /v1/search 2 4 3 >/dev/null
: >"$run/results.jsonl"
for name in hybrid keyword vector hybrid_one context; do
  route=/v1/search; [ "$name" = context ] && route=/v1/context
  for target in one router; do
    single=$(wrk_run "${ports[$target]}" "$name" "$route" 1 1 "$duration")
    before=$(cpu_all)
    multi=$(wrk_run "${ports[$target]}" "$name" "$route" 2 "$connections" "$duration")
    after=$(cpu_all)
    jq -cn --arg name "$name" --arg target "$target" --argjson single "$single" --argjson multi "$multi" \
      --arg before "$before" --arg after "$after" \
      '{name: $name, target: $target, single: $single, multi: $multi,
        cpu: ([$after | split(" ") | .[] | select(. != "") | tonumber] as $a
              | [$before | split(" ") | .[] | select(. != "") | tonumber] as $b
              | {one: ($a[0] - $b[0]), node_a: ($a[1] - $b[1]), node_b: ($a[2] - $b[2]), router: ($a[3] - $b[3])})}' \
      >>"$run/results.jsonl"
    echo "router_bench: $name via $target: $(jq -r '"p50 \(.single.cdf[6][1] / 1000) ms, \(.multi.requests * 1e6 / .multi.duration_us | floor) q/s"' <<<"$(tail -n 1 "$run/results.jsonl")")"
  done
done
total_s=$(( $(date +%s) - script_start ))

python3 - "$run/results.jsonl" "$chunks" "$docs" "$duration" "$connections" "$one_container" \
  "$(jq --arg c "$one_container" '.chunks_per_container[$c] / .chunks' "$run/corpus.json")" <<'PY' >"$run/body.md"
import json, sys
results_file, chunks, docs, duration, conns, one, share = sys.argv[1:]
results = {(r["name"], r["target"]): r for r in map(json.loads, open(results_file))}
labels = {"hybrid": "hybrid", "keyword": "keyword", "vector": "vector",
          "hybrid_one": f"hybrid, one container ({one}, {100 * float(share):.1f} % of chunks: one shard)",
          "context": "`/v1/context` (k 5)"}
def pct(r, p):
    return dict((q, v) for q, v in r["cdf"])[p] / 1000
def qps(r):
    return r["requests"] * 1e6 / r["duration_us"]
p = print
p(f"Corpus: {int(chunks):,} chunks in {int(docs):,} documents over 24 containers (the ingest benchmark's "
  f"generator), a dev-broker topic of 4 partitions, one `tide-ingest` with `shards = per_partition`, `hash` "
  f"embedder at 384 dimensions. *One daemon*: `tide-query` over all 4 shards. *Router*: `tide-query` with "
  f"`shards = remote` in front of node A (partitions 0 and 1) and node B (2 and 3), the same stores. "
  f"Every daemon as shipped but with `--cache.results 0 --cache.query_embeddings 0`. Requests are scoped to "
  f"all 24 containers (every shard) unless the row says otherwise; k = 10. Before timing, the router's "
  f"answers to 5 requests of each kind were checked equal to the daemon's (chunks, order, scores, context). "
  f"wrk {duration} s per run: one client `-t1 -c1`, concurrent `-t2 -c{conns}`; wrk, the router and both "
  f"nodes share the 2 cores. CPU: user + system seconds of each process during the concurrent run, per "
  f"request.")
p()
p(f"| request | via | 1 client: p50 | p99 | router adds (p50) | {conns} conn.: q/s | CPU ms / request: daemon or nodes | router | total | errors |")
p("|---|---|---|---|---|---|---|---|---|---|")
for name in ["hybrid", "keyword", "vector", "hybrid_one", "context"]:
    base = results[(name, "one")]
    for target in ["one", "router"]:
        r = results[(name, target)]
        s, m, c = r["single"], r["multi"], r["cpu"]
        n = m["requests"]
        serving = (c["one"] if target == "one" else c["node_a"] + c["node_b"]) * 1000 / n
        routing = c["router"] * 1000 / n if target == "router" else 0.0
        added = pct(s, 50) - pct(base["single"], 50)
        errs = s["non2xx"] + s["socket_errors"] + m["non2xx"] + m["socket_errors"]
        p(f"| {labels[name] if target == 'one' else ''} | {'one daemon' if target == 'one' else 'router'} | "
          f"{pct(s, 50):.2f} ms | {pct(s, 99):.2f} | {'' if target == 'one' else f'{added:+.2f} ms'} | "
          f"{qps(m):,.0f} | {serving:.2f} | {'' if target == 'one' else f'{routing:.2f}'} | "
          f"{serving + routing:.2f} | {errs} |")
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
  if [ -f "$repo/tests/bench/router_reading.md" ]; then cat "$repo/tests/bench/router_reading.md"; echo; fi
} >"$section"
replace_section "$heading" "$section"
cat "$run/body.md"
echo "router_bench: wrote docs/benchmarks.md (section \"$heading\") in ${total_s} s"
ok=1
