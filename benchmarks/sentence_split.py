"""Sentence splitting: the windowed pysbd (knowledge/chunking.py) against pysbd on whole paragraphs.

Two questions:

1. Same boundaries? Every BBC article is split both ways, as stored (its own paragraphs) and
   with its paragraphs joined into one long paragraph, which makes the windowing work on every
   article. Printed: articles and sentences compared, and how many spans differ.
2. Linear? One paragraph with no break, of 12,500 to 200,000 characters, split both ways, the
   two alternating within each round; every round is printed and the median. The text is BBC
   business stories joined without paragraph breaks.

    python benchmarks/sentence_split.py
    python benchmarks/sentence_split.py --smoke     # 40 articles, shorter texts (CI)

Writes benchmarks/results/sentence_split.json (sentence_split_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import chunking  # noqa: E402
from knowledge.loading import load_file  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"


def whole(text: str) -> list[chunking.Span]:
    saved = chunking._WINDOW_CHARS
    chunking._WINDOW_CHARS = 10**9
    try:
        return chunking.split_sentences(text)
    finally:
        chunking._WINDOW_CHARS = saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    files = sorted(BBC.glob("*/*.txt"))
    if args.smoke:
        files = files[:: max(1, len(files) // 40)][:40]
    compared = {"as stored": [0, 0, 0], "one paragraph": [0, 0, 0]}  # articles, sentences, articles differing
    diff_spans = {"as stored": 0, "one paragraph": 0}
    for f in files:
        text = load_file(f).text
        for name, t in (("as stored", text), ("one paragraph", " ".join(text.split("\n\n")))):
            a, b = whole(t), chunking.split_sentences(t)
            compared[name][0] += 1
            compared[name][1] += len(a)
            if a != b:
                compared[name][2] += 1
                diff_spans[name] += len(set(a) ^ set(b))
    print(f"{'text':<14} {'articles':>8} {'sentences':>9} {'articles differing':>18} {'spans differing':>15}")
    for name, (n, s, d) in compared.items():
        print(f"{name:<14} {n:>8} {s:>9} {d:>18} {diff_spans[name]:>15}")

    lengths = [12_500, 25_000, 50_000] if args.smoke else [12_500, 25_000, 50_000, 100_000, 200_000]
    rounds = 1 if args.smoke else args.rounds
    timings: dict[str, dict[str, list[float]]] = {str(n): {"windowed": [], "whole": []} for n in lengths}
    joined = " ".join(" ".join(load_file(f).text.split("\n\n")) for f in sorted(BBC.glob("business/*.txt"))[:200])
    for r in range(rounds):
        for n in lengths:
            text = joined[:n]
            order = ("windowed", "whole") if r % 2 == 0 else ("whole", "windowed")
            for how in order:
                started = time.perf_counter()
                (chunking.split_sentences if how == "windowed" else whole)(text)
                timings[str(n)][how].append(time.perf_counter() - started)
    print(f"\n{'characters':>10} {'windowed s (rounds)':>30} {'median':>7} {'whole s (rounds)':>30} {'median':>7}")
    rows = {}
    for n in lengths:
        w, h = timings[str(n)]["windowed"], timings[str(n)]["whole"]
        rows[str(n)] = {"windowed_s": w, "windowed_median_s": statistics.median(w),
                        "whole_s": h, "whole_median_s": statistics.median(h) if h else None}
        fmt = lambda xs: " ".join(f"{x:.2f}" for x in xs)  # noqa: E731
        print(f"{n:>10} {fmt(w):>30} {statistics.median(w):>7.2f} {fmt(h) or '-':>30} {(statistics.median(h) if h else float('nan')):>7.2f}")
    out = {"boundaries": {k: {"articles": v[0], "sentences": v[1], "articles_differing": v[2], "spans_differing": diff_spans[k]}
                          for k, v in compared.items()},
           "timing": rows, "window_chars": chunking._WINDOW_CHARS}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"sentence_split{'_smoke' if args.smoke else ''}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
