"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank.

Filters (which servers' articles are visible, since when, which outlet) apply to both sides, so a
question in one Discord server never sees another server's articles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .embeddings import Embedder
from .errors import FilterError
from .lexical import LexicalSearch
from .models import GLOBAL_SCOPE, ArticleInfo, Passage
from .question import Question
from .store import ArticleStore, StoredChunk, date_number
from .support import Support

# Reciprocal rank fusion, weighted. On the BBC dev questions (2,225 articles) BM25 alone finds
# the right article first 93% of the time and MiniLM chunk vectors 80%; equal weights (k=60)
# gave 87%, these weights 91%: dense ranks break ties and carry paraphrases, BM25 leads.
RRF_K = 10
RRF_WEIGHTS = {"dense": 0.3, "lexical": 1.0}


@dataclass(frozen=True)
class SearchFilter:
    scopes: tuple[str, ...] = (GLOBAL_SCOPE,)
    since: str = ""  # ISO date: only articles published on or after it
    outlet: str = ""  # outlet name as stored (`parse` finds its stored spelling)

    @classmethod
    def parse(cls, *, scopes: Sequence[str] = (GLOBAL_SCOPE,), since: str | None = None, outlet: str | None = None,
              known_outlets: Iterable[str] = ()) -> SearchFilter:
        """A filter from what a person typed, checked: `since` must be a date written YYYY-MM-DD
        and `outlet` one of `known_outlets` whatever its case (it is kept as stored, since
        Chroma's own filter is case-sensitive). Empty options filter nothing. Raises
        `FilterError` naming the bad option. The CLI and Discord both build filters here."""
        return cls(scopes=tuple(scopes), since=parse_since(since), outlet=match_outlet(outlet, known_outlets))

    def chroma_where(self) -> dict[str, object]:
        clauses: list[dict[str, object]] = [{"scope": {"$in": list(self.scopes)}}]
        if self.since:
            clauses.append({"published_n": {"$gte": date_number(self.since)}})
        if self.outlet:
            clauses.append({"source": self.outlet})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def admits(self, article: ArticleInfo) -> bool:
        """The same filter on one article (to filter search results outside Chroma)."""
        return (article.scope in self.scopes
                and (not self.since or date_number(article.published) >= date_number(self.since))
                and (not self.outlet or article.source.lower() == self.outlet.lower()))


def parse_since(value: str | None) -> str:
    """An ISO date (YYYY-MM-DD) from what was typed, "" for nothing; FilterError otherwise."""
    text = (value or "").strip()
    if not text:
        return ""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise FilterError(f"“{text[:40]}” is not a date: write it YYYY-MM-DD, e.g. 2025-01-31.", option="since") from None


def match_outlet(value: str | None, known: Iterable[str]) -> str:
    """The stored spelling of the outlet named `value` (any case), "" for nothing; FilterError
    when no article is from it."""
    name = " ".join((value or "").split())
    if not name:
        return ""
    spelled = {o.casefold(): o for o in known if o}
    if name.casefold() not in spelled:
        raise FilterError(f"No loaded article is from “{name[:80]}”; leave the outlet empty or pick a loaded one.", option="outlet")
    return spelled[name.casefold()]


@dataclass
class Retrieved:
    """What retrieval found for a question: passages best first, and their sentences' support."""

    passages: list[Passage]
    supports: list[Support] = field(default_factory=list)
    question: Question | None = None  # the question taken apart (knowledge/question.py)
    # a question asking several things: each part with its own supports (empty for one ask)
    parts: list[tuple[Question, list[Support]]] = field(default_factory=list)


@dataclass(frozen=True)
class Hit:
    stored: StoredChunk
    score: float
    dense_rank: int | None
    lexical_rank: int | None


@dataclass
class _Hit:
    """One chunk's place in each ranking while they are fused."""

    stored: StoredChunk
    score: float = 0.0
    dense: int | None = None
    lexical: int | None = None


class Retriever:
    def __init__(self, store: ArticleStore, embedder: Embedder, lexical: LexicalSearch, *, depth: int = 30):
        self.store = store
        self.embedder = embedder
        self.lexical = lexical
        self.depth = depth

    def dense(self, question: str, k: int, flt: SearchFilter, vector: np.ndarray | None = None) -> list[tuple[StoredChunk, float]]:
        vec = self.embedder.embed_query(question) if vector is None else vector
        return self.store.dense_search(vec, k, where=flt.chroma_where(), admits=flt.admits)

    def bm25(self, question: str, k: int, flt: SearchFilter) -> list[tuple[StoredChunk, float]]:
        return self.lexical.search(question, k, flt)

    def search(self, question: str, k: int = 8, flt: SearchFilter | None = None, *, mode: str = "hybrid",
               vector: np.ndarray | None = None) -> list[Passage]:
        """The `k` best passages for `question`, best first. `mode`: hybrid, dense or bm25;
        `vector`: the question's embedding, if the caller already has it."""
        flt = flt or SearchFilter()
        dense = self.dense(question, self.depth, flt, vector) if mode in ("hybrid", "dense") else []
        lexical = self.bm25(question, self.depth, flt) if mode in ("hybrid", "bm25") else []
        return self.fuse(dense, lexical, k)

    def fuse(self, dense: Sequence[tuple[StoredChunk, float]], lexical: Sequence[tuple[StoredChunk, float]], k: int) -> list[Passage]:
        hits: dict[tuple[str, int], _Hit] = {}
        for name, ranking in (("dense", dense), ("lexical", lexical)):
            for rank, (sc, _score) in enumerate(ranking, start=1):
                key = (sc.chunk.article_id, sc.chunk.index)
                h = hits.setdefault(key, _Hit(sc))
                h.score += RRF_WEIGHTS[name] / (RRF_K + rank)
                if name == "dense":
                    h.dense = rank
                else:
                    h.lexical = rank
        ranked = sorted(hits.values(), key=lambda h: h.score, reverse=True)[:k]
        committed = self.store.committed()
        # The lexical index and the article cache follow the change log separately: a chunk
        # of a version the cache does not hold (yet, or any more) is left out, never shown
        # against another version's text. The texts are read for these articles only.
        kept = [h for h in ranked if (a := committed.get(h.stored.chunk.article_id)) is not None and a.version == h.stored.version]
        full = self.store.articles([committed[h.stored.chunk.article_id] for h in kept])
        return [
            Passage(chunk=h.stored.chunk, article=full[h.stored.chunk.article_id], score=h.score,
                    dense_rank=h.dense, lexical_rank=h.lexical, sentences=h.stored.sentences)
            for h in kept if h.stored.chunk.article_id in full
        ]
