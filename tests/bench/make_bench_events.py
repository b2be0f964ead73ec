#!/usr/bin/env python3
"""Deterministic synthetic event stream for the ingest and serving benchmarks.

Real text, re-combined: sentences and headings come from the Korean LibreOffice help
(`tidectl import-help` output) and the KLUE NLI retrieval corpus. Each generated
document.upsert event carries `text` made of markdown sections ("## heading" + sentences),
every section shorter than the chunker's 500 code points, so each section becomes exactly one
chunk and the corpus has exactly --chunks chunks (the chunker still runs on every event).
Documents per container and chunks per document are skewed (Zipf / Pareto), as in a real
organisation.

  make_bench_events.py --help-events help.jsonl --klue corpus.jsonl --chunks N \
      --out events.jsonl --stats stats.json [--queries queries.json] [--load load.jsonl]

--load also writes background-load documents (container "bench-load", 4 chunks each) for the
freshness measurement; --queries writes Korean query texts for the serving benchmark.
Same inputs and --seed: byte-identical output.
"""
import argparse
import json
import random
import re

MAX_SECTION_CHARS = 480  # below chunker.max_chars (500): one section, one chunk
CONTAINERS = 24


def read_pools(help_path, klue_path):
    sentences, headings, titles = [], [], []
    with open(help_path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            if event.get("title"):
                titles.append(event["title"])
            for raw in event.get("text", "").split("\n"):
                raw = raw.strip()
                if not raw:
                    continue
                if raw.startswith("#"):
                    heading = raw.lstrip("#").strip()
                    if 2 <= len(heading) <= 80:
                        headings.append(heading)
                    continue
                for s in re.split(r"(?<=[.?!])\s+", raw.lstrip("- ")):
                    if 10 <= len(s) <= 300:
                        sentences.append(s)
    klue = []
    with open(klue_path, encoding="utf-8") as f:
        for line in f:
            text = json.loads(line)["text"].strip()
            if 5 <= len(text) <= 300:
                klue.append(text)
    return sentences, klue, headings, titles


def section_text(rng, sentences, klue):
    target = rng.randint(80, MAX_SECTION_CHARS)
    parts, length = [], 0
    for _ in range(40):
        # One sentence in four is KLUE (news, reviews, policy), the rest help text.
        s = rng.choice(klue) if rng.random() < 0.25 else rng.choice(sentences)
        if length + len(s) + 1 > MAX_SECTION_CHARS:
            if parts:
                break
            continue
        parts.append(s)
        length += len(s) + 1
        if length >= target:
            break
    return " ".join(parts)


def make_document(rng, doc_index, container, n_chunks, pools, prefix="d"):
    sentences, klue, headings, titles = pools
    sections = []
    text_bytes = 0
    for _ in range(n_chunks):
        body = section_text(rng, sentences, klue)
        text_bytes += len(body.encode("utf-8"))
        sections.append("## " + rng.choice(headings) + "\n\n" + body)
    event = {
        "schema_version": 1,
        "type": "document.upsert",
        "container_id": container,
        "doc_id": "%s%07d" % (prefix, doc_index),
        "version": 1,
        "title": rng.choice(titles),
        "text": "\n\n".join(sections),
    }
    return event, text_bytes


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--help-events", required=True)
    p.add_argument("--klue", required=True)
    p.add_argument("--chunks", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stats", required=True)
    p.add_argument("--queries")
    p.add_argument("--load")
    p.add_argument("--load-docs", type=int, default=20000)
    p.add_argument("--seed", type=int, default=20261122)
    args = p.parse_args()

    pools = read_pools(args.help_events, args.klue)
    rng = random.Random(args.seed)
    names = ["team-%02d" % i for i in range(CONTAINERS)]
    weights = [1.0 / (i + 1) for i in range(CONTAINERS)]  # Zipf: team-00 is the biggest
    per_container = {n: 0 for n in names}
    chunks = docs = text_bytes = 0
    with open(args.out, "w", encoding="utf-8") as out:
        while chunks < args.chunks:
            n = min(args.chunks - chunks, min(64, 1 + int(rng.paretovariate(1.4) * 3)))
            container = rng.choices(names, weights)[0]
            event, nbytes = make_document(rng, docs, container, n, pools)
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            per_container[container] += n
            chunks += n
            docs += 1
            text_bytes += nbytes
    stats = {"documents": docs, "chunks": chunks, "chunk_text_bytes": text_bytes,
             "chunks_per_container": per_container}
    if args.load:
        load_rng = random.Random(args.seed + 1)
        with open(args.load, "w", encoding="utf-8") as out:
            for i in range(args.load_docs):
                event, _ = make_document(load_rng, i, "bench-load", 4, pools, prefix="load")
                out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        stats["load_documents"] = args.load_docs
    if args.queries:
        q_rng = random.Random(args.seed + 2)
        sentences, klue, headings, _ = pools
        korean = [h for h in set(headings) if re.search("[가-힣]", h)]
        korean.sort()
        queries = q_rng.sample(klue, min(150, len(klue))) + q_rng.sample(korean, min(150, len(korean)))
        q_rng.shuffle(queries)
        with open(args.queries, "w", encoding="utf-8") as out:
            json.dump(queries, out, ensure_ascii=False)
        stats["queries"] = len(queries)
    with open(args.stats, "w", encoding="utf-8") as out:
        json.dump(stats, out, ensure_ascii=False)


if __name__ == "__main__":
    main()
