#!/usr/bin/env python3
"""Fits and checks the calibrated relevance of a running tide-query (query/calibration.h).

    tests/quality/calibrate.py --port P --api_key_file FILE --data DIR --profile hash|semantic
                               [--modes hybrid,keyword,vector] (--fit | --check)
                               [--max_ece 0.10] [--max_gap 0.15]

DIR is a judged set laid out as tests/bench/klue_eval reads it (queries.jsonl with "split" and
"kind", qrels.tsv, corpus.jsonl); tests/quality/help-ko/prepare.py writes one. Every query is
sent unscoped over the set's containers (k 10, group_by document) in each mode; a hit is
relevant when its document is judged relevant to the query (unjudged pages count as not).

--fit   fits, per mode, a logistic regression of relevance on the evidence the daemon reports
        (explain.relevance: score, coverage, cosine, reciprocal_rank) on the "tune" half, then
        reports the fit's figures on the "test" half; prints the "calibration" entry for
        configs/search_rules.json and a Markdown report (stdout).
--check reads the relevance the daemon computes with the rules in force, on the "test" half
        only, and fails (exit 1) when the expected calibration error is above --max_ece or,
        for a kind of query or an intent with at least 100 hits, the mean relevance and the
        share of relevant hits differ by more than --max_gap, or when there are fewer than 500
        hits or 50 relevant ones to check on. This is the held-out test.
"""
import argparse
import datetime
import json
import math
import os
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

FEATURES = ("score", "coverage", "cosine", "reciprocal_rank")
BINS = 10


def load_set(data):
    queries = []
    with open(os.path.join(data, "queries.jsonl"), encoding="utf-8") as f:
        for line in f:
            queries.append(json.loads(line))
    judged = {}
    with open(os.path.join(data, "qrels.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, score = line.rstrip("\n").split("\t")
            if float(score) > 0:
                judged.setdefault(q, set()).add(d)
    containers = set()
    with open(os.path.join(data, "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            containers.add(json.loads(line)["container"])
    return [q for q in queries if q["_id"] in judged], judged, sorted(containers)


def search(port, key, body):
    req = urllib.request.Request("http://127.0.0.1:%d/v1/search" % port, data=json.dumps(body).encode("utf-8"),
                                 method="POST", headers={"Authorization": "Bearer " + key,
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def collect(port, key, queries, judged, containers, mode):
    """One row per hit: evidence, the daemon's relevance, the judgment and the query's labels."""
    def one(q):
        answer = search(port, key, {"query": q["text"], "container_ids": containers, "k": 10,
                                    "group_by": "document", "mode": mode})
        rows = []
        for h in answer["hits"]:
            rows.append({"x": [h["explain"]["relevance"][f] for f in FEATURES], "relevance": h["relevance"],
                         "y": 1 if h["doc_id"] in judged[q["_id"]] else 0, "kind": q.get("kind", "-"),
                         "intent": answer["query"]["intent"]["name"]})
        return rows
    with ThreadPoolExecutor(max_workers=2) as pool:
        return [row for rows in pool.map(one, queries) for row in rows]


def solve(a, b):
    """Solves a x = b (small, symmetric positive definite) by Gaussian elimination."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[p] = m[p], m[c]
        for r in range(n):
            if r != c and m[c][c] != 0:
                f = m[r][c] / m[c][c]
                m[r] = [m[r][k] - f * m[c][k] for k in range(n + 1)]
    return [m[i][n] / m[i][i] for i in range(n)]


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def fit(rows, l2=1.0):
    """Logistic regression by Newton's method, an L2 penalty on the slopes (not the intercept)."""
    xs = [[1.0] + r["x"] for r in rows]
    ys = [r["y"] for r in rows]
    n = len(xs[0])
    w = [0.0] * n
    for _ in range(50):
        grad = [0.0] * n
        hess = [[0.0] * n for _ in range(n)]
        for x, y in zip(xs, ys):
            p = sigmoid(sum(wi * xi for wi, xi in zip(w, x)))
            for i in range(n):
                grad[i] += (y - p) * x[i]
                for j in range(n):
                    hess[i][j] += p * (1 - p) * x[i] * x[j]
        for i in range(1, n):
            grad[i] -= l2 * w[i]
            hess[i][i] += l2
        step = solve(hess, grad)
        w = [wi + si for wi, si in zip(w, step)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return w


def predict(w, rows):
    return [sigmoid(w[0] + sum(wi * xi for wi, xi in zip(w[1:], r["x"]))) for r in rows]


def report(rows, probs, out, max_gap=None):
    """Reliability table, ECE, groups and cut-offs; returns (ece, [groups over max_gap])."""
    bins = [[0, 0.0, 0] for _ in range(BINS)]
    for r, p in zip(rows, probs):
        b = bins[min(BINS - 1, int(p * BINS))]
        b[0] += 1
        b[1] += p
        b[2] += r["y"]
    n = len(rows)
    ece = sum(abs(b[1] - b[2]) for b in bins) / n if n else 0.0
    out.append("| relevance | hits | mean relevance | share relevant |")
    out.append("|---|---|---|---|")
    for i, b in enumerate(bins):
        if b[0]:
            out.append("| %.1f–%.1f | %d | %.3f | %.3f |" % (i / BINS, (i + 1) / BINS, b[0], b[1] / b[0], b[2] / b[0]))
    out.append("")
    out.append("Expected calibration error (%d bins, weighted by hits): **%.3f** over %d hits." % (BINS, ece, n))
    out.append("")
    out.append("| group | hits | mean relevance | share relevant | gap |")
    out.append("|---|---|---|---|---|")
    bad = []
    for label in ("kind", "intent"):
        for g in sorted({r[label] for r in rows}):
            idx = [i for i, r in enumerate(rows) if r[label] == g]
            mp = sum(probs[i] for i in idx) / len(idx)
            my = sum(rows[i]["y"] for i in idx) / len(idx)
            out.append("| %s: %s | %d | %.3f | %.3f | %+.3f |" % (label, g, len(idx), mp, my, mp - my))
            if max_gap is not None and len(idx) >= 100 and abs(mp - my) > max_gap:
                bad.append("%s %s (%+.3f)" % (label, g, mp - my))
    out.append("")
    out.append("| kept when relevance ≥ | hits kept | of them relevant | relevant hits kept |")
    out.append("|---|---|---|---|")
    total_relevant = sum(r["y"] for r in rows)
    for cut in (0.1, 0.2, 0.3, 0.5, 0.7):
        kept = [r["y"] for r, p in zip(rows, probs) if p >= cut]
        out.append("| %.1f | %d | %s | %s |" % (cut, len(kept), "%.3f" % (sum(kept) / len(kept)) if kept else "—",
                                              "%.3f" % (sum(kept) / total_relevant) if total_relevant else "—"))
    out.append("")
    return ece, bad


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--api_key_file", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--profile", required=True, choices=("hash", "semantic"))
    p.add_argument("--modes", default="hybrid,keyword")
    p.add_argument("--max_ece", type=float, default=0.10)
    p.add_argument("--max_gap", type=float, default=0.15)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--fit", action="store_true")
    what.add_argument("--check", action="store_true")
    a = p.parse_args()
    with open(a.api_key_file, encoding="utf-8") as f:
        keys = json.load(f)
    key = (keys["keys"] if isinstance(keys, dict) else keys)[0]["key"]
    queries, judged, containers = load_set(a.data)
    tune = [q for q in queries if q.get("split") == "tune"]
    test = [q for q in queries if q.get("split") == "test"]
    if not tune or not test:
        sys.exit("calibrate: %s has no tune/test split" % a.data)
    set_name = os.path.basename(os.path.normpath(a.data))
    out, failures, entry = [], [], {}
    for mode in a.modes.split(","):
        if a.fit:
            train = collect(a.port, key, tune, judged, containers, mode)
            w = fit(train)
            entry[mode] = {"intercept": round(w[0], 4), **{f: round(c, 4) for f, c in zip(FEATURES, w[1:])},
                           "fitted_on": "%s tune half (%d queries, %d hits), %s embedder, %s" % (
                               set_name, len(tune), len(train), a.profile, datetime.date.today().isoformat())}
            held = collect(a.port, key, test, judged, containers, mode)
            out.append("### %s, mode `%s`: the fit on the tune half, read on the test half" % (a.profile, mode))
            out.append("")
            out.append("Coefficients: " + ", ".join("%s %.3f" % (k, v) for k, v in entry[mode].items() if k != "fitted_on")
                       + " (%d tune hits, %d relevant)." % (len(train), sum(r["y"] for r in train)))
            out.append("")
            report(held, predict(w, held), out)
        else:
            held = collect(a.port, key, test, judged, containers, mode)
            if any(r["relevance"] is None for r in held):
                sys.exit("calibrate: the daemon has no calibration for %s/%s" % (a.profile, mode))
            out.append("### %s, mode `%s`: the daemon's relevance on the test half" % (a.profile, mode))
            out.append("")
            ece, bad = report(held, [r["relevance"] for r in held], out, a.max_gap)
            # A check over too little is no check: the test half gives about 830 hits.
            if len(held) < 500 or sum(r["y"] for r in held) < 50:
                failures.append("%s: only %d hits (%d relevant) to check on" % (mode, len(held), sum(r["y"] for r in held)))
            if ece > a.max_ece:
                failures.append("%s: expected calibration error %.3f > %.2f" % (mode, ece, a.max_ece))
            failures += ["%s: %s differs by more than %.2f" % (mode, b, a.max_gap) for b in bad]
    print("\n".join(out))
    if a.fit:
        print("calibration entry for configs/search_rules.json:")
        print(json.dumps({a.profile: entry}, ensure_ascii=False, indent=2))
    if failures:
        print("calibrate: FAILED: " + "; ".join(failures), file=sys.stderr)
        sys.exit(1)
    if a.check:
        print("calibrate: the calibration holds on the test half (ECE at most %.2f, groups within %.2f)" % (
            a.max_ece, a.max_gap))


if __name__ == "__main__":
    main()
