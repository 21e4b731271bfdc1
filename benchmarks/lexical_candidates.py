"""Lexical index candidates side by side on the BBC dev set: tantivy, SQLite FTS5, bm25s.

"tantivy" is `knowledge.lexical.LexicalIndex` itself, the index the product uses. Two FTS5 queries
run over one index file of `benchmarks/lexical_fts5.py` (the index before it): "fts5" is its pruned
query (the rarer terms choose 200 candidates, every term re-scores them in Python), "fts5-or" the
OR of every term that FTS5 ranks alone. "bm25s" is the in-memory index before both.

Each candidate indexes the same chunks (the stems of title and text, as `knowledge.lexical`
writes them) of a store holding the BBC corpus, and answers the 60 dev questions alone ("bm25")
and fused with the same dense ranking ("hybrid", `Retriever.search`). Reported per candidate:
hit@1 and MRR@10 of the right article (as `knowledge.evaluation` counts them), query latency
p50/p95 over alternating rounds, the time to index the whole store, and the cost of one more
article once the index exists (bm25s cannot add documents: its figure is a rebuild).

    python benchmarks/lexical_candidates.py --store data/bbc --rounds 3
    python benchmarks/lexical_candidates.py --corpus --rounds 3   # BM25 alone, no store needed
    python benchmarks/lexical_candidates.py --corpus --copies 10  # 10 copies of each chunk (10x, 50x)
    python benchmarks/lexical_candidates.py --smoke        # 30 articles, 5 questions (CI)

`--corpus` chunks the 2,225 BBC files itself (no embedding, no duplicate merging, so a few more
chunks than a store holds) and compares the candidates on BM25 alone, adding how often each
one's top 30 is the same list, in the same order, as bm25s's and as fts5-or's (what fusion
would see). `--copies N` indexes every chunk N times (as N articles; bm25s only up to 10, its
index of 50 copies would not fit in memory beside the others).

bm25s is only needed here (`pip install -e '.[bench]'`); if missing it is skipped.
The store is only read. Writes benchmarks/results/lexical_candidates.json (…_smoke.json).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge import CoreConfig, KnowledgeBase, SearchFilter  # noqa: E402
from knowledge.evaluation import load_questions, matches  # noqa: E402
from knowledge.lexical import LexicalIndex, body_of  # noqa: E402
from knowledge.models import Article  # noqa: E402
from knowledge.retrieval import Retriever  # noqa: E402
from knowledge.store import StoredChunk  # noqa: E402
from knowledge.textstats import content_stems  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from lexical_fts5 import LexicalIndex as Fts5Index  # noqa: E402
from lexical_fts5 import _filter_sql  # noqa: E402

BBC = ROOT.parent / "shared" / "bench" / "bbc"
RESULTS = ROOT / "benchmarks" / "results"
DEPTH = 30


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


class Bm25sMemory:
    """Today's index before this change: bm25s (Lucene BM25) over every chunk, in memory."""

    name = "bm25s"

    def __init__(self, chunks: list[StoredChunk], titles: dict[str, str]) -> None:
        import bm25s

        self.chunks = chunks
        self.vocab: dict[str, int] = {}
        ids = [[self.vocab.setdefault(s, len(self.vocab)) for s in body_of(titles[c.chunk.article_id], c.chunk.text).split()] for c in chunks]
        counts = Counter(i for doc in ids for i in set(doc))
        names = {v: k for k, v in self.vocab.items()}
        self.df = {names[i]: n for i, n in counts.items()}
        self.bm25 = bm25s.BM25()
        self.bm25.index(ids, show_progress=False)

    def ensure_current(self) -> None:
        pass

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        import numpy as np

        q = [self.vocab[s] for s in dict.fromkeys(content_stems(question)) if s in self.vocab]
        if not q:
            return []
        scores = self.bm25.get_scores(q)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunks[i], float(scores[i])) for i in top if scores[i] > 0]

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return {t: self.df[t] for t in terms if t in self.df}

    def size(self) -> int:
        return len(self.chunks)


class Fts5OrQuery:
    """The FTS5 query before pruning, on the same index file: FTS5 ranks every chunk holding any term."""

    name = "fts5-or"

    def __init__(self, index: Fts5Index) -> None:
        self.index = index

    def ensure_current(self) -> None:
        self.index.ensure_current()

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        self.index.ensure_current()
        terms = list(dict.fromkeys(content_stems(question)))
        if not terms or k <= 0:
            return []
        return self.index._search_every_term(terms, k, *_filter_sql(flt))

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        return self.index.document_frequencies(terms)

    def size(self) -> int:
        return self.index.size()


def lexical_quality(cand: object, questions: list[dict], arts: dict) -> dict:
    """hit@1 / MRR@10 of the candidate alone, without the store (for --corpus)."""
    hit1, rr, n = 0, 0.0, 0
    for q in questions:
        if not q.get("article"):
            continue
        n += 1
        ranked = cand.search(" ".join(q["question"].split()), 10, None)  # type: ignore[attr-defined]
        rank = next((i for i, (sc, _) in enumerate(ranked, start=1)
                     if matches(arts[sc.chunk.article_id.split("~")[0]], q["article"])), None)  # a copy counts as its article
        hit1 += rank == 1
        rr += 1 / rank if rank else 0.0
    return {"hit@1": round(hit1 / max(1, n), 4), "mrr@10": round(rr / max(1, n), 4)}


class _NoChanges:
    """Stands in for a store's change log in --corpus mode: the index is written directly."""

    def since(self, cursor: int) -> tuple[list, int]:
        return [], cursor


class _CorpusStore:
    model_name = "corpus"
    revision = 0
    changes = _NoChanges()

    def identity(self) -> str:
        return "corpus"


def tantivy_from(chunks_by_article: dict[str, tuple[Article, list[StoredChunk]]], folder: Path) -> LexicalIndex:
    """`knowledge.lexical`'s index over these articles, written directly (no store to follow)."""
    index = LexicalIndex(_CorpusStore(), folder, poll_seconds=1e9)  # type: ignore[arg-type]
    index._open_index()
    items = list(chunks_by_article.items())
    for s in range(0, len(items), 2000):
        index._commit([(aid, art, cs) for aid, (art, cs) in items[s : s + 2000]], 1, "corpus")
    index._opened = True
    return index


def timed_rounds(cands: dict[str, object], qtexts: list[str], rounds: int, flt: SearchFilter | None) -> tuple[dict, list]:
    """Every candidate answers every question, alternating question by question, `rounds` times:
    p50/p95 over all rounds and each round's median (ms)."""
    timings: dict[str, list[float]] = {name: [] for name in cands}
    per_round: list[dict[str, float]] = []
    for _ in range(rounds):
        this: dict[str, list[float]] = {name: [] for name in cands}
        for q in qtexts:
            for name, c in cands.items():
                s = time.perf_counter()
                c.search(q, DEPTH, flt)  # type: ignore[attr-defined]
                this[name].append(time.perf_counter() - s)
        per_round.append({n: round(statistics.median(v) * 1000, 3) for n, v in this.items()})
        for n, v in this.items():
            timings[n].extend(v)
    summary = {name: {"p50": round(statistics.median(v) * 1000, 3), "p95": round(pct(v, 95) * 1000, 3)} for name, v in timings.items()}
    return summary, per_round


def corpus_chunks(paths: list[Path]) -> tuple[dict, list[StoredChunk]]:
    from dataclasses import replace

    from knowledge.chunking import chunk_article, chunk_members
    from knowledge.loading import load_file
    from knowledge.models import Span

    arts, chunks = {}, []
    for p in paths:
        a = load_file(p, source="BBC News")
        a = replace(a, origin=str(p))
        arts[a.id] = a
        cs, sentences = chunk_article(a.id, a.text)
        for c, inside in zip(cs, chunk_members(cs, sentences), strict=True):
            chunks.append(StoredChunk(c, a.version, tuple(Span(sentences[i].start, sentences[i].end) for i in inside)))
    return arts, chunks


def quality(retriever: Retriever, questions: list[dict], mode: str, arts: dict) -> dict:
    hit1, rr, n = 0, 0.0, 0
    for q in questions:
        if not q.get("article"):
            continue
        n += 1
        ranked = retriever.search(" ".join(q["question"].split()), 10, SearchFilter(), mode=mode)
        rank = next((i for i, p in enumerate(ranked, start=1) if matches(arts[p.article.id], q["article"])), None)
        hit1 += rank == 1
        rr += 1 / rank if rank else 0.0
    return {"hit@1": round(hit1 / max(1, n), 4), "mrr@10": round(rr / max(1, n), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a store holding the BBC corpus (only read)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--corpus", action="store_true", help="BM25 alone over the chunked corpus files, no store")
    ap.add_argument("--copies", type=int, default=1, help="with --corpus: index every chunk this many times")
    args = ap.parse_args()
    if args.corpus:
        corpus_main(args.rounds, max(1, args.copies))
        return
    questions = load_questions(BBC / "dev_qa.jsonl")
    work = tempfile.TemporaryDirectory(prefix="lexical-candidates-")
    if args.smoke:
        from knowledge.loading import load_file

        questions = [q for q in questions if q.get("answerable")][:4] + [q for q in questions if not q.get("answerable")][:1]
        wanted = [BBC / q["article"] for q in questions if q.get("article")]
        paths = wanted + [p for p in sorted(BBC.glob("*/*.txt")) if p not in wanted][: 30 - len(wanted)]
        kb = KnowledgeBase(CoreConfig(chroma_path=str(Path(work.name) / "store")))
        for p in paths:
            kb.ingest(load_file(p, source="BBC News"))
        args.rounds = 1
    else:
        if not args.store:
            sys.exit("--store STORE is needed: a store holding the BBC corpus (see bbc_quality.py --store).")
        kb = KnowledgeBase(CoreConfig(chroma_path=args.store, lexical_path=str(Path(work.name) / "unused")))
    store = kb.store
    arts = store.committed()
    # A store still being filled: keep the questions whose article it holds (and the unanswerable).
    held = [q for q in questions if not q.get("article") or any(matches(a, q["article"]) for a in arts.values())]
    if len(held) < len(questions):
        print(f"the store holds the articles of {sum(1 for q in held if q.get('article'))} of "
              f"{sum(1 for q in questions if q.get('article'))} answerable questions: measuring those", flush=True)
    questions = held
    titles = {a.id: a.title for a in arts.values()}
    chunks = [c for per_article in store.chunks_of({a.id: a.version for a in arts.values()}).values() for c in per_article]
    qtexts = [" ".join(q["question"].split()) for q in questions]

    # Build each candidate over the same chunks, and time it.
    cands: dict[str, object] = {}
    build_s: dict[str, float] = {}
    t = time.perf_counter()
    tv = LexicalIndex(store, Path(work.name) / "tantivy")
    tv.open()
    build_s["tantivy"], cands["tantivy"] = time.perf_counter() - t, tv
    t = time.perf_counter()
    fts = Fts5Index(store, Path(work.name) / "fts" / "index.sqlite3")
    fts.open()
    build_s["fts5"], cands["fts5"] = time.perf_counter() - t, fts
    build_s["fts5-or"], cands["fts5-or"] = build_s["fts5"], Fts5OrQuery(fts)
    skipped = []
    if importlib.util.find_spec("bm25s"):
        t = time.perf_counter()
        cands["bm25s"] = Bm25sMemory(chunks, titles)
        build_s["bm25s"] = time.perf_counter() - t
    else:
        skipped.append("bm25s")

    # The cost of one more article once the index exists (the longest BBC article, renamed).
    big = store.get(max(arts.values(), key=lambda a: a.words).id)  # the longest (the committed facts carry no text)
    mine = [c for c in chunks if c.chunk.article_id == big.id]
    add_ms: dict[str, float] = {}
    t = time.perf_counter()
    fts._write(big.id + "~copy", big, mine)
    add_ms["fts5"] = (time.perf_counter() - t) * 1000
    fts._write(big.id + "~copy", None, [])
    add_ms["fts5-or"] = add_ms["fts5"]  # the same file
    t = time.perf_counter()
    tv._commit([(big.id + "~copy", big, mine)], None, None)  # one commit, as a poll that finds one article
    add_ms["tantivy"] = (time.perf_counter() - t) * 1000
    tv._commit([(big.id + "~copy", None, [])], None, None)
    if "bm25s" in cands:
        add_ms["bm25s"] = build_s["bm25s"] * 1000  # no incremental add: a write means a rebuild

    rows: dict[str, dict] = {}
    retrievers = {name: Retriever(store, kb.embedder, c) for name, c in cands.items()}  # type: ignore[arg-type]
    for name, r in retrievers.items():
        rows[name] = {"bm25": quality(r, questions, "bm25", arts), "hybrid": quality(r, questions, "hybrid", arts),
                      "build_s": round(build_s[name], 2), "add_one_article_ms": round(add_ms[name], 1),
                      "chunks": cands[name].size()}  # type: ignore[attr-defined]
    summary, per_round = timed_rounds(cands, qtexts, args.rounds, SearchFilter())
    for name, ms in summary.items():
        rows[name]["query_ms"] = ms

    print(f"{len(arts)} articles, {len(chunks)} chunks, {len(questions)} questions, {args.rounds} rounds alternating; "
          f"load average {os.getloadavg()[0]:.1f}" + (f"; skipped (not installed): {', '.join(skipped)}" if skipped else ""))
    cols = ("bm25 hit@1", "bm25 mrr", "hybrid hit@1", "hybrid mrr", "q p50 ms", "q p95 ms", "build s", "+1 article ms")
    print(f"{'candidate':<10}" + "".join(f"{c:>15}" for c in cols))
    for name, r in rows.items():
        vals = (r["bm25"]["hit@1"], r["bm25"]["mrr@10"], r["hybrid"]["hit@1"], r["hybrid"]["mrr@10"],
                r["query_ms"]["p50"], r["query_ms"]["p95"], r["build_s"], r["add_one_article_ms"])
        print(f"{name:<10}" + "".join(f"{v:>15}" for v in vals))
    for i, pr in enumerate(per_round, start=1):
        print(f"round {i} median ms: " + ", ".join(f"{n} {v}" for n, v in pr.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "lexical_candidates_smoke.json" if args.smoke else "lexical_candidates.json"
    (RESULTS / name).write_text(json.dumps({
        "articles": len(arts), "answerable_questions": sum(1 for q in questions if q.get("article")), "chunks": len(chunks), "questions": len(questions), "rounds": args.rounds,
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "skipped": skipped, "rows": rows, "per_round_p50_ms": per_round,
    }, indent=2) + "\n")
    fts.close()
    tv.close()
    work.cleanup()


def corpus_main(rounds: int, copies: int = 1) -> None:
    from dataclasses import replace

    questions = load_questions(BBC / "dev_qa.jsonl")
    work = tempfile.TemporaryDirectory(prefix="lexical-corpus-", dir=ROOT / ".cache")  # /tmp may be small
    t = time.perf_counter()
    arts, chunks = corpus_chunks(sorted(BBC.glob("*/*.txt")))
    chunk_s = time.perf_counter() - t
    by_article: dict[str, list[StoredChunk]] = {}
    for c in chunks:
        by_article.setdefault(c.chunk.article_id, []).append(c)
    copied = {(aid if k == 0 else f"{aid}~{k}"): (arts[aid], cs) for k in range(copies) for aid, cs in by_article.items()}
    cands: dict[str, object] = {}
    build_s: dict[str, float] = {}
    t = time.perf_counter()  # copy n of an article is article "<id>~n"
    cands["tantivy"] = tantivy_from(copied, Path(work.name) / "tantivy")
    build_s["tantivy"] = time.perf_counter() - t
    t = time.perf_counter()
    fts = Fts5Index(_CorpusStore(), Path(work.name) / "fts.sqlite3")  # type: ignore[arg-type]
    fts._migrate()
    for aid, (art, cs) in copied.items():
        fts._write(aid, art, cs)
    fts._opened = True
    build_s["fts5"], cands["fts5"] = time.perf_counter() - t, fts
    build_s["fts5-or"], cands["fts5-or"] = build_s["fts5"], Fts5OrQuery(fts)
    skipped = []
    if copies <= 10 and importlib.util.find_spec("bm25s"):
        t = time.perf_counter()
        every = [c if aid == c.chunk.article_id else replace(c, chunk=replace(c.chunk, article_id=aid))
                 for aid, (_, cs) in copied.items() for c in cs]
        cands["bm25s"] = Bm25sMemory(every, {aid: art.title for aid, (art, _) in copied.items()})
        build_s["bm25s"] = time.perf_counter() - t
        del every
    else:
        skipped.append("bm25s")
    rows = {name: {"bm25": lexical_quality(c, questions, arts), "build_s": round(build_s[name], 2), "chunks": c.size()}  # type: ignore[attr-defined]
            for name, c in cands.items()}
    qtexts = [" ".join(q["question"].split()) for q in questions]
    for ref in ("bm25s", "fts5-or"):
        if ref in cands:
            key = {q: [(sc.chunk.article_id, sc.chunk.index) for sc, _ in cands[ref].search(q, DEPTH)] for q in qtexts}  # type: ignore[attr-defined]
            for name, c in cands.items():
                got = {q: [(sc.chunk.article_id, sc.chunk.index) for sc, _ in c.search(q, DEPTH)] for q in qtexts}  # type: ignore[attr-defined]
                same = sum(1 for q in qtexts if got[q] == key[q])
                # The same chunks in any order: near-ties order differently (tantivy stores chunk
                # lengths in 256 steps, FTS5's idf has no "1 +"), which an exact list comparison counts.
                shared = statistics.mean(len(set(got[q]) & set(key[q])) / max(1, len(key[q])) for q in qtexts)
                rows[name][f"same_top30_as_{ref.replace('-', '_')}"] = round(same / len(qtexts), 3)
                rows[name][f"top30_overlap_with_{ref.replace('-', '_')}"] = round(shared, 3)
    summary, per_round = timed_rounds(cands, qtexts, rounds, None)
    for name, ms in summary.items():
        rows[name]["query_ms"] = ms
    print(f"corpus: {len(arts)} articles chunked in {chunk_s:.0f} s, {len(chunks)} chunks x {copies} copies, {len(questions)} questions, "
          f"{rounds} rounds alternating; load average {os.getloadavg()[0]:.1f}" + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    print(f"{'candidate':<10}{'hit@1':>8}{'mrr@10':>8}{'=bm25s top30':>14}{'=fts5-or top30':>16}{'∩bm25s':>8}{'∩fts5-or':>9}"
          f"{'q p50 ms':>10}{'q p95 ms':>10}{'build s':>9}")
    for name, r in rows.items():
        print(f"{name:<10}{r['bm25']['hit@1']:>8}{r['bm25']['mrr@10']:>8}{r.get('same_top30_as_bm25s', '-'):>14}"
              f"{r.get('same_top30_as_fts5_or', '-'):>16}{r.get('top30_overlap_with_bm25s', '-'):>8}{r.get('top30_overlap_with_fts5_or', '-'):>9}"
              f"{r['query_ms']['p50']:>10}{r['query_ms']['p95']:>10}{r['build_s']:>9}")
    for i, pr in enumerate(per_round, start=1):
        print(f"round {i} median ms: " + ", ".join(f"{n} {v}" for n, v in pr.items()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "lexical_candidates_corpus.json" if copies == 1 else f"lexical_candidates_corpus_{copies}x.json"
    (RESULTS / name).write_text(json.dumps({
        "articles": len(arts), "chunks": len(chunks), "copies": copies, "indexed_chunks": fts.size(), "questions": len(questions),
        "rounds": rounds, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "skipped": skipped, "rows": rows,
        "per_round_p50_ms": per_round}, indent=2) + "\n")
    fts.close()
    work.cleanup()


if __name__ == "__main__":
    main()
