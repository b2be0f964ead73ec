#!/usr/bin/env bash
# Every benchmark, one after the other, each replacing its own section of docs/benchmarks.md
# (machine, date, command, tables, reading; plots in docs/bench/):
#
#   tests/bench/run.sh [--quick | --full] [--only NAME[,NAME...]]
#
#   ann       tests/bench/ann_bench.sh       TideSearch's vector retriever vs bare hnswlib and FAISS
#   keyword   tests/bench/keyword_bench.sh   BM25 vs Lucene (nori), Xapian (CJK n-grams), SQLite FTS5
#   quality   tests/bench/run_quality.sh     recall/MRR on klue-nli-retrieval through the HTTP API
#   ingest    tests/bench/ingest_bench.sh    Kafka -> searchable: chunks/s, stages, freshness
#   serving   tests/bench/serving_bench.sh   HTTP latency/throughput per mode, start-to-ready, memory
#   graph     tests/bench/graph_changes_bench.sh  replicating the growing vector graph vs inserting it twice
#   scaleout  tests/bench/scaleout_bench.sh  ingest with 1, 2 and 3 workers of one group, real Kafka broker
#   router    tests/bench/router_bench.sh    a router over two nodes vs one daemon over the same shards
#
# When both ingest and serving run, serving measures the store the ingest benchmark built
# (ingest_bench.sh --handoff, serving_bench.sh --from) instead of ingesting the corpus again.
#
# --quick (default): 100k-chunk corpora, meant to finish in under 15 minutes on 2 cores once
# the binaries are built (the ANN benchmark caches its built indexes in build/bench-cache/; a
# cold cache adds a few minutes). --full: 1M chunks (an hour or more, several GiB of RAM).
# Benchmarks are not tests and are not part of .ci/run. Needs `deploy/setup.sh --bench`
# (FAISS, Xapian, SQLite, wrk, matplotlib); a missing peer is reported and skipped by its
# benchmark, not faked.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
mode=--quick
only=ann,keyword,quality,ingest,serving,graph,scaleout,router
while [ $# -gt 0 ]; do
  case "$1" in
    --quick|--full) mode=$1 ;;
    --only) only=$2; shift ;;
    --only=*) only=${1#--only=} ;;
    *) echo "usage: tests/bench/run.sh [--quick | --full] [--only ann,keyword,quality,ingest,serving,graph,scaleout,router]" >&2
       exit 2 ;;
  esac
  shift
done

# Each script builds what it needs (ninja, two jobs) before it measures anything.
declare -A script=([ann]=ann_bench.sh [keyword]=keyword_bench.sh [quality]=run_quality.sh
                   [ingest]=ingest_bench.sh [serving]=serving_bench.sh [graph]=graph_changes_bench.sh
                   [scaleout]=scaleout_bench.sh [router]=router_bench.sh)
start=$(date +%s)
failed=()
handoff=""
cleanup() { if [ -n "$handoff" ]; then rm -rf "$handoff"; fi; }
trap cleanup EXIT
if [[ ",$only," == *,ingest,* && ",$only," == *,serving,* ]]; then
  mkdir -p "$repo/build"
  handoff=$(mktemp -d "$repo/build/bench-handoff.XXXXXX")
fi
IFS=, read -r -a names <<<"$only"
for name in "${names[@]}"; do
  s=${script[$name]:-}
  if [ -z "$s" ]; then
    echo "run.sh: unknown benchmark '$name'" >&2
    exit 2
  fi
  # run_quality.sh has one size: the KLUE set.
  args=()
  [ "$name" != quality ] && args+=("$mode")
  if [ -n "$handoff" ]; then
    [ "$name" = ingest ] && args+=(--handoff "$handoff/store")
    # Only when ingest ran first and left its store; otherwise serving ingests its own.
    [ "$name" = serving ] && [ -d "$handoff/store/data" ] && args+=(--from "$handoff/store")
  fi
  echo "=== $name: tests/bench/$s ${args[*]}"
  t0=$(date +%s)
  if "$repo/tests/bench/$s" "${args[@]}"; then
    echo "=== $name: done in $(( $(date +%s) - t0 )) s"
  else
    echo "=== $name: FAILED after $(( $(date +%s) - t0 )) s" >&2
    failed+=("$name")
  fi
done
echo "run.sh: ${#names[@]} benchmarks in $(( $(date +%s) - start )) s; docs/benchmarks.md updated"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
