"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Filters (which servers' articles are visible, since when, which outlet) apply to both sides, so a
question in one Discord server never sees another server's articles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .embeddings import Embedder
from .lexical import LexicalIndex
from .models import GLOBAL_SCOPE, Passage
from .store import ArticleStore, StoredChunk, date_number

RRF_K = 60


@dataclass(frozen=True)
class SearchFilter:
    scopes: tuple[str, ...] = (GLOBAL_SCOPE,)
    since: str = ""  # ISO date: only articles published on or after it
    outlet: str = ""  # case-insensitive outlet name

    def chroma_where(self) -> dict:
        clauses: list[dict] = [{"scope": {"$in": list(self.scopes)}}]
        if self.since:
            clauses.append({"published_n": {"$gte": date_number(self.since)}})
        if self.outlet:
            clauses.append({"source": self.outlet})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def mask(self, index: LexicalIndex) -> np.ndarray:
        m = np.isin(index.scope, list(self.scopes))
        if self.since:
            m &= index.published >= date_number(self.since)
        if self.outlet:
            m &= index.source == self.outlet.lower()
        return m


@dataclass(frozen=True)
class Hit:
    stored: StoredChunk
    score: float
    dense_rank: int | None
    lexical_rank: int | None


class Retriever:
    def __init__(self, store: ArticleStore, embedder: Embedder, lexical: LexicalIndex, *, depth: int = 30):
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.depth = depth

    def dense(self, question: str, k: int, flt: SearchFilter, vector: np.ndarray | None = None) -> list[tuple[StoredChunk, float]]:
        vec = self.embedder.embed_query(question) if vector is None else vector
        return self.store.dense_search(vec, k, where=flt.chroma_where())

    def bm25(self, question: str, k: int, flt: SearchFilter) -> list[tuple[StoredChunk, float]]:
        self.lexical.ensure_current()
        return self.lexical.search(question, k, flt.mask(self.lexical))

    def search(self, question: str, k: int = 8, flt: SearchFilter | None = None, *, mode: str = "hybrid",
               vector: np.ndarray | None = None) -> list[Passage]:
        """The `k` best passages for `question`, best first. `mode`: hybrid, dense or bm25;
        `vector`: the question's embedding, if the caller already has it."""
        flt = flt or SearchFilter()
        dense = self.dense(question, self.depth, flt, vector) if mode in ("hybrid", "dense") else []
        lexical = self.bm25(question, self.depth, flt) if mode in ("hybrid", "bm25") else []
        return self.fuse(dense, lexical, k)

    def fuse(self, dense: Sequence[tuple[StoredChunk, float]], lexical: Sequence[tuple[StoredChunk, float]], k: int) -> list[Passage]:
        hits: dict[tuple[str, int], dict] = {}
        for name, ranking in (("dense", dense), ("lexical", lexical)):
            for rank, (sc, _score) in enumerate(ranking, start=1):
                key = (sc.chunk.article_id, sc.chunk.index)
                h = hits.setdefault(key, {"stored": sc, "score": 0.0, "dense": None, "lexical": None})
                h["score"] += 1.0 / (RRF_K + rank)
                h[name] = rank
        ranked = sorted(hits.values(), key=lambda h: h["score"], reverse=True)[:k]
        committed = self.store.committed()
        return [
            Passage(chunk=h["stored"].chunk, article=committed[h["stored"].chunk.article_id], score=h["score"],
                    dense_rank=h["dense"], lexical_rank=h["lexical"], sentences=h["stored"].sentences)
            for h in ranked
            if h["stored"].chunk.article_id in committed
        ]
