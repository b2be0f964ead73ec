#!/usr/bin/env bash
# docs/openapi.yaml against the real tide-query, by schemathesis (PyPI, pinned in
# deploy/pytools/requirements.txt): a dev broker, a worker that has ingested the example events
# of docs/events/examples/ and a few Korean documents, and the daemon with an admin key that may read
# every container. Schemathesis sends the examples, the boundary values and generated requests
# of every operation and checks each answer: no 5xx, the status code, content type, headers and
# body documented for it, invalid requests rejected and valid ones accepted.
#
#   tests/contract/openapi_fuzz.sh BUILD_DIR [MAX_SECONDS]
#
# Exit 0 when every check passed. Run by CTest (OpenApiContract.Schemathesis).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$1" && pwd)
max_seconds=${2:-120}
venv=${TIDE_PYTOOLS_VENV:-$bin/third_party/pytools}
[ -x "$venv/bin/schemathesis" ] || { echo "openapi_fuzz: $venv/bin/schemathesis is missing: run deploy/setup.sh" >&2; exit 1; }
source "$repo/deploy/lib.sh"
source "$repo/tests/bench/pipeline_lib.sh"
run=$(mktemp -d /tmp/tide-openapi-XXXXXX)
trap pipeline_cleanup EXIT

pipeline_start_broker
pipeline_start_worker
{
  for f in "$repo"/docs/events/examples/*.json; do
    case "$(basename "$f")" in invalid-*) continue ;; esac
    jq -c . "$f"
  done
  for i in 1 2 3 4 5 6; do
    jq -cn --arg i "$i" '{schema_version: 1, type: "document.upsert", container_id: "hr", doc_id: ("leave-" + $i),
      version: 1, title: ("휴가 규정 " + $i), text: ("연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다. 문서 " + $i),
      metadata: {doc_type: "policy", tags: ["hr", "leave"], created_at: "2026-01-0\($i)"}}'
  done
} >"$run/events.jsonl"
"$bin/ingest/tidectl" publish --brokers "$brokers" --file "$run/events.jsonl" >/dev/null 2>&1
pipeline_start_query
wait_until 60 sh -c "curl -sf -H 'Authorization: Bearer $api_key' http://127.0.0.1:$port/readyz >/dev/null" \
  || { tail -n 20 "$run/query.log"; exit 1; }

cd "$run"
status=0
"$venv/bin/schemathesis" run "$repo/docs/openapi.yaml" --url "http://127.0.0.1:$port" \
  -H "Authorization: Bearer $api_key" --checks all --workers 1 --max-time "$max_seconds" \
  --request-timeout 10 --max-failures 50 --no-color || status=$?
# The daemon must still be up and ready after everything it was sent.
if ! curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" >/dev/null; then
  echo "openapi_fuzz: tide-query is not ready after the run" >&2
  tail -n 40 "$run/query.log" >&2
  status=1
fi
[ "$status" -eq 0 ] && ok=1
exit "$status"
