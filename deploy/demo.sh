#!/usr/bin/env bash
# The whole product on one machine, from a fresh clone on Debian 12:
#   1. installs what is needed and builds tide-ingest, tide-query and tidectl;
#   2. fetches Debian's libreoffice-help-ko (a real Korean corpus, MPL-2.0) and converts it
#      into document.upsert events, one container per help module (scalc, swriter, ...);
#   3. starts the dev broker (Kafka protocol on loopback), tide-ingest and tide-query;
#   4. publishes the corpus, waits until it is searchable, and runs sample Korean queries.
# The daemons keep running afterwards (query them with curl); `--stop` stops them at the
# end instead, and `deploy/demo.sh down` stops a running demo.
#
#   deploy/demo.sh [--stop]      deploy/demo.sh down
#
# Environment: TIDE_DEMO_PORT (default 8080; 0 picks a free port).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=$repo/build/demo
bin=$repo/build
port=${TIDE_DEMO_PORT:-8080}

stop_demo() {
  for name in query ingest broker; do
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
case "${1:-}" in
  down) stop_demo; echo "demo stopped"; exit 0 ;;
  --stop) stop_at_end=1 ;;
  "") ;;
  *) echo "usage: deploy/demo.sh [--stop] | down" >&2; exit 2 ;;
esac

"$repo/deploy/setup.sh"
"$repo/deploy/build.sh" tide-ingest tide-query tidectl
help_root=$("$repo/deploy/fetch_corpus.sh" | tail -n 1)

stop_demo
rm -rf "$run" && mkdir -p "$run"
"$bin/ingest/tidectl" import-help --help-root "$help_root" --output "$run/events.jsonl"
events=$(wc -l <"$run/events.jsonl")

echo "demo: starting the dev broker"
setsid "$bin/ingest/tidectl" dev-broker --bootstrap-file "$run/bootstrap" >"$run/broker.log" 2>&1 &
echo $! >"$run/broker.pid"
wait_until 20 test -s "$run/bootstrap" || { cat "$run/broker.log"; exit 1; }
brokers=$(cat "$run/bootstrap")

echo "demo: starting tide-ingest (log: $run/ingest.log)"
setsid "$bin/ingest/tide-ingest" --config "$repo/configs/ingest.conf" --data_dir "$run/data" \
  --kafka.brokers "$brokers" >"$run/ingest.log" 2>&1 &
echo $! >"$run/ingest.pid"

# Every route but /healthz needs an API key: make a fresh one for this demo.
api_key=$(write_api_key_file "$run/api_keys.json" demo)

echo "demo: starting tide-query (log: $run/query.log)"
setsid "$bin/query/tide-query" --config "$repo/configs/query.conf" --data_dir "$run/data" \
  --http.port "$port" --http.port_file "$run/port" --auth.api_keys_file "$run/api_keys.json" \
  >"$run/query.log" 2>&1 &
echo $! >"$run/query.pid"
wait_until 20 test -s "$run/port" || { cat "$run/query.log"; exit 1; }
port=$(cat "$run/port")

echo "demo: publishing $events events"
start_ms=$(( $(date +%s%N) / 1000000 ))
"$bin/ingest/tidectl" publish --brokers "$brokers" --file "$run/events.jsonl"

applied() {
  "$bin/ingest/tidectl" stats --data_dir "$run/data" 2>/dev/null | jq -e ".counters.applied >= $events" >/dev/null
}
wait_until 600 applied || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
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
for q in "피벗 테이블 만들기" "셀 서식 바꾸는 방법" "매크로 보안 설정" "차트 종류 변경" "문서를 PDF로 내보내기"; do
  echo
  search "$q" | jq -r --arg q "$q" '
    "query: \($q)   [intent \(.query.intent.name), \(.took_ms * 100 | round / 100) ms]",
    (.hits[] | "  \(.rank). \(.score * 1000 | round / 1000)  \(.container_id | . + "          " | .[0:10]) \(.title)  (\(.doc_id))")'
done

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
Stop everything with: deploy/demo.sh down
MSG
fi
