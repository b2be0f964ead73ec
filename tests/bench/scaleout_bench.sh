#!/usr/bin/env bash
# Ingest with 1, 2 and 3 tide-ingest workers in one consumer group against a real Apache
# Kafka broker (KRaft, the jars deploy/setup.sh resolved from Maven Central), each partition a
# shard (shards = per_partition; decision 0015; tests/bench/scaleout_bench.cc):
#   1. builds scaleout_bench, tide-ingest and tidectl with ninja, 2 jobs, under the shared
#      build lock (--no-build skips);
#   2. runs them on the LibreOffice Korean help as events (tidectl import-help), five times over
#      in containers of their own (45 containers, about 98k chunks), a topic of 12 partitions
#      per worker count;
#   3. replaces the section "## Ingest by partitions: 1, 2 and 3 workers, real Kafka broker" of
#      docs/benchmarks.md.
#
#   tests/bench/scaleout_bench.sh [--no-build] [--workers 1,2,3]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TIDE_BUILD_DIR:-$repo/build}
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/index_bench_lib.sh"
command_line="tests/bench/scaleout_bench.sh${*:+ $*}"
build=1
workers=1,2,3
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --quick|--full) ;;  # one size (run.sh passes its mode to every benchmark)
    --workers) workers=$2; shift ;;
    *) echo "usage: tests/bench/scaleout_bench.sh [--no-build] [--workers 1,2,3]" >&2; exit 2 ;;
  esac
  shift
done

script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 scaleout_bench tide-ingest tidectl
fi
kafka_lib="$bin/third_party/kafka/lib"
[ -d "$kafka_lib" ] || { echo "scaleout_bench.sh: $kafka_lib is missing (deploy/setup.sh installs Kafka)" >&2; exit 1; }
prepare_help_events
[ -n "$help_events" ] || { echo "scaleout_bench.sh: needs the help corpus (deploy/fetch_corpus.sh)" >&2; exit 1; }
run=$(mktemp -d "${TMPDIR:-/tmp}/scaleout.XXXXXX")
trap 'rm -rf "$run"' EXIT
# The help five times, each copy in containers of its own (45, as an organisation has many):
# long enough that start-up and the group's first rebalances do not decide the figures, and
# spread over the partitions by container.
python3 - "$help_events" "$run/events.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as src:
    events = [json.loads(line) for line in src if line.strip()]
with open(sys.argv[2], "w") as out:
    for copy in range(5):
        for e in events:
            if "container_id" in e:
                e = dict(e, container_id=f"{e['container_id']}-{copy}")
            out.write(json.dumps(e, ensure_ascii=False) + "\n")
PY

"$bin/tests/bench/scaleout_bench" --events "$run/events.jsonl" --kafka_lib "$kafka_lib" --bin "$bin" \
  --source "$repo" --workers "$workers" --partitions 12 >"$run/table.md"
total_s=$(( $(date +%s) - script_start ))

heading="## Ingest by partitions: 1, 2 and 3 workers, real Kafka broker"
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command: \`$command_line\` (${total_s} s). One Apache Kafka broker (KRaft) on the same"
  echo "machine; per worker count a fresh topic of 12 partitions holding the LibreOffice Korean help"
  echo "as events, five times over in containers of its own (45 containers; placed by container,"
  echo "published before the workers start), then that many \`tide-ingest\` workers with"
  echo "\`shards = per_partition\` on one data directory, in one group, started together, \`hash\`"
  echo "embedder (384 dimensions), \`store.sync = false\`. *Durable*: every event is in some shard's"
  echo "store; *searchable*: every worker's indexes have caught up too. CPU: the workers' user +"
  echo "system time (the broker's is not counted)."
  echo
  cat "$run/table.md"
  if [ -f "$repo/tests/bench/scaleout_reading.md" ]; then
    echo
    cat "$repo/tests/bench/scaleout_reading.md"
  fi
} >"$run/section.md"
replace_section "$heading" "$run/section.md"
cat "$run/table.md"
