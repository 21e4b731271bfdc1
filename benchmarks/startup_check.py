"""What a process start pays to check the store (`KnowledgeBase.check_store`: `repair()` and
`reindex_missing()`), on a store of many chunks: the full check (every chunk id, as every start
did before) beside the start-up check (the chunk ids of the articles named in the change log
since the last check; `knowledge/store/checks.py`), in alternating rounds, each after one
article was loaded since the check before.

The store is built with random unit vectors, its chunk and article records written in large
batches straight into the collections as `ArticleStore.put` would leave them (a put per article
took 0.7 s on the loaded machine); the article loaded between checks goes through the real
`put`. No embedding model: the checks read ids only, so the vectors' size does not matter.

    python benchmarks/startup_check.py                      # 5,000 articles x 10 chunks (50,000 chunks)
    python benchmarks/startup_check.py --articles 20000     # 200,000 chunks
    python benchmarks/startup_check.py --smoke              # 200 articles (CI)

Writes benchmarks/results/startup_check.json (startup_check_smoke.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
MODEL, DIM, CHUNKS = "bench-model", 16, 10


class _Counting:
    """A chunk collection that counts the chunk ids its reads return."""

    def __init__(self, collection: Any):
        self._c, self.ids = collection, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)

    def get(self, **kw: Any) -> Any:
        got = self._c.get(**kw)
        self.ids += len(got["ids"])
        return got


def story(n: int, rng: np.random.Generator) -> tuple[Any, list[Any], list[Any], np.ndarray]:
    from knowledge.loading import build_article
    from knowledge.models import Chunk, Span

    sentences = [f"Sentence {i} of story {n} says the figure was {rng.integers(1000)} units." for i in range(CHUNKS)]
    article = build_article(title=f"Story {n}", text=" ".join(sentences), url=f"https://bench.example/{n}")
    chunks, spans, pos = [], [], 0
    for i, s in enumerate(sentences):
        chunks.append(Chunk(article.id, i, pos, pos + len(s), s))
        spans.append(Span(pos, pos + len(s)))
        pos += len(s) + 1
    vectors = rng.normal(size=(CHUNKS, DIM)).astype(np.float32)
    return article, chunks, spans, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def put(store: Any, n: int, rng: np.random.Generator) -> None:
    store.put(*story(n, rng))


def build(store: Any, n_articles: int, rng: np.random.Generator) -> None:
    """Committed articles with all their chunks, written 500 articles at a time."""
    from knowledge.store.records import _article_meta, chunk_id, date_number

    for start in range(0, n_articles, 500):
        arts, ids, docs, metas, vecs = [], [], [], [], []
        for n in range(start, min(start + 500, n_articles)):
            article, chunks, _, vectors = story(n, rng)
            arts.append(article)
            for c in chunks:
                ids.append(chunk_id(article.id, article.version, c.index))
                docs.append(c.text)
                metas.append({"article_id": article.id, "version": article.version, "index": c.index, "start": c.start, "end": c.end,
                              "sentences": f"0,{c.end - c.start}", "scope": article.scope, "source": article.source,
                              "published_n": date_number(article.published), "svec": ""})
            vecs.append(vectors)
        store._chunks.upsert(ids=ids, documents=docs, metadatas=metas, embeddings=np.concatenate(vecs).tolist())
        store._articles.upsert(ids=[a.id for a in arts], documents=[a.text for a in arts],
                               metadatas=[_article_meta(a, CHUNKS) for a in arts], embeddings=[[1.0]] * len(arts))


def check(store: Any, full: bool) -> tuple[float, int]:
    counting = store._chunks = _Counting(store._chunks)
    try:
        started = time.perf_counter()
        store.repair(full)
        _, cursor = store.short_check(full)
        store.record_check("short", cursor)  # nothing to heal: as `reindex_missing` does then
        return time.perf_counter() - started, counting.ids
    finally:
        store._chunks = counting._c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    n_articles, rounds = (200, 2) if args.smoke else (args.articles, args.rounds)
    from knowledge.store import ArticleStore

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = ArticleStore.open_local(Path(tmp) / "store", MODEL)
        started = time.perf_counter()
        build(store, n_articles, rng)
        built_s = time.perf_counter() - started
        check(store, True)  # the first check: every chunk, and the checkpoint
        # the window re-read for writers' clock skew (a minute) is past: as on a later start
        from knowledge.store import changes

        changes.CHANGE_GRACE_US = 0
        time.sleep(0.01)
        check(store, True)
        rows: dict[str, list[tuple[float, int]]] = {"full check": [], "start-up check": []}
        n = n_articles
        for r in range(rounds):
            for name in (("full check", "start-up check") if r % 2 == 0 else ("start-up check", "full check")):
                put(store, n, rng)  # one article loaded since the last check
                n += 1
                rows[name].append(check(store, name == "full check"))
        chunks = store.chunk_count()
    out = {"articles": n, "chunks": chunks, "build_s": round(built_s, 1), "load_average": os.getloadavg()[0],
           "rows": {name: {"seconds": [round(s, 4) for s, _ in got], "median_s": round(statistics.median(s for s, _ in got), 4),
                           "chunk_ids_read": statistics.median(i for _, i in got)} for name, got in rows.items()}}
    out["ratio_full_over_startup"] = round(out["rows"]["full check"]["median_s"] / max(out["rows"]["start-up check"]["median_s"], 1e-9), 1)
    print(f"{chunks:,} chunks in {n:,} articles (built in {built_s:.0f} s), {rounds} rounds alternating")
    print(f"{'check':<16} {'chunk ids read':>15} {'median s':>9}  rounds")
    for name, row in out["rows"].items():
        print(f"{name:<16} {row['chunk_ids_read']:>15,} {row['median_s']:>9}  {row['seconds']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"startup_check{'_smoke' if args.smoke else ''}.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
