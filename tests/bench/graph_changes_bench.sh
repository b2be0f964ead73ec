#!/usr/bin/env bash
# What replicating the growing vector graph costs, against inserting it twice (decision 0011;
# tests/bench/graph_changes_bench.cc):
#   1. builds graph_changes_bench (and tidectl, for the help corpus) with ninja, 2 jobs, under
#      the shared build lock (--no-build skips);
#   2. runs it on the benchmark corpus (tests/bench/bench_corpus.h):
#        --quick  100k chunks (the default)     --full  262,144 chunks (one whole segment)
#      in rounds of 64 chunks (the worker's apply step: the most rounds, so the most scans);
#   3. replaces the section "## Growing-graph replication (decision 0011)" of docs/benchmarks.md.
#
#   tests/bench/graph_changes_bench.sh [--quick|--full] [--no-build]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TIDE_BUILD_DIR:-$repo/build}
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/index_bench_lib.sh"
command_line="tests/bench/graph_changes_bench.sh${*:+ $*}"
index_bench_args "$@"
data=${KLUE_DATA:-/work/shared/data/klue-nli-retrieval}

script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 graph_changes_bench tidectl
fi
[ -x "$bin/tests/bench/graph_changes_bench" ] || { echo "graph_changes_bench.sh: $bin/tests/bench/graph_changes_bench is missing" >&2; exit 1; }
prepare_help_events
chunks=100000
[ "$mode" = full ] && chunks=262144
run=$(mktemp -d "${TMPDIR:-/tmp}/graph-changes.XXXXXX")
trap 'rm -rf "$run"' EXIT

"$bin/tests/bench/graph_changes_bench" --klue "$data" ${help_events:+--help_events "$help_events"} \
  --chunks "$chunks" --round 64 >"$run/table.md"
total_s=$(( $(date +%s) - script_start ))

heading="## Growing-graph replication (decision 0011)"
[ "$mode" = full ] && heading="$heading, one whole segment (--full)"
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command: \`$command_line\` (${total_s} s). The benchmark corpus's \`hash\` vectors (384 dimensions),"
  echo "inserted by a writer into one HNSW graph as the worker's growing segment is (M 16,"
  echo "ef_construction 200, 2 insert threads); after each round the writer takes the bytes the round"
  echo "changed and a follower copies them into its own graph instead of inserting"
  echo "(\`VectorIndex::TakeChanges\` / \`ApplyChanges\`). CPU is process CPU time, all threads."
  echo "The processes do not use this yet: today tide-query inserts every vector itself (2.00×)."
  echo
  cat "$run/table.md"
  if [ "$mode" = quick ] && [ -f "$repo/tests/bench/graph_changes_reading.md" ]; then
    echo
    cat "$repo/tests/bench/graph_changes_reading.md"
  fi
} >"$run/section.md"
replace_section "$heading" "$run/section.md"
cat "$run/table.md"
