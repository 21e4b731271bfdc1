"""Answer quality on the BBC News corpus and its 60 dev questions: dense, BM25 and fused side by side.

Loads the 2,225 articles from ../shared/bench/bbc into a store (or reuses one given with
--store that already holds them), then runs every dev question through the same path a Discord
question takes (`KnowledgeBase.ask`) once per retrieval mode, and prints retrieval hit@1/hit@5/
MRR@10, answer accuracy, quote verification, refusal accuracy, wrongful refusals, context recall
(the expected answer among the passages a model would be sent) and latency, with the figures
before the fitted answering model (commit b8811ad) beside them, how refusals split between "not
stated" and "not covered", and where each miss comes from (the ceiling analysis). The dev set is
held out: it is never used to fit the answering model (benchmarks/fit_answering.py).

    python benchmarks/bbc_quality.py --store data/bbc-bench      # loads the corpus on first run
    python benchmarks/bbc_quality.py --store data/bbc-full --no-load --baseline main   # main's answer path beside
    python benchmarks/bbc_quality.py --store data/bbc-full --no-load --questions benchmarks/questions/newsbot_heldout.jsonl
    python benchmarks/bbc_quality.py --smoke                     # 30 articles, 5 questions (CI)

Writes benchmarks/results/bbc_quality.json (or bbc_quality_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ceiling import best, show  # noqa: E402
from ceiling import decision_case as ceiling_case  # noqa: E402
from ceiling import summary as ceiling_summary  # noqa: E402

from knowledge import CoreConfig, KnowledgeBase  # noqa: E402
from knowledge.evaluation import evaluate, load_questions  # noqa: E402
from knowledge.loading import load_file  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
MODES = ("dense", "bm25", "hybrid")
COLUMNS = ("hit@1", "hit@5", "mrr@10", "answer_accuracy", "quote_verification", "refusal_accuracy",
           "wrongful_refusals", "context_recall", "latency_ms_p50", "latency_ms_p95")
# The same run before the fitted answering model (b8811ad; benchmarks/README.md, issue 11).
BEFORE = {
    "dense": {"hit@1": 0.8, "hit@5": 0.9778, "mrr@10": 0.8741, "answer_accuracy": 0.5111, "quote_verification": 1.0,
              "refusal_accuracy": 0.2, "wrongful_refusals": 0.1111, "latency_ms_p50": 18.6, "latency_ms_p95": 28.5},
    "bm25": {"hit@1": 0.9333, "hit@5": 1.0, "mrr@10": 0.963, "answer_accuracy": 0.6222, "quote_verification": 1.0,
             "refusal_accuracy": 0.2, "wrongful_refusals": 0.1333, "latency_ms_p50": 10.7, "latency_ms_p95": 19.8},
    "hybrid": {"hit@1": 0.9111, "hit@5": 1.0, "mrr@10": 0.9519, "answer_accuracy": 0.6, "quote_verification": 1.0,
               "refusal_accuracy": 0.2667, "wrongful_refusals": 0.1111, "latency_ms_p50": 12.7, "latency_ms_p95": 16.3},
}
TARGETS = {"answer_accuracy": ">= 0.85", "refusal_accuracy": ">= 0.80", "wrongful_refusals": "<= 0.08", "quote_verification": "= 1.0",
           "context_recall": ">= 0.95", "latency_ms_p50": "<= 20"}


def ceiling(report) -> dict:
    """Where the answerable questions' misses come from, and how refusals split by outcome."""
    pos = [r for r in report.results if r.answerable]
    neg = [r for r in report.results if not r.answerable]
    miss = [r for r in pos if not r.correct]
    return {
        "answerable missed": len(miss),
        "right article not in the top 10": sum(1 for r in miss if r.rank is None),
        "answer not in the retrieved passages": sum(1 for r in miss if r.rank is not None and not r.in_context),
        "answer retrieved, refused": sum(1 for r in miss if r.in_context and not r.answered),
        "answer retrieved, another sentence quoted": sum(1 for r in miss if r.in_context and r.answered),
        "unanswerable refused as not stated": sum(1 for r in neg if r.outcome == "not_stated"),
        "unanswerable refused as not covered": sum(1 for r in neg if r.outcome == "not_covered"),
        "answerable refused as not stated": sum(1 for r in pos if r.outcome == "not_stated"),
        "answerable refused as not covered": sum(1 for r in pos if r.outcome == "not_covered"),
    }


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


def fit_subset(paths: list[Path], dev: list[dict], others: int) -> list[Path]:
    """The articles our question set and the dev set name (a duplicated story's copies too), then
    `others` more drawn at random (seed 2025), in that order."""
    rows = dev + load_questions(ROOT / "benchmarks" / "questions" / "newsbot_qa.jsonl")
    wanted = {BBC / ref for q in rows for ref in [q.get("article"), *(q.get("also_in") or ())] if ref and (BBC / ref).is_file()}
    rest = [p for p in paths if p not in wanted]
    random.Random(2025).shuffle(rest)
    return sorted(wanted) + rest[:others]


def support_step_ms(kb: KnowledgeBase, questions: list[dict], rounds: int = 3) -> dict:
    """What the answer step costs on its own: everything after retrieval, per question, in ms."""
    import statistics

    from knowledge.answering import decide
    from knowledge.question import analyse
    from knowledge.support import idf_from, score_sentences

    prepared = []
    for q in questions:
        text = kb.check_question(q["question"])
        qvec = kb.embedder.embed_query(text)
        passages = kb.retriever.search(text, kb.config.top_k, vector=qvec)
        vectors = kb.store.sentence_vectors([p.chunk for p in passages], [p.article.version for p in passages], len(qvec))
        prepared.append((text, qvec, passages, vectors))
    times = []
    for _ in range(rounds):
        for text, qvec, passages, vectors in prepared:
            t = time.perf_counter()
            qa = analyse(text)
            idf = idf_from(kb.lexical.document_frequencies(qa.terms), max(1, kb.lexical.size()))
            decide(qa, score_sentences(qa, passages, idf, qvec=qvec, sentence_vectors=vectors), max_quotes=kb.config.max_quotes)
            times.append(1000 * (time.perf_counter() - t))
    times.sort()
    return {"p50": round(statistics.median(times), 2), "p95": round(times[int(0.95 * (len(times) - 1))], 2), "rounds": rounds}


def dump_signals(kb: KnowledgeBase, questions: list[dict], path: Path) -> None:
    """Per question, what the answer step saw (JSON Lines): the decision and its confidence, the
    best sentence and the one holding the expected answer, each with its measurements. This is
    how a wrongful refusal is traced to the signal that caused it."""
    from knowledge.answering import answer_features, decide
    from knowledge.evaluation import matches
    from knowledge.support import FEATURES

    def row(s, rank: int) -> dict:
        text = s.passage.article.text[s.sentence.start : s.sentence.end]
        return {"rank": rank, "p": round(s.probability, 3), "text": text[:300],
                "features": {f: round(v, 3) for f, v in zip(FEATURES, s.features, strict=True)}}

    with path.open("w", encoding="utf-8") as out:
        for q in questions:
            r = kb.retrieve(str(q["question"]))
            ok = [s for s in r.supports if not s.missing]
            v = decide(r.question, r.supports, max_quotes=kb.config.max_quotes)
            answer, ref = str(q.get("answer") or ""), str(q.get("article") or "")
            hold = [(n, s) for n, s in enumerate(ok, start=1) if answer and matches(s.passage.article, ref)
                    and answer.lower() in s.passage.article.text[s.sentence.start : s.sentence.end].lower()]
            x = answer_features(r.supports)
            out.write(json.dumps({
                "id": q.get("id"), "question": q["question"], "answerable": bool(q.get("answerable")), "answer": answer,
                "outcome": v.outcome.value, "confidence": round(v.confidence, 3), "kind": r.question.kind.value,
                "focus": r.question.focus, "missing": list(r.supports[0].missing) if r.supports and not ok else [],
                "answer_input": None if x is None else [round(float(t), 3) for t in x],
                "best": row(ok[0], 1) if ok else None, "answer_sentence": row(hold[0][1], hold[0][0]) if hold else None,
            }, ensure_ascii=False) + "\n")


def operating_curve(kb: KnowledgeBase, questions: list[dict]) -> dict:
    """The decision's ceiling on the dev set (benchmarks/ceiling.py): the most unanswerable
    questions refused while wrongful refusals stay within target, the fewest wrongful refusals
    while refusals reach target, and the best fact in the answer of any threshold."""
    pos, neg = [], []
    for q in questions:
        answer = str(q.get("answer") or "").lower()
        case = ceiling_case(kb, str(q["question"]), lambda text, a=answer: bool(a) and a in text.lower())
        (pos if q.get("answerable") else neg).append(case)
    if not pos or not neg:
        return {}
    return ceiling_summary(pos, neg, {
        "most refused with wrongful <= 0.08": lambda rows: best(rows, lambda r: r[3] <= 0.08, lambda r: (r[2], r[1])),
        "fewest wrongful with refused >= 0.80": lambda rows: best(rows, lambda r: r[2] >= 0.80, lambda r: (-r[3], r[1])),
        "best fact of any threshold": lambda rows: best(rows, lambda r: True, lambda r: (r[1], r[2])),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="Chroma folder to load into / reuse (default: a temporary one)")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-load", action="store_true", help="ask the store as it is, without loading the missing articles")
    ap.add_argument("--baseline", help="also run a git ref's answer path (e.g. main) on the same store, printed beside")
    ap.add_argument("--dump", help="write each question's signals (best and answer sentence) to this JSON Lines file")
    ap.add_argument("--modes", default=",".join(MODES), help="retrieval modes to run, comma-separated (default: all three)")
    ap.add_argument("--fit-subset", type=int, metavar="N",
                    help="load only the question set's and dev set's articles plus N others drawn at random (seed 2025): "
                         "the fitting store of fit_answering.py (data/bbc-fit: N = 150)")
    ap.add_argument("--questions", metavar="FILE",
                    help="ask these BBC questions instead of the dev set, e.g. benchmarks/questions/newsbot_heldout.jsonl "
                         "(held out like the dev set: never fitted on)")
    args = ap.parse_args()
    questions = load_questions(args.questions or BBC / "dev_qa.jsonl")
    paths = sorted(BBC.glob("*/*.txt"))
    if args.fit_subset is not None:
        paths = fit_subset(paths, questions, args.fit_subset)
    if args.smoke:
        questions = [q for q in questions if q.get("answerable")][:4] + [q for q in questions if not q.get("answerable")][:1]
        wanted = {BBC / q["article"] for q in questions if q.get("article")}
        paths = sorted(wanted) + [p for p in paths if p not in wanted][:25]
    store = args.store or tempfile.mkdtemp(prefix="bbc-bench-")
    kb = KnowledgeBase(CoreConfig(chroma_path=store))
    load = {"loaded_now": 0, "note": "--no-load: the store as it was"} if args.no_load else load_corpus(kb, paths)
    if args.dump:
        dump_signals(kb, questions, Path(args.dump))
    rows, ceilings = {}, {}
    baseline = {}
    if args.baseline:  # the answer path of another commit, on this very store and machine
        from ask_latency import import_baseline

        tmp_base = tempfile.TemporaryDirectory(prefix="bbc-baseline-")
        pkg = import_baseline(args.baseline, Path(tmp_base.name))
        old = pkg.KnowledgeBase(pkg.CoreConfig(chroma_path=store), embedder=kb.embedder)
        for mode in [m for m in args.modes.split(",") if m in MODES]:
            old.config = replace(old.config, retrieval=mode)
            report = asyncio.run(evaluate(old, questions))
            baseline[mode] = report.summary()
            ceilings[f"{mode}, baseline {args.baseline}"] = ceiling(report)
    for mode in [m for m in args.modes.split(",") if m in MODES]:
        kb.config = replace(kb.config, retrieval=mode)
        report = asyncio.run(evaluate(kb, questions))
        rows[mode] = report.summary()
        ceilings[mode] = ceiling(report)
    print(f"BBC: {len(kb.list())} articles, {kb.store.chunk_count()} chunks, {len(questions)} questions "
          f"({sum(1 for q in questions if not q.get('answerable'))} unanswerable); extractive answers")
    print(f"{'mode':<16}" + "".join(f"{c:>20}" for c in COLUMNS))
    for mode, s in rows.items():
        print(f"{mode:<16}" + "".join(f"{'-' if s[c] is None else s[c]:>20}" for c in COLUMNS))
        if mode in baseline:
            b = baseline[mode]
            print(f"{'  ' + args.baseline:<16}" + "".join(f"{'-' if b.get(c) is None else b[c]:>20}" for c in COLUMNS))
        if not args.smoke and not args.questions:  # the figures before the fitted model are the dev set's
            b = BEFORE[mode]
            print(f"{'  before':<16}" + "".join(f"{b.get(c, '-'):>20}" for c in COLUMNS))
    print(f"{'target':<16}" + "".join(f"{TARGETS.get(c, ''):>20}" for c in COLUMNS))
    for mode, c in ceilings.items():
        print(f"\nwhere the {mode} misses come from (ceiling analysis):")
        for k, v in c.items():
            print(f"  {k:<48}{v:>4}")
    kb.config = replace(kb.config, retrieval="hybrid")
    curve = operating_curve(kb, questions)
    if curve:
        print("\nthe decision's ceiling (hybrid; every answer threshold tried):")
        print("\n".join(show(curve)))
    step = support_step_ms(kb, questions)
    print(f"\nthe support step alone (question analysis, sentence measurements, fitted model, decision): "
          f"median {step['p50']} ms, p95 {step['p95']} ms a question ({step['rounds']} rounds)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "bbc_quality_smoke.json" if args.smoke else (f"bbc_quality_{Path(args.questions).stem}.json" if args.questions else "bbc_quality.json")
    (RESULTS / name).write_text(json.dumps({"load": load, "articles": len(kb.list()), "chunks": kb.store.chunk_count(),
                                            "questions": len(questions), "rows": rows, "baseline": {"ref": args.baseline, "rows": baseline}, "before": BEFORE,
                                            "ceiling": ceilings, "operating_curve": curve, "support_step_ms": step}, indent=2) + "\n")


if __name__ == "__main__":
    main()
