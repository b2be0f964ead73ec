#!/usr/bin/env bash
# Ingest: Kafka to searchable, through the real processes (DESIGN §6: >= 2,000 chunks/s on
# 2 cores, >= 0.8x bare hnswlib insert rate, freshness <= 1 s p99).
#   1. builds tidectl, tide-ingest, tide-query, index_build_bench and freshness_probe
#      (--no-build skips);
#   2. makes a deterministic corpus of real Korean/English text (tests/bench/make_bench_events.py:
#      LibreOffice help + KLUE sentences re-combined, one chunk per markdown section);
#   3. starts the dev broker, tide-query and tide-ingest in a fresh directory under build/,
#      publishes the corpus (paced: the dev broker keeps only 5 MiB per partition, see
#      pipeline_lib.sh) and times it from the first event until the worker has applied
#      everything and until tide-query reports it searchable (/readyz watermark);
#   4. scrapes the worker's stage histograms (decode, chunk, embed, RocksDB write, index);
#   5. freshness: single probe events published while idle and under a background load,
#      each polled through POST /v1/search until found (freshness_probe);
#   6. stops the processes and runs index_build_bench on the same store: bare hnswlib insert
#      rate, and the BM25 and read-back costs used to split the index stage;
#   7. replaces the section "## Ingest: Kafka to searchable" of docs/benchmarks.md (plot in
#      docs/bench/ingest_freshness.png when matplotlib is there).
#
#   tests/bench/ingest_bench.sh [--quick | --full] [--chunks N] [--probes N] [--no-build] [--keep]
#                               [--handoff DIR]
#
# --quick (default): 100,000 chunks, 50 probes per freshness run (two runs); --full:
# 1,000,000 chunks, 200 probes. --keep keeps the run directory (always kept on failure).
# --handoff DIR moves the finished store (worker stopped, final snapshot written) and the
# corpus' queries into DIR for `serving_bench.sh --from DIR` (run.sh does this), so the
# serving benchmark does not ingest the same corpus a second time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/bench/lib.sh"
. "$repo/tests/bench/pipeline_lib.sh"
bin=${TIDE_BUILD_DIR:-$repo/build}
chunks=100000
probes=50
mode=quick
build=1
command_line="tests/bench/ingest_bench.sh${*:+ $*}"
handoff=""
usage="usage: tests/bench/ingest_bench.sh [--quick | --full] [--chunks N] [--probes N] [--no-build] [--keep] [--handoff DIR]"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) chunks=100000; probes=50; mode=quick ;;
    --full) chunks=1000000; probes=200; mode=full ;;
    --chunks) chunks=$2; shift ;;
    --probes) probes=$2; shift ;;
    --no-build) build=0 ;;
    --keep) keep=1 ;;
    --handoff) handoff=$2; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
for tool in jq curl python3; do
  command -v "$tool" >/dev/null || { echo "ingest_bench: $tool is needed" >&2; exit 1; }
done

bench_suffix "$mode"
heading="## Ingest: Kafka to searchable$heading_suffix"
png="ingest_freshness$plot_suffix.png"
script_start=$(date +%s)
if [ "$build" -eq 1 ]; then
  flock /tmp/tide-build.lock ninja -C "$bin" -j2 tidectl tide-ingest tide-query index_build_bench freshness_probe
fi
mkdir -p "$bin"
run=$(mktemp -d "$bin/bench-ingest.XXXXXX")
trap pipeline_cleanup EXIT
trap 'exit 130' INT TERM
pipeline_copy_binaries ingest/tidectl ingest/tide-ingest query/tide-query tests/bench/index_build_bench tests/bench/freshness_probe

echo "ingest_bench: making a corpus of $chunks chunks in $run"
pipeline_corpus "$chunks"
docs=$(jq '.documents' "$run/corpus.json")
text_bytes=$(jq '.chunk_text_bytes' "$run/corpus.json")

pipeline_start_broker
pipeline_start_query

echo "ingest_bench: starting tide-ingest"
pipeline_start_worker
wait_until 60 grep -q 'partition assigned' "$run/ingest.log" || { tail -n 20 "$run/ingest.log"; exit 1; }
echo "ingest_bench: publishing $docs documents (paced: the dev broker keeps 5 MiB per partition)"
query_cpu0=$(proc_cpu_s "$query_pid")
worker_cpu0=$(proc_cpu_s "$worker_pid")
worker_written0=$(proc_write_bytes "$worker_pid")
t0=$(now_ms)
pipeline_publish_paced "$run/events.jsonl" || { echo "publishing stalled"; tail -n 20 "$run/ingest.log"; exit 1; }
publish_ms=$(( $(now_ms) - t0 ))
# Counted once every event is consumed and durable and the worker's indexes have caught up
# with the store.
wait_until $(( 600 + chunks / 100 )) worker_caught_up "$docs" || { echo "ingest did not finish"; tail -n 20 "$run/ingest.log"; exit 1; }
t1=$(now_ms)
worker_written=$(( $(proc_write_bytes "$worker_pid") - worker_written0 ))
change_seq=$(metric "$worker_metrics" tide_ingest_applied_change_seq)
caught_up() {
  curl -sf -H "Authorization: Bearer $api_key" "http://127.0.0.1:$port/readyz" |
    jq -e ".watermark.seq >= $change_seq" >/dev/null
}
wait_until $(( 600 + chunks / 100 )) caught_up || { echo "tide-query did not catch up"; tail -n 20 "$run/query.log"; exit 1; }
t2=$(now_ms)
worker_cpu=$(awk -v a="$(proc_cpu_s "$worker_pid")" -v b="$worker_cpu0" 'BEGIN { printf "%.1f", a - b }')
query_cpu=$(awk -v a="$(proc_cpu_s "$query_pid")" -v b="$query_cpu0" 'BEGIN { printf "%.1f", a - b }')
curl -sf "$worker_metrics" >"$run/worker_metrics.txt"
worker_rss=$(proc_status_kb "$worker_pid" VmRSS); worker_hwm=$(proc_status_kb "$worker_pid" VmHWM)
query_rss=$(proc_status_kb "$query_pid" VmRSS); query_hwm=$(proc_status_kb "$query_pid" VmHWM)
chunks_written=$(metric "$worker_metrics" tide_ingest_chunks_written_total)
applied=$(metric "$worker_metrics" tide_ingest_events_total 'outcome="applied"')
if [ "$applied" -ne "$docs" ] || [ "$chunks_written" -ne "$chunks" ]; then
  echo "ingest_bench: expected $docs events and $chunks chunks applied, got $applied and $chunks_written" >&2
  exit 1
fi
echo "ingest_bench: worker applied $chunks_written chunks in $((t1 - t0)) ms; searchable after $((t2 - t0)) ms"

# Freshness, idle and under a background load of about half the measured ingest rate (load
# documents have 4 chunks each), with the worker as shipped (its consumer sets
# fetch.wait.max.ms=100: the dev broker answers a fetch only when it has passed, where a real
# broker answers as soon as data arrives).
load_rate=$(awk -v c="$chunks_written" -v ms="$((t2 - t0))" 'BEGIN { printf "%d", c / (ms / 1000) / 2 / 4 }')
freshness() {  # RUN-NAME [--load ...]
  local name=$1; shift
  echo "ingest_bench: freshness, $name ($probes probes)"
  "$bin/tests/bench/freshness_probe" --brokers "$brokers" --port "$port" --api_key_file "$run/api_keys.json" \
    --probes "$probes" --gap_ms 50 --run "$name" "$@" >"$run/fresh_$name.txt" 2>"$run/fresh_$name.log" &
  pids+=($!)
  # Status 3: some probes never became visible within the probe's timeout. That is a
  # measurement (the section reports them), not a failure of the benchmark.
  local rc=0
  wait "${pids[-1]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$run/fresh_$name.log"
    [ "$rc" -eq 3 ] || exit 1
  fi
}
freshness idle
freshness load --load "$run/load.jsonl" --load_rate "$load_rate"
# Reference points on an idle machine: stop the daemons first (the worker writes a snapshot).
pipeline_stop "$query_pid"
pipeline_stop "$worker_pid"
# Worker restart → consuming (issue 14's bar: 3 s at 1M): the newest snapshot loaded, the change
# log after it replayed, the partitions assigned again.
log_count() { grep -c "$1" "$run/ingest.log" || true; }
assigned_before=$(log_count 'partition assigned')
ready_before=$(log_count 'indexes ready')
restart_t0=$(now_ms)
pipeline_start_worker
# Its indexes ready (snapshot loaded, change log replayed: the worker's own part), then its
# partitions assigned (the group join: on the dev broker this waits for the stopped static
# member's session, see the ingest reading).
ready_again() { [ "$(log_count 'indexes ready')" -gt "$ready_before" ]; }
wait_until 300 ready_again || { echo "the restarted worker's indexes were not ready"; tail -n 20 "$run/ingest.log"; exit 1; }
ready_ms=$(( $(now_ms) - restart_t0 ))
reassigned() { [ "$(log_count 'partition assigned')" -gt "$assigned_before" ]; }
wait_until 300 reassigned || { echo "the restarted worker was not assigned its partitions"; tail -n 20 "$run/ingest.log"; exit 1; }
restart_ms=$(( $(now_ms) - restart_t0 ))
restart_load=$({ grep 'snapshot loaded' "$run/ingest.log" || true; } | tail -n 1 | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
pipeline_stop "$worker_pid"
pipeline_stop "${pids[0]}"
load_chunks=$(( $("$bin/ingest/tidectl" stats --data_dir "$run/data" | jq '.chunks') - chunks_written - 2 * probes ))
echo "ingest_bench: bare hnswlib and index-stage costs on the same $chunks_written vectors"
# As many threads as the worker inserts with (configs/ingest.conf: hnsw.insert_threads = 0, one
# per core).
"$bin/tests/bench/index_build_bench" --data_dir "$run/data" --limit "$chunks" --threads "$(nproc)" \
  >"$run/index_bench.json"
total_s=$(( $(date +%s) - script_start ))

# --- the section -----------------------------------------------------------------------------
python3 - "$run" "$repo" <<'PY' >"$run/numbers.json"
import json, sys
run, repo = sys.argv[1], sys.argv[2]
m = {}
for line in open(f"{run}/worker_metrics.txt"):
    if line.startswith("#") or not line.strip():
        continue
    name, value = line.rsplit(" ", 1)
    m[name] = float(value)
def stage(n):
    return m.get(f"tide_ingest_{n}_seconds_sum", 0.0)
def pct(file, p, col=2):
    # A probe never seen ("lost" in the visible column) counts as slower than any other.
    xs = sorted(float("inf") if l.split()[col] == "lost" else float(l.split()[col]) for l in open(file) if l.strip())
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float("nan")
out = {"stages": {k: stage(k) for k in ["batch", "decode", "chunk", "embed", "store_write", "index"]},
       "batches": m.get("tide_ingest_batch_seconds_count", 0)}
for run_name in ["idle", "load"]:
    f = f"{run}/fresh_{run_name}.txt"
    out[run_name] = {"n": sum(1 for l in open(f) if l.strip()),
                     "lost": sum(1 for l in open(f) if l.split()[2:3] == ["lost"]),
                     "p50": pct(f, 0.5), "p90": pct(f, 0.9), "p99": pct(f, 0.99),
                     "max": pct(f, 1.0), "ack_p50": pct(f, 0.5, col=1)}
print(json.dumps(out))
PY

have_plot=0
mkdir -p "$repo/docs/bench"
find_matplotlib
if [ -n "$py" ]; then
  "$py" - "$run" "$repo/docs/bench/$png" <<'PY' && have_plot=$png
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
run, png = sys.argv[1], sys.argv[2]
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, label in [("idle", "idle"), ("load", "under background load")]:
    xs = [float(l.split()[2]) for l in open(f"{run}/fresh_{name}.txt") if l.strip() and l.split()[2] != "lost"]
    ax.hist(xs, bins=range(0, int(max(xs)) + 50, 25), alpha=0.5, label=f"{label} (n={len(xs)})")
ax.axvline(1000, color="red", linestyle="--", label="DESIGN bar p99 1 s")
ax.set_xlabel("publish -> visible in /v1/search (ms)")
ax.set_ylabel("probes")
ax.legend()
fig.tight_layout()
fig.savefig(png, dpi=100)
PY
fi

section="$run/section.md"
python3 - "$run" "$chunks_written" "$docs" "$text_bytes" "$publish_ms" "$((t1 - t0))" "$((t2 - t0))" \
  "$worker_cpu" "$query_cpu" "$worker_rss" "$worker_hwm" "$query_rss" "$query_hwm" "$load_rate" \
  "$load_chunks" "$have_plot" "$worker_written" "$restart_ms" "${restart_load:-?}" "$ready_ms" <<'PY' >"$run/body.md"
import json, re, sys
(run, chunks, docs, text_bytes, publish_ms, worker_ms, searchable_ms, worker_cpu, query_cpu,
 w_rss, w_hwm, q_rss, q_hwm, load_rate, load_chunks, have_plot, worker_written, restart_ms,
 restart_load, ready_ms) = sys.argv[1:]
chunks, docs, text_bytes = int(chunks), int(docs), int(text_bytes)
worker_ms, searchable_ms = int(worker_ms), int(searchable_ms)
n = json.load(open(f"{run}/numbers.json"))
ib = json.load(open(f"{run}/index_bench.json"))
rate_worker = chunks / (worker_ms / 1000)
rate_search = chunks / (searchable_ms / 1000)
hn = ib["hnswlib_inserts_per_s"]
st = n["stages"]
kw_share = ib["keyword_seconds"] / ib["chunks"] * chunks
read_share = ib["read_seconds"] / ib["chunks"] * chunks
hnsw_est = max(0.0, st["index"] - kw_share - read_share)
def ok(b): return "yes" if b else "**no**"
p = print
p(f"Corpus: {chunks:,} chunks in {docs:,} documents over 24 containers (Zipf-sized), "
  f"{text_bytes / 1e6:.1f} MB of chunk text, `hash` embedder at 384 dimensions, HNSW M 16 / "
  f"ef_construction 200, `configs/ingest.conf` and `configs/query.conf` as shipped (batches of up to "
  f"500 events, WAL fsync on every batch). The clock starts when the first event is published. The corpus is published in slices of 1,000 events "
  f"(`tidectl publish`), each once the worker is at most 1,000 events behind, because the dev broker keeps only "
  f"5 MiB per partition and drops older messages; the worker never waits for input (publishing took "
  f"{int(publish_ms) / 1000:.1f} s of the run). tide-query runs throughout and follows the store.")
p()
p("| what | value | DESIGN §6 bar | met |")
p("|---|---|---|---|")
p(f"| chunks/s, Kafka → durable and indexed in the worker | {rate_worker:,.0f} ({worker_ms / 1000:.1f} s) | | |")
p(f"| chunks/s, Kafka → searchable through tide-query (`/readyz` watermark) | {rate_search:,.0f} ({searchable_ms / 1000:.1f} s) | ≥ 2,000 on 2 cores | {ok(rate_search >= 2000)} |")
hthreads = ib.get("hnswlib_threads", 1)
p(f"| bare hnswlib insert rate, same {ib['chunks']:,} vectors, {hthreads} thread{'s' if hthreads > 1 else ''} "
  f"(as many as the worker's `hnsw.insert_threads`), run after the daemons stopped | {hn:,.0f} inserts/s ({ib['hnswlib_seconds']:.1f} s) | | |")
p(f"| ratio: Kafka → searchable / bare hnswlib | {rate_search / hn:.2f}× | ≥ 0.8× | {ok(rate_search / hn >= 0.8)} |")
p(f"| ratio: Kafka → worker indexed / bare hnswlib | {rate_worker / hn:.2f}× | | |")
hn_cpu = ib["chunks"] / max(ib["hnswlib_cpu_seconds"], 1e-9)
w_cpu = chunks / max(float(worker_cpu), 1e-9)
both_cpu = chunks / max(float(worker_cpu) + float(query_cpu), 1e-9)
p(f"| per CPU-second (robust to other load on the machine): tide-ingest / tide-ingest + tide-query / bare hnswlib | "
  f"{w_cpu:,.0f} / {both_cpu:,.0f} / {hn_cpu:,.0f} chunks per CPU-s ({w_cpu / hn_cpu:.2f}× / {both_cpu / hn_cpu:.2f}×) | | |")
p(f"| CPU per chunk, tide-ingest + tide-query, over bare hnswlib's insert CPU per vector | {hn_cpu / both_cpu:.2f}× | ≤ 1.3× (issue 14) | {ok(hn_cpu / both_cpu <= 1.3)} |")
record_bytes = 0.0
for line in open(f"{run}/worker_metrics.txt"):
    if line.startswith("tide_ingest_graph_record_bytes_total "):
        record_bytes = float(line.split()[1])
p(f"| vector graph records written for tide-query to copy (`tide_ingest_graph_record_bytes_total`) | {record_bytes / 1e6:,.1f} MB, {record_bytes / chunks:,.0f} bytes per chunk | | |")
p(f"| bytes written to storage by tide-ingest until it had indexed the corpus (`/proc/PID/io` write_bytes: RocksDB's "
  f"WAL, flushes and compactions, graph records, snapshots) | {int(worker_written) / 1e9:,.2f} GB, "
  f"{int(worker_written) / chunks:,.0f} bytes per chunk ({int(worker_written) / text_bytes:.1f}× the chunk text) | "
  f"stated, not growing with the index (issue 14) | |")
# The worker's snapshots over the whole run (ingest.log): the time the indexer held the apply
# lock to copy the state out, and what each wrote (sealed graphs linked from an earlier one
# are not written again).
worker_log = open(f"{run}/ingest.log").read()
prepared = [float(x) for x in re.findall(r"snapshot prepared .*? seconds=([0-9.]+)", worker_log)]
written = [(int(b), float(c), float(t)) for b, c, t in
           re.findall(r"snapshot written .*? bytes=([0-9]+) checksum_seconds=([0-9.]+) seconds=([0-9.]+)", worker_log)]
if prepared and written:
    p(f"| snapshots written by tide-ingest: count; apply lock held to copy the state out, median / max; "
      f"bytes written by one, median / max; writing one beside the indexer, max (of which hashing its files) | "
      f"{len(written)}; {sorted(prepared)[len(prepared) // 2]:.2f} / {max(prepared):.2f} s; "
      f"{sorted(w[0] for w in written)[len(written) // 2] / 1e6:,.0f} / {max(w[0] for w in written) / 1e6:,.0f} MB; "
      f"{max(w[2] for w in written):.1f} s ({max(w[1] for w in written):.2f} s) | | |")
for name, label in [("idle", "idle"), ("load", f"under a background load of {int(load_rate) * 4:,} chunks/s")]:
    f = n[name]
    ms = lambda v: "lost" if v == float("inf") else f"{v:,.0f}"
    lost = f", {f['lost']} never visible within 10 s (counted as lost)" if f["lost"] else ""
    p(f"| freshness p50 / p90 / p99 / max, {label} ({f['n']} probes{lost}) | {ms(f['p50'])} / {ms(f['p90'])} / {ms(f['p99'])} / {ms(f['max'])} ms | p99 ≤ 1,000 ms | {ok(f['p99'] <= 1000)} |")
p(f"| CPU used during the ingest: tide-ingest / tide-query | {float(worker_cpu):.1f} s / {float(query_cpu):.1f} s (of {2 * searchable_ms / 1000:.1f} core-seconds) | | |")
p(f"| tide-ingest restarted after the runs: start → indexes ready (snapshot loaded, change log replayed; "
  f"of which loading its snapshot) | {int(ready_ms) / 1000:.1f} s ({restart_load} s) | | |")
p(f"| the same restart: start → partitions assigned (the dev broker keeps a stopped static member's "
  f"partitions until its session ends; a real broker hands them back at once: see the reading) | "
  f"{int(restart_ms) / 1000:.1f} s | ≤ 3 s (issue 14) | {ok(int(restart_ms) <= 3000)} |")
p(f"| memory after the ingest, VmRSS (VmHWM): tide-ingest / tide-query | {int(w_rss) / 1024:.0f} ({int(w_hwm) / 1024:.0f}) / {int(q_rss) / 1024:.0f} ({int(q_hwm) / 1024:.0f}) MiB | | |")
p()
p(f"**Where the worker's time goes** (sums of its `/metrics` histograms over {int(n['batches'])} batches; "
  f"the index stage split with `index_build_bench`'s single-threaded costs of the same chunks):")
p()
p("| stage | seconds | share of batch time | per chunk |")
p("|---|---|---|---|")
# The consume loop's batches, then the index stage, which runs on the indexer's own thread
# beside them (its share is of the same batch time, so it can pass 100 %).
loop_other = st["batch"] - st["decode"] - st["chunk"] - st["embed"] - st["store_write"]
rows = [("parse (`tide_ingest_decode_seconds`)", st["decode"]),
        ("chunk (`tide_ingest_chunk_seconds`: version checks + chunker)", st["chunk"]),
        ("embed (`tide_ingest_embed_seconds`, hash embedder)", st["embed"]),
        ("RocksDB write (`tide_ingest_store_write_seconds`, WAL fsync)", st["store_write"]),
        ("other (offset bookkeeping, dead-letter checks)", max(0.0, loop_other)),
        ("**batch total** (`tide_ingest_batch_seconds`)", st["batch"]),
        ("index, on the indexer's thread beside the batches (`tide_ingest_index_seconds`), of which:", st["index"]),
        ("  · HNSW insert (index − BM25 − read-back, estimated)", hnsw_est),
        ("  · BM25: analyse + add (measured offline)", min(kw_share, st["index"])),
        ("  · reading chunks and vectors back from RocksDB (measured offline)", min(read_share, st["index"]))]
for label, s in rows:
    p(f"| {label} | {s:.1f} | {100 * s / st['batch']:.0f} % | {1e6 * s / chunks:.0f} µs |")
p()
p(f"The consume loop's batches took {st['batch']:.1f} s of the worker's {worker_ms / 1000:.1f} s; the rest is "
  f"Kafka fetch, group join, waiting for batches to fill and, once the corpus is consumed, the "
  f"indexer catching up.")
p(f"Freshness: each probe is one `document.upsert` produced with acks=all; the time runs from "
  f"before `produce()` until a keep-alive-free `POST /v1/search` (mode keyword, polled every 5 ms) "
  f"returns it first. Under load, {int(load_chunks):,} background chunks were ingested meanwhile "
  f"(`freshness_probe --load`). The dev broker (librdkafka's mock cluster) holds a fetch "
  f"until `fetch.wait.max.ms` even when data arrives, where a real broker answers at once; "
  f"the worker's consumer sets it to 100 ms (librdkafka's default is 500 ms), so up to 100 ms of "
  f"each idle probe is that artefact.")
if have_plot != "0":
    p()
    p(f"![freshness histogram](bench/{have_plot})")
PY

{
  echo "$heading"
  echo
  bench_machine_line
  echo "Command (from the repository root): \`$command_line\` (whole script: ${total_s} s)."
  echo
  cat "$run/body.md"
  echo
  if [ -f "$repo/tests/bench/ingest_reading.md" ]; then cat "$repo/tests/bench/ingest_reading.md"; echo; fi
} >"$section"
replace_section "$heading" "$section"
cat "$run/body.md"
echo "ingest_bench: wrote docs/benchmarks.md (section \"$heading\") in ${total_s} s"
if [ -n "$handoff" ]; then
  mkdir -p "$handoff"
  mv "$run/data" "$run/corpus.json" "$run/queries.json" "$handoff/"
  echo "ingest_bench: store handed off to $handoff"
fi
ok=1
