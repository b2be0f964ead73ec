#!/usr/bin/env python3
"""Plots for tests/bench/ann_bench.sh from ann_bench's --tsv output.

    plot_ann.py RESULTS.tsv UNFILTERED.png FILTERED.png MODE

UNFILTERED.png: recall@10 against queries/s (one thread, log scale) over the ef_search sweep,
one line per system. FILTERED.png: per share of permitted chunks, q/s (log scale) of each
filtered search, with its recall@10 written on the bar.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    results, unfiltered_png, filtered_png, mode = sys.argv[1:5]
    with open(results, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if not r["system"].startswith("build:")]

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, style in (("tide VectorIndex", "o-"), ("hnswlib", "s--"), ("faiss", "^-.")):
        pts = [r for r in rows if r["system"] == system and r["setting"] == "all"]
        if not pts:
            continue
        ax.plot([float(r["qps"]) for r in pts], [float(r["recall"]) for r in pts], style, label=system)
        if system == "tide VectorIndex":
            continue  # same graph as hnswlib: its points sit on hnswlib's, one label is enough
        for r in pts:
            ax.annotate("ef " + r["ef"], (float(r["qps"]), float(r["recall"])), fontsize=7,
                        textcoords="offset points", xytext=(4, -8))
    ax.axhline(0.99, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xscale("log")
    ax.set_xlabel("queries/s, one thread (log)")
    ax.set_ylabel("recall@10")
    ax.set_title(f"Unfiltered ANN, hash vectors, 384 d, M 16, ef_construction 200 ({mode})")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(unfiltered_png, dpi=110)

    settings = []
    for r in rows:
        if r["setting"] != "all" and r["setting"] not in settings:
            settings.append(r["setting"])
    series = []
    for r in rows:
        if r["setting"] == "all":
            continue
        name = r["system"] if r["ef"] in ("-", "auto") else f'{r["system"]} ef {r["ef"]}'
        if name not in series:
            series.append(name)
    fig, ax = plt.subplots(figsize=(10, 5))
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        xs, qps, rec = [], [], []
        for j, s in enumerate(settings):
            for r in rows:
                rname = r["system"] if r["ef"] in ("-", "auto") else f'{r["system"]} ef {r["ef"]}'
                if r["setting"] == s and rname == name:
                    xs.append(j + i * width)
                    qps.append(float(r["qps"]))
                    rec.append(float(r["recall"]))
        bars = ax.bar(xs, qps, width, label=name)
        for b, rc in zip(bars, rec):
            ax.annotate(f"{rc:.2f}", (b.get_x() + b.get_width() / 2, b.get_height()), fontsize=6,
                        ha="center", va="bottom", rotation=90)
    ax.set_yscale("log")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(settings))])
    ax.set_xticklabels([f"{s} permitted" for s in settings])
    ax.set_ylabel("queries/s, one thread (log); recall@10 on each bar")
    ax.set_title(f"Filtered ANN ({mode})")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(filtered_png, dpi=110)


if __name__ == "__main__":
    main()
