#!/usr/bin/env bash
# Keyword search against Lucene, Tantivy, Xapian and SQLite FTS5 (tests/bench/keyword_bench.cc):
#   1. builds keyword_bench (and tidectl, for the help corpus) with ninja, 2 jobs, under the
#      shared build lock, and the peers in other processes (tests/bench/peers/build.sh: Lucene, Tantivy)
#      (--no-build skips both);
#   2. runs it: BM25 quality on both shared Korean sets (klue-nli-retrieval, parakqc-retrieval)
#      and on the judged LibreOffice help set (tests/quality/help-ko; title + text as one field,
#      then title and body as two fields: ours added, Lucene most_fields and BM25F),
#      then build time, index size and queries/s on the benchmark corpus
#      (tests/bench/bench_corpus.h):
#        --quick  100k chunks, 1,000 queries (the default)
#        --full   1M chunks, 1,000 queries
#   3. replaces the section "## Keyword search vs Lucene, Tantivy, Xapian and SQLite FTS5" of
#      docs/benchmarks.md.
#
#   tests/bench/keyword_bench.sh [--quick|--full] [--no-build]
#
# (--no-cache is accepted for symmetry with ann_bench.sh; nothing is cached here.)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TIDE_BUILD_DIR:-$repo/build}
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/index_bench_lib.sh"
command_line="tests/bench/keyword_bench.sh${*:+ $*}"
index_bench_args "$@"
data=${KLUE_DATA:-/work/shared/data/klue-nli-retrieval}

script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 keyword_bench tidectl
  "$repo/tests/bench/peers/build.sh"
fi
peers=()
lucene_classes=$bin/bench-peers/lucene/classes
lucene_jars=${TIDE_THIRD_PARTY:-$repo/build/third_party}/lucene/lib
if [ -f "$lucene_classes/LucenePeer.class" ] && ls "$lucene_jars"/lucene-core-*.jar >/dev/null 2>&1; then
  peers+=(--lucene_classpath "$lucene_jars/*:$lucene_classes")
else
  echo "keyword_bench.sh: Lucene is not compared (deploy/setup.sh --bench fetches and builds it)" >&2
fi
tantivy_bin=$bin/bench-peers/tantivy/target/release/tantivy-peer
if [ -x "$tantivy_bin" ]; then
  peers+=(--tantivy "$tantivy_bin")
else
  echo "keyword_bench.sh: Tantivy is not compared (tests/bench/peers/build.sh builds it)" >&2
fi
quality=(--quality "$data" --quality "${PARAKQC_DATA:-/work/shared/data/parakqc-retrieval}")
[ -x "$bin/tests/bench/keyword_bench" ] || { echo "keyword_bench.sh: $bin/tests/bench/keyword_bench is missing" >&2; exit 1; }
prepare_help_events
if [ -n "$help_events" ]; then
  # The judged LibreOffice help set (tests/quality/help-ko): title + text as one field, and
  # title (with headings and tags) and text as two in the fields table.
  python3 "$repo/tests/quality/help-ko/prepare.py" "$help_events" "$bin/bench-data/help-ko"
  quality+=(--quality "$bin/bench-data/help-ko")
fi

case "$mode" in
  quick) args=(--chunks 100000 --queries 1000 --budget_seconds 3 --min_seconds 0.5) ;;
  full) args=(--chunks 1000000 --queries 1000 --budget_seconds 5 --min_seconds 1) ;;
esac
run=$(mktemp -d "${TMPDIR:-/tmp}/keyword-bench.XXXXXX")
trap 'rm -rf "$run"' EXIT

echo "keyword_bench.sh: $mode run, ${args[*]}" >&2
"$bin/tests/bench/keyword_bench" --klue "$data" "${quality[@]}" "${peers[@]}" \
  ${help_events:+--help_events "$help_events"} "${args[@]}" >"$run/tables.md"
total_s=$(( $(date +%s) - script_start ))

bench_suffix "$mode"
heading="## Keyword search vs Lucene, Tantivy, Xapian and SQLite FTS5$heading_suffix"
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command (from the repository root): \`$command_line\` ($mode mode; whole script: ${total_s} s)."
  echo "Program: \`tests/bench/keyword_bench.cc\` (with \`tests/bench/keyword_engines.h\`, whose header comment says exactly how each system indexes and"
  echo "queries); speed corpus: \`tests/bench/bench_corpus.h\`. Exact flags: \`${args[*]}\`."
  echo
  cat "$run/tables.md"
  echo
  cat "$repo/tests/bench/keyword_reading.md"
} >"$run/section.md"
replace_section "$heading" "$run/section.md"
cat "$run/tables.md"
echo "keyword_bench.sh: wrote docs/benchmarks.md (section \"$heading\") in ${total_s} s" >&2
