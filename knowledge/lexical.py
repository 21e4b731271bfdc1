"""The lexical side of retrieval: a BM25 index (bm25s) over every visible chunk, kept in memory.

The index is rebuilt from the store when the store's revision changes (a load or a removal in
this process) and, for a shared Chroma server, when the chunk count seen there changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

import bm25s
import numpy as np

from .store import ArticleStore, StoredChunk, chunk_id
from .textstats import Tokenizer

if TYPE_CHECKING:
    from .retrieval import SearchFilter

log = logging.getLogger(__name__)


class LexicalIndex:
    def __init__(self, store: ArticleStore, *, recheck_seconds: float = 10.0):
        self._store = store
        self._lock = threading.Lock()
        self._revision = -1
        self._count = -1
        self._checked = 0.0
        self._recheck = recheck_seconds
        self.tokenizer = Tokenizer()
        self.df: dict[str, int] = {}
        self.chunks: list[StoredChunk] = []
        self._bm25 = None
        self.scope = np.array([], dtype=object)
        self.published = np.array([], dtype=np.int64)
        self.source = np.array([], dtype=object)
        self.masks: dict[SearchFilter, np.ndarray] = {}  # SearchFilter -> its mask over `chunks` (see SearchFilter.mask)
        self.by_id: dict[str, StoredChunk] = {}  # chunk id -> chunk, so dense hits need no read

    def _stale(self) -> bool:
        if self._revision != self._store.revision:
            return True
        now = time.monotonic()
        if now - self._checked > self._recheck:
            self._checked = now
            if self._store.chunk_count() != self._count:
                self._store.refresh()
                return True
        return False

    def ensure_current(self) -> None:
        with self._lock:
            if not self._stale():
                return
            started = time.perf_counter()
            revision = self._store.revision
            chunks = list(self._store.iter_chunks())
            arts = self._store.committed()
            texts = [f"{arts[c.chunk.article_id].title}\n{c.chunk.text}" for c in chunks]
            self.tokenizer = Tokenizer()
            ids = self.tokenizer.ids_for_index(texts)
            counts = Counter(i for doc in ids for i in set(doc))
            names = {v: k for k, v in self.tokenizer.vocab.items()}
            self.df = {names[i]: n for i, n in counts.items()}
            bm25 = bm25s.BM25()
            if chunks:
                bm25.index(ids, show_progress=False)
            self._bm25 = bm25 if chunks else None
            self.chunks = chunks
            self.scope = np.array([arts[c.chunk.article_id].scope for c in chunks], dtype=object)
            self.source = np.array([arts[c.chunk.article_id].source.lower() for c in chunks], dtype=object)
            self.published = np.array([int(arts[c.chunk.article_id].published.replace("-", "") or 0) for c in chunks], dtype=np.int64)
            self.masks = {}
            self.by_id = {chunk_id(c.chunk.article_id, c.version, c.chunk.index): c for c in chunks}
            self._revision, self._count, self._checked = revision, self._store.chunk_count(), time.monotonic()
            log.info("lexical index: %d chunks in %.2fs", len(chunks), time.perf_counter() - started)

    def search(self, question: str, k: int, mask: np.ndarray | None = None) -> list[tuple[StoredChunk, float]]:
        """The `k` best BM25 matches among chunks where `mask` is true, best first."""
        self.ensure_current()
        if self._bm25 is None:
            return []
        q = self.tokenizer.ids_for_query(question)
        if not q:
            return []
        scores = self._bm25.get_scores(q)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.chunks[i], float(scores[i])) for i in top if scores[i] > 0]
