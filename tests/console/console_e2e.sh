#!/usr/bin/env bash
# The search console end to end: a dev broker, a worker that has ingested a few Korean
# documents in two containers, the real tide-query, and Debian's headless Chromium driven by
# Playwright (tests/console/console_test.cjs) through a search, explain, the RAG context and a
# permission error. Screenshots go to BUILD_DIR/test-artifacts/console/.
#
#   tests/console/console_e2e.sh BUILD_DIR
#
# Exit 0 when every check passed. Run by CTest (Console.Chromium). Needs `chromium`,
# `fonts-noto-cjk` and the pinned playwright-core that deploy/setup.sh installs.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$1" && pwd)
modules=${TIDE_CONSOLE_NODE_MODULES:-$bin/third_party/console-test/node_modules}
chromium=${TIDE_CHROMIUM:-/usr/bin/chromium}
artifacts=$bin/test-artifacts/console
[ -d "$modules/playwright-core" ] || { echo "console_e2e: $modules/playwright-core is missing: run deploy/setup.sh" >&2; exit 1; }
[ -x "$chromium" ] || { echo "console_e2e: $chromium is missing: run deploy/setup.sh" >&2; exit 1; }
source "$repo/deploy/lib.sh"
source "$repo/tests/bench/pipeline_lib.sh"
run=$(mktemp -d /tmp/tide-console-XXXXXX)
trap pipeline_cleanup EXIT

pipeline_start_broker
pipeline_start_worker
{
  for i in 1 2 3; do
    jq -cn --arg i "$i" '{schema_version: 1, type: "document.upsert", container_id: "hr", doc_id: ("leave-" + $i),
      version: 1, title: ("연차 휴가 규정 " + $i),
      text: ("연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다. 휴가 신청은 팀장의 승인을 받아야 합니다. 규정 " + $i)}'
  done
  jq -cn '{schema_version: 1, type: "document.upsert", container_id: "eng", doc_id: "deploy-guide", version: 1,
    title: "배포 가이드", text: "서비스 배포는 카나리 단계를 거쳐 전체 서버로 확대합니다. 연차 휴가 중에는 배포하지 않습니다."}'
  # A title that is markup: the console must show it as text, never run it.
  jq -cn '{schema_version: 1, type: "document.upsert", container_id: "eng", doc_id: "markup", version: 1,
    title: "<img src=x onerror=\"document.title=\u0027pwned\u0027\"> 휴가 표기", text: "연차 휴가 문서의 <b>표기</b> 규칙."}'
} >"$run/events.jsonl"
"$bin/ingest/tidectl" publish --brokers "$brokers" --file "$run/events.jsonl" >/dev/null 2>&1

( umask 077
  jq -n '{keys: [{name: "console-all", key: "console-test-key-every-container", containers: ["*"]},
                 {name: "console-hr", key: "console-test-key-hr-only-000", containers: ["hr"]}]}' >"$run/api_keys.json" )
pipeline_start_query
wait_until 60 sh -c "curl -sf -H 'Authorization: Bearer $api_key' http://127.0.0.1:$port/v1/stats | jq -e '.chunks >= 5' >/dev/null" \
  || { echo "console_e2e: the daemon did not show the 5 documents" >&2; tail -n 20 "$run/query.log"; exit 1; }

rm -rf "$artifacts" && mkdir -p "$artifacts"
status=0
node "$repo/tests/console/console_test.cjs" --url "http://127.0.0.1:$port" --modules "$modules" \
  --chromium "$chromium" --artifacts "$artifacts" \
  --all-key console-test-key-every-container --hr-key console-test-key-hr-only-000 || status=$?
echo "console_e2e: screenshots in $artifacts"
[ "$status" -eq 0 ] && ok=1
exit "$status"
