"""Answer quality on the BBC News corpus and its 60 dev questions: dense, BM25 and fused side by side.

Loads the 2,225 articles from ../shared/bench/bbc into a store (or reuses one given with
--store that already holds them), then runs every dev question through the same path a Discord
question takes (`KnowledgeBase.ask`) once per retrieval mode, and prints retrieval hit@1/hit@5/
MRR@10, answer accuracy, quote verification, refusal accuracy, wrongful refusals and latency.

    python benchmarks/bbc_quality.py --store data/bbc-bench      # loads the corpus on first run
    python benchmarks/bbc_quality.py --smoke                     # 30 articles, 5 questions (CI)

Writes benchmarks/results/bbc_quality.json (or bbc_quality_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import CoreConfig, KnowledgeBase  # noqa: E402
from knowledge.evaluation import evaluate, load_questions  # noqa: E402
from knowledge.loading import load_file  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("dense", "bm25", "hybrid")
COLUMNS = ("hit@1", "hit@5", "mrr@10", "answer_accuracy", "quote_verification", "refusal_accuracy",
           "wrongful_refusals", "latency_ms_p50", "latency_ms_p95")


def load_corpus(kb: KnowledgeBase, paths: list[Path]) -> dict:
    from tqdm import tqdm

    have = {a.origin for a in kb.list()}
    todo = [p for p in paths if str(p) not in have]
    started = time.perf_counter()
    statuses: dict[str, int] = {}
    for p in tqdm(todo, unit="article", disable=not sys.stderr.isatty()):
        status = kb.ingest(load_file(p, source="BBC News")).status
        statuses[status] = statuses.get(status, 0) + 1
    return {"loaded_now": len(todo), "seconds": round(time.perf_counter() - started, 1), "statuses": statuses}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="Chroma folder to load into / reuse (default: a temporary one)")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    questions = load_questions(BBC / "dev_qa.jsonl")
    paths = sorted(BBC.glob("*/*.txt"))
    if args.smoke:
        questions = [q for q in questions if q.get("answerable")][:4] + [q for q in questions if not q.get("answerable")][:1]
        wanted = {BBC / q["article"] for q in questions if q.get("article")}
        paths = sorted(wanted) + [p for p in paths if p not in wanted][:25]
    store = args.store or tempfile.mkdtemp(prefix="bbc-bench-")
    kb = KnowledgeBase(CoreConfig(chroma_path=store))
    load = load_corpus(kb, paths)
    rows = {}
    for mode in MODES:
        kb.config = replace(kb.config, retrieval=mode)
        rows[mode] = asyncio.run(evaluate(kb, questions)).summary()
    print(f"BBC: {len(kb.list())} articles, {kb.store.chunk_count()} chunks, {len(questions)} questions "
          f"({sum(1 for q in questions if not q.get('answerable'))} unanswerable); extractive answers")
    print(f"{'mode':<8}" + "".join(f"{c:>20}" for c in COLUMNS))
    for mode, s in rows.items():
        print(f"{mode:<8}" + "".join(f"{'-' if s[c] is None else s[c]:>20}" for c in COLUMNS))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "bbc_quality_smoke.json" if args.smoke else "bbc_quality.json"
    (RESULTS / name).write_text(json.dumps({"load": load, "articles": len(kb.list()), "chunks": kb.store.chunk_count(),
                                            "questions": len(questions), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
