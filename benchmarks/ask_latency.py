"""`ask` latency in process, two versions of the answer path side by side on one store.

The answer path changes with the answering model (question analysis, sentence measurements, the
fitted model, the decision), so its cost is measured against the version it replaces in the same
run: the baseline is the `knowledge/` package of a git ref (default `main`), unpacked with
`git archive` into a temporary folder and imported under another name, so both versions live in
one process and read one store. Each version embeds questions with its own package's model code
(the same model file), so a change to how a question is embedded is measured too. Rounds
alternate which version goes first (the machine is shared and noisy); every round's median is
printed, then the median of all asks per version. The two versions' first-round answers are
compared (text, outcome, citations, and the passages with their fused scores and ranks), and the
questions whose answers differ are listed: a change meant only to be faster must list none.

    python benchmarks/ask_latency.py --store data/bbc-full --baseline main --rounds 5
    python benchmarks/ask_latency.py --smoke     # a few articles and questions, baseline HEAD (CI)

The questions are the BBC dev set's (../shared/bench/bbc/dev_qa.jsonl); extractive answers.
Writes benchmarks/results/ask_latency.json (ask_latency_smoke.json).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from knowledge import CoreConfig, KnowledgeBase  # noqa: E402
from knowledge.evaluation import load_questions  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
BASELINE_PACKAGE = "knowledge_baseline"
TARGET_MS = 20.0  # issue 11: median ask at 1x BBC, in process


def import_baseline(ref: str, into: Path) -> ModuleType:
    """The `knowledge/` package at `ref`, importable as BASELINE_PACKAGE. Its shipped weights are
    read from its own data folder (the package reads them as "knowledge" package data)."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "knowledge"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    (into / "knowledge").rename(into / BASELINE_PACKAGE)
    sys.path.insert(0, str(into))
    pkg = importlib.import_module(BASELINE_PACKAGE)
    ans = importlib.import_module(f"{BASELINE_PACKAGE}.answerability")
    data = into / BASELINE_PACKAGE / "data" / ans.WEIGHTS_FILE

    @functools.lru_cache(maxsize=1)
    def model():  # type: ignore[no-untyped-def]
        return ans.AnsweringModel.from_dict(json.loads(data.read_text(encoding="utf-8")))

    for name in list(sys.modules):
        mod = sys.modules[name]
        if name.startswith(BASELINE_PACKAGE) and getattr(mod, "model", None) is ans.model:
            mod.model = model  # type: ignore[attr-defined]
    return pkg


def answer_key(answer) -> tuple:  # type: ignore[no-untyped-def]
    """What must not change between the versions: the text, the outcome, every citation and
    every passage the answer was written from, with its fused score and ranks."""
    return (answer.text, str(getattr(answer.outcome, "value", answer.outcome)),
            tuple((c.article_id, c.start, c.end, c.quote) for c in answer.citations),
            tuple((p.chunk.article_id, p.chunk.index, round(p.score, 12), p.dense_rank, p.lexical_rank) for p in answer.passages))


async def one_round(kb, questions: list[str], answers: dict[str, tuple] | None = None) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for q in questions:
        t = time.perf_counter()
        answer = await kb.ask(q)
        times.append(1000 * (time.perf_counter() - t))
        if answers is not None:
            answers[q] = answer_key(answer)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a store holding the BBC corpus (default with --smoke: a small temporary one)")
    ap.add_argument("--baseline", default="main", help="git ref whose answer path is the baseline (default: main)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    questions = [str(q["question"]) for q in load_questions(BBC / "dev_qa.jsonl")]
    tmp = tempfile.TemporaryDirectory(prefix="ask-latency-")
    if args.smoke:
        args.baseline, args.rounds, questions = "HEAD", 2, questions[:4]
    if args.store is None:
        if not args.smoke:
            sys.exit("--store is needed (a store holding the BBC corpus; bbc_quality.py builds one)")
        from bbc_quality import load_corpus

        args.store = f"{tmp.name}/store"
        kb0 = KnowledgeBase(CoreConfig(chroma_path=args.store))
        load_corpus(kb0, sorted(BBC.glob("business/*.txt"))[:8])
    new = KnowledgeBase(CoreConfig(chroma_path=args.store))
    kbs = {}
    try:
        base_pkg = import_baseline(args.baseline, Path(tmp.name))
        kbs[f"baseline ({args.baseline})"] = base_pkg.KnowledgeBase(base_pkg.CoreConfig(chroma_path=args.store))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:  # not a git checkout, or no such ref
        print(f"(no baseline: git archive {args.baseline} failed: {exc}; this tree alone)")
    kbs["this tree"] = new
    articles = len(new.list())

    answers: dict[str, dict[str, tuple]] = {name: {} for name in kbs}

    async def run() -> dict[str, list[list[float]]]:
        for kb in kbs.values():  # warm: model, caches, the store's first reads
            await one_round(kb, questions[:5])
        got: dict[str, list[list[float]]] = {name: [] for name in kbs}
        names = list(kbs)
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                got[name].append(await one_round(kbs[name], questions, answers[name] if r == 0 else None))
        return got

    got = asyncio.run(run())
    differing = [q for q in questions if len({a[q] for a in answers.values()}) > 1]
    print(f"ask latency in process: {articles} articles, {len(questions)} dev questions a round, extractive; "
          f"rounds alternate which version goes first; ms")
    print(f"{'version':<24}" + "".join(f"{'round ' + str(r + 1):>10}" for r in range(args.rounds)) + f"{'median':>10}{'p95':>10}")
    out = {}
    for name, rounds in got.items():
        flat = sorted(t for r in rounds for t in r)
        med, p95 = statistics.median(flat), flat[int(0.95 * (len(flat) - 1))]
        per = [round(statistics.median(r), 1) for r in rounds]
        print(f"{name:<24}" + "".join(f"{m:>10}" for m in per) + f"{med:>10.1f}{p95:>10.1f}")
        out[name] = {"round_medians_ms": per, "median_ms": round(med, 1), "p95_ms": round(p95, 1)}
    print(f"{'target':<24}{'':>{10 * args.rounds}}{'<= ' + str(TARGET_MS):>10}")
    if len(kbs) > 1:
        print(f"answers differing between the versions (text, outcome, citations, passages with scores): "
              f"{len(differing)} of {len(questions)}" + "".join(f"\n  {q}" for q in differing))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "ask_latency_smoke.json" if args.smoke else "ask_latency.json"
    (RESULTS / name).write_text(json.dumps({"store": "temporary" if args.smoke else args.store, "articles": articles,
                                            "questions": len(questions), "rounds": args.rounds, "baseline": args.baseline,
                                            "versions": out, "answers_differing": len(differing) if len(kbs) > 1 else None},
                                           indent=1) + "\n")
    tmp.cleanup()


if __name__ == "__main__":
    main()
