#!/usr/bin/env python3
"""Turns the judged help set into the layout tests/bench/klue_eval reads.

    tests/quality/help-ko/prepare.py HELP_EVENTS OUT_DIR

HELP_EVENTS is the Korean LibreOffice help as `tidectl import-help` writes it (the demo and
the benchmarks keep it in build/bench-data/help_events.jsonl). OUT_DIR receives:
  events.jsonl   the events themselves (ingested as they are: titles included)
  corpus.jsonl   {"_id": doc_id, "container": container_id, "text": title + text,
                  "title": title + heading lines + metadata tags, "body": text}; the short
                 field is what the daemon indexes as a chunk's title field (title, heading
                 path, tags), for keyword_bench's table of title and body as two fields
  queries.jsonl  this set's queries, each with "container": the module of its first score-2
                 page (the scope of klue_eval's "own" column)
  qrels.tsv      this set's judgments
Fails, naming them, if judged pages are missing from HELP_EVENTS (another help version).
"""
import json
import os
import shutil
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    events_path, out = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out, exist_ok=True)
    container_of = {}
    with open(events_path, encoding="utf-8") as src, open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as corpus:
        for line in src:
            e = json.loads(line)
            container_of[e["doc_id"]] = e["container_id"]
            title = e.get("title") or ""
            headings = [row.lstrip("#").strip() for row in e["text"].split("\n") if row.startswith("#")]
            tags = (e.get("metadata") or {}).get("tags") or []
            corpus.write(json.dumps({"_id": e["doc_id"], "container": e["container_id"],
                                     "text": title + "\n" + e["text"],
                                     "title": "\n".join([title] + headings + tags),
                                     "body": e["text"]}, ensure_ascii=False) + "\n")
    shutil.copyfile(events_path, os.path.join(out, "events.jsonl"))
    first_answer = {}
    missing = []
    with open(os.path.join(here, "qrels.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            query, doc, score = line.rstrip("\n").split("\t")
            if doc not in container_of:
                missing.append(doc)
            elif int(score) == 2:
                first_answer.setdefault(query, doc)
    if missing:
        sys.exit("prepare.py: judged pages not in %s: %s" % (events_path, ", ".join(sorted(set(missing)))))
    shutil.copyfile(os.path.join(here, "qrels.tsv"), os.path.join(out, "qrels.tsv"))
    with open(os.path.join(here, "queries.jsonl"), encoding="utf-8") as src, \
            open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8") as dst:
        for line in src:
            q = json.loads(line)
            q["container"] = container_of[first_answer[q["_id"]]]
            dst.write(json.dumps(q, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
