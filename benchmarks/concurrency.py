"""The answer path under concurrency: questions/s and latency with 1, 8 and 32 concurrent askers.

Each asker is a coroutine calling `await kb.ask(question)` (extractive answers) on the BBC store,
one question after another, as Discord handlers would; the blocking work runs in asyncio's
default executor (`min(32, cores + 4)` threads), exactly as `KnowledgeBase.ask` does it. One
batch per level per round, the levels alternating within each round; the dev questions are asked
in turn. Printed: questions/s (batch questions ÷ batch wall time, median over rounds), latency
p50/p95 per question, and the speed-up over one asker.

    python benchmarks/concurrency.py --store data/bbc   # a store holding the BBC corpus
    python benchmarks/concurrency.py --smoke                         # 15 articles, small batches (CI)

Writes benchmarks/results/concurrency.json (concurrency_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import CoreConfig, KnowledgeBase  # noqa: E402
from knowledge.loading import load_file  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def batch(kb: KnowledgeBase, questions: list[str], askers: int, start: int, size: int) -> tuple[float, list[float]]:
    """`size` questions (from `start` in `questions`, round the list) by `askers` concurrent
    askers; returns the wall time and each question's latency."""
    todo = iter(range(start, start + size))
    latencies: list[float] = []

    async def asker() -> None:
        for i in todo:  # a shared iterator: each asker takes the next question when it is free
            t = time.perf_counter()
            await kb.ask(questions[i % len(questions)])
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(asker() for _ in range(askers)))
    return time.perf_counter() - t0, latencies


async def run(kb: KnowledgeBase, questions: list[str], levels: list[int], rounds: int, size: int) -> dict:
    await kb.ask(questions[0])  # warm-up: the model, the HNSW index, the lexical index
    walls: dict[int, list[float]] = {c: [] for c in levels}
    lats: dict[int, list[float]] = {c: [] for c in levels}
    start = 0
    for _ in range(rounds):
        for c in levels:
            wall, lat = await batch(kb, questions, c, start, size)
            walls[c].append(size / wall)
            lats[c] += lat
            start += size
    one = statistics.median(walls[levels[0]])
    return {str(c): {"questions_per_s": round(statistics.median(walls[c]), 1),
                     "latency_ms_p50": round(statistics.median(lats[c]) * 1000, 1),
                     "latency_ms_p95": round(pct(lats[c], 95) * 1000, 1),
                     "speedup_vs_1": round(statistics.median(walls[c]) / one, 2), "samples": len(lats[c])}
            for c in levels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a store holding the BBC corpus (see bbc_quality.py --store)")
    ap.add_argument("--levels", default="1,8,32", help="concurrent askers, comma-separated (default 1,8,32)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=96, help="questions per batch (default 96)")
    ap.add_argument("--smoke", action="store_true", help="15 articles, 1 round of 16 questions")
    args = ap.parse_args()
    if not (BBC / "dev_qa.jsonl").is_file():
        sys.exit(f"The BBC corpus is not at {BBC}.")
    qa = [json.loads(x) for x in (BBC / "dev_qa.jsonl").read_text().splitlines() if x.strip()]
    levels = [int(x) for x in args.levels.split(",")]
    if args.smoke:
        qa = [q for q in qa if q.get("answerable")][:4] + [q for q in qa if not q.get("answerable")][:1]
        args.rounds, args.batch = 1, 16
        tmp = tempfile.TemporaryDirectory(prefix="newsbot-conc-")  # removed when the process ends
        kb = KnowledgeBase(CoreConfig(chroma_path=tmp.name))
        wanted = [BBC / q["article"] for q in qa if q.get("article")]
        for p in wanted + [p for p in sorted(BBC.glob("*/*.txt")) if p not in wanted][:15 - len(wanted)]:
            kb.ingest(load_file(p, source="BBC News"))
    else:
        if not args.store:
            sys.exit("--store STORE is needed: a store holding the BBC corpus (see bbc_quality.py --store).")
        kb = KnowledgeBase(CoreConfig(chroma_path=args.store))
    kb.lexical.ensure_current()
    questions = [q["question"] for q in qa]
    rows = asyncio.run(run(kb, questions, levels, args.rounds, args.batch))
    threads = min(32, (os.cpu_count() or 1) + 4)
    print(f"{len(kb.list())} articles, {kb.store.chunk_count()} chunks; extractive; {args.rounds} rounds × {args.batch} questions "
          f"per level; {threads} executor threads; {os.cpu_count()} cores")
    print(f"{'askers':>7}{'questions/s':>13}{'p50 ms':>9}{'p95 ms':>9}{'× 1 asker':>11}")
    for c, r in rows.items():
        print(f"{c:>7}{r['questions_per_s']:>13}{r['latency_ms_p50']:>9}{r['latency_ms_p95']:>9}{r['speedup_vs_1']:>11}")
    out = {"articles": len(kb.list()), "chunks": kb.store.chunk_count(), "rounds": args.rounds, "batch": args.batch,
           "executor_threads": threads, "cores": os.cpu_count(), "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
           "levels": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "concurrency_smoke.json" if args.smoke else "concurrency.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT) / name}")


if __name__ == "__main__":
    main()
