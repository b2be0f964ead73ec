#!/usr/bin/env bash
# Vector search (ANN) against bare hnswlib 0.8 and FAISS IndexHNSWFlat (tests/bench/ann_bench.cc):
#   1. builds ann_bench (and tidectl, for the help corpus) with ninja, 2 jobs, under the
#      shared build lock (--no-build skips);
#   2. runs it on the benchmark corpus (tests/bench/bench_corpus.h):
#        --quick  100k chunks, 1,000 queries (the default)
#        --full   1M chunks, 1,000 queries, plus a from-scratch bare hnswlib build
#   3. draws docs/bench/ann_unfiltered.png and docs/bench/ann_filtered.png;
#   4. replaces the section "## Vector search (ANN) vs hnswlib and FAISS" of docs/benchmarks.md.
#
#   tests/bench/ann_bench.sh [--quick|--full] [--no-build] [--no-cache] [--segments N]
#
# --segments N compares instead the daemon's vector search (IndexSet::SearchVector) over one
# graph and over graphs sealed every N chunks (hnsw.segment_max_chunks, decision 0011), on the
# same vectors and scopes, without peers, and replaces the section "## Vector search over
# segments (decision 0011)".
#
# Built indexes are kept in build/bench-cache/ under a key of the vectors, the graph
# parameters and a hash of common/index/ and the hnswlib headers, so a rerun on unchanged
# code loads them instead of rebuilding (the section then shows the build times of the run
# that built them, marked "cached"). --no-cache rebuilds. The first --quick run on this
# 2-core machine spends most of its time building (TideSearch ~1-2 min, FAISS more).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TIDE_BUILD_DIR:-$repo/build}
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/index_bench_lib.sh"
command_line="tests/bench/ann_bench.sh${*:+ $*}"
segments=0
passed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --segments) segments=$2; shift ;;
    *) passed+=("$1") ;;
  esac
  shift
done
index_bench_args "${passed[@]}"
data=${KLUE_DATA:-/work/shared/data/klue-nli-retrieval}

script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 ann_bench tidectl
fi
[ -x "$bin/tests/bench/ann_bench" ] || { echo "ann_bench.sh: $bin/tests/bench/ann_bench is missing" >&2; exit 1; }
prepare_help_events

case "$mode" in
  quick) args=(--chunks 100000 --queries 1000 --budget_seconds 2 --min_seconds 0.5 --build_threads 2) ;;
  full) args=(--chunks 1000000 --queries 1000 --budget_seconds 5 --min_seconds 1 --build_threads 2 --build_hnswlib) ;;
esac
if [ "$use_cache" -eq 1 ]; then
  # TideSearch's graph depends on our index code and hnswlib; the peers' only on their own
  # versions (the vectors and graph parameters are in the key already).
  salt=$(cat "$repo"/common/index/*.h "$repo"/common/index/*.cc "$bin"/third_party/hnswlib/usr/include/hnswlib/*.h \
         | sha256sum | cut -c1-16)
  peer_salt=$( (cat "$bin"/third_party/hnswlib/usr/include/hnswlib/*.h; dpkg-query -W libfaiss-dev 2>/dev/null || true) \
              | sha256sum | cut -c1-16)
  args+=(--cache_dir "$bin/bench-cache" --cache_salt "$salt" --peer_cache_salt "$peer_salt")
fi
run=$(mktemp -d "${TMPDIR:-/tmp}/ann-bench.XXXXXX")
trap 'rm -rf "$run"' EXIT

if [ "$segments" -gt 0 ]; then
  OMP_WAIT_POLICY=PASSIVE "$bin/tests/bench/ann_bench" --klue "$data" ${help_events:+--help_events "$help_events"} \
    "${args[@]}" --segment_max_chunks "$segments" >"$run/tables.md"
  total_s=$(( $(date +%s) - script_start ))
  bench_suffix "$mode"
  heading="## Vector search over segments (decision 0011)$heading_suffix"
  {
    echo "$heading"
    echo
    bench_machine_line
    echo "Command (from the repository root): \`$command_line\` ($mode mode; whole script: ${total_s} s)."
    echo "The ANN benchmark's corpus, vectors, queries and scopes; both sides are \`IndexSet::SearchVector\`, the"
    echo "daemon's vector retriever (ef_search 64 unfiltered, filtered_ef_search 256, small scopes scanned"
    echo "exactly), once over one HNSW graph and once over graphs sealed every $segments chunks."
    echo
    cat "$run/tables.md"
    if [ "$mode" = quick ] && [ "$segments" = 32768 ] && [ -f "$repo/tests/bench/ann_segments_reading.md" ]; then
      echo
      cat "$repo/tests/bench/ann_segments_reading.md"
    fi
  } >"$run/section.md"
  replace_section "$heading" "$run/section.md"
  cat "$run/tables.md"
  exit 0
fi

echo "ann_bench.sh: $mode run, ${args[*]}" >&2
OMP_WAIT_POLICY=PASSIVE "$bin/tests/bench/ann_bench" --klue "$data" ${help_events:+--help_events "$help_events"} \
  "${args[@]}" --tsv "$run/results.tsv" >"$run/tables.md"

bench_suffix "$mode"
plots=""
find_matplotlib
if [ -n "$py" ]; then
  mkdir -p "$repo/docs/bench"
  "$py" "$repo/tests/bench/plot_ann.py" "$run/results.tsv" "$repo/docs/bench/ann_unfiltered$plot_suffix.png" \
    "$repo/docs/bench/ann_filtered$plot_suffix.png" "$mode"
  plots=1
else
  echo "ann_bench.sh: python3 matplotlib not found; no plots" >&2
fi
total_s=$(( $(date +%s) - script_start ))

heading="## Vector search (ANN) vs hnswlib and FAISS$heading_suffix"
{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command (from the repository root): \`$command_line\` ($mode mode; whole script: ${total_s} s)."
  echo "Program: \`tests/bench/ann_bench.cc\`; corpus: \`tests/bench/bench_corpus.h\` (KLUE sentences and the"
  echo "LibreOffice Korean help, re-combined into chunks; Zipf-sized topical containers; queries are KLUE"
  echo "hypotheses and perturbed corpus fragments). Exact flags: \`${args[*]}\`."
  echo
  cat "$run/tables.md"
  echo
  if [ -n "$plots" ]; then
    echo "![recall vs q/s, unfiltered](bench/ann_unfiltered$plot_suffix.png)"
    echo "![filtered search: q/s and recall per share of permitted chunks](bench/ann_filtered$plot_suffix.png)"
    echo
  fi
  cat "$repo/tests/bench/ann_reading.md"
} >"$run/section.md"
replace_section "$heading" "$run/section.md"
cat "$run/tables.md"
echo "ann_bench.sh: wrote docs/benchmarks.md (section \"$heading\") in ${total_s} s" >&2
