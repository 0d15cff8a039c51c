#!/usr/bin/env python3
"""Markdown table of a side-by-side benchmark from llama-bench-style JSON files.

usage: cpu_bench_table.py [--min-ratio R] TOOL=FILE.json [TOOL=FILE.json ...]

Each FILE is the stdout of `llama-bench -o json` or `webaccel bench -o json`: a JSON array of
rows with at least model_filename, n_prompt, n_gen, n_threads, samples_ts (and optionally
n_depth, model_size). Rows of the same tool, model, test and thread count (e.g. from several
alternating rounds) are pooled: the table shows mean +- sample standard deviation over all
their samples_ts. The ratio column is webaccel / llama.cpp of the means.

Standard library only. Exit status 0 always (a low ratio is reported, not fatal).
"""
import json
import math
import os
import sys

OURS = "webaccel"
PEER = "llama.cpp"


def test_name(row):
    p, g, d = row.get("n_prompt", 0), row.get("n_gen", 0), row.get("n_depth", 0)
    if p and g:
        name = f"pp{p}+tg{g}"
    elif p:
        name = f"pp{p}"
    else:
        name = f"tg{g}"
    return name + (f" @ d{d}" if d else "")


def mean_sd(xs):
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def fmt_size(nbytes):
    if not nbytes:
        return "?"
    mib = nbytes / 2**20
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.1f} MiB"


def main(argv):
    min_ratio = 0.8
    args = list(argv)
    if len(args) >= 2 and args[0] == "--min-ratio":
        min_ratio = float(args[1])
        args = args[2:]
    # key -> {"size": bytes, tool: [samples]}
    cells = {}
    order = []
    for arg in args:
        tool, _, path = arg.partition("=")
        try:
            with open(path) as f:
                rows = json.load(f)
        except (OSError, ValueError) as e:
            print(f"cpu_bench_table: skipping {path}: {e}", file=sys.stderr)
            continue
        for row in rows if isinstance(rows, list) else [rows]:
            key = (os.path.basename(row["model_filename"]), test_name(row), row.get("n_threads"))
            if key not in cells:
                cells[key] = {"size": row.get("model_size")}
                order.append(key)
            cell = cells[key]
            cell["size"] = cell["size"] or row.get("model_size")
            samples = row.get("samples_ts") or [row["avg_ts"]]
            cell.setdefault(tool, []).extend(float(x) for x in samples)

    print(f"| model | size | test | threads | {OURS} t/s | {PEER} t/s | ratio |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for key in order:
        model, test, threads = key
        cell = cells[key]
        cols = []
        means = {}
        for tool in (OURS, PEER):
            m, sd = mean_sd(cell.get(tool, []))
            means[tool] = m
            cols.append("n/a" if m is None else f"{m:.2f} ± {sd:.2f} (n={len(cell[tool])})")
        if means[OURS] is not None and means[PEER]:
            r = means[OURS] / means[PEER]
            ratio = f"{r:.2f}" + ("" if r >= min_ratio else f" (< {min_ratio})")
        else:
            ratio = "n/a"
        print(f"| {model} | {fmt_size(cell['size'])} | {test} | {threads} | {cols[0]} | {cols[1]} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1:])
