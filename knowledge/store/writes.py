"""All-or-nothing writes: storing articles (one or a batch), rewriting an article's facts, and
removing one. Mixed into `ArticleStore`, apart from opening and reading; the steps and why each is
safe with several processes are in the package docstring."""

from __future__ import annotations

import builtins  # `list` is also a method name in ArticleStore
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..chunking import chunk_members
from ..dedup import encode_signature, text_signature
from ..embeddings import pack
from ..errors import NotFoundError, StoreError, StoreUnavailable
from ..models import Article, ArticleInfo, Chunk, Span
from .changes import ChangeKind
from .decisions import DecisionLost, _Decisions
from .records import _article_meta, chunk_id, date_number

log = logging.getLogger(__name__)

# Chunks per upsert in `put_many`: one call costs about the same for 1 or 500 chunks, so the
# batch is as large as memory comfortably allows (Chroma's own limit is about 5,400).
CHUNK_WRITE = 1000


@dataclass(frozen=True)
class Load:
    """One article to store: its chunks and sentence spans, one vector per chunk and (optional)
    one per sentence (see `ArticleStore.put`)."""

    article: Article
    chunks: builtins.list[Chunk]
    sentences: builtins.list[Span]
    vectors: np.ndarray
    sentence_vectors: np.ndarray | None = None


def _chunk_rows(load: Load) -> tuple[builtins.list[str], builtins.list[str], builtins.list[dict[str, Any]]]:
    """The chunk records of a load: ids, documents and metadata."""
    a, chunks, sentences = load.article, load.chunks, load.sentences
    ids, docs, metas = [], [], []
    for c, inside in zip(chunks, chunk_members(chunks, sentences), strict=True):
        spans = ";".join(f"{sentences[i].start - c.start},{sentences[i].end - c.start}" for i in inside)
        ids.append(chunk_id(a.id, a.version, c.index))
        docs.append(c.text)
        metas.append({
            "article_id": a.id, "version": a.version, "index": c.index,
            "start": c.start, "end": c.end, "sentences": spans, "scope": a.scope,
            "source": a.source, "published_n": date_number(a.published),
            "svec": pack(load.sentence_vectors[inside]) if load.sentence_vectors is not None else "",
        })
    return ids, docs, metas


class _Writes(_Decisions):
    """The parts of `ArticleStore` that write articles and their chunks."""

    if TYPE_CHECKING:
        def _changed(self, article_id: str, article: ArticleInfo | None) -> None: ...
        def _changed_all(self, articles: Mapping[str, ArticleInfo | None]) -> None: ...

    def put(self, article: Article, chunks: builtins.list[Chunk], sentences: builtins.list[Span], vectors: np.ndarray,
            sentence_vectors: np.ndarray | None = None, *, force: bool = False, if_version: str | None = None) -> str:
        """Store an article all-or-nothing; returns "loaded", "updated" or "unchanged".

        `sentence_vectors` (one row per sentence span) ride along in each chunk's metadata.
        `if_version`: commit only if the committed version, read just before the commit, is
        still this one (a heal must not undo a revision made meanwhile); else "unchanged".
        When another process commits a revision of the same article at the same moment, the
        later commit wins and the loser's chunks are removed (see the module docstring)."""
        load = Load(article, chunks, sentences, vectors, sentence_vectors)
        return self.put_many([load], force=force, if_version=if_version)[0]

    def put_many(self, loads: Sequence[Load], *, force: bool = False, if_version: str | None = None) -> builtins.list[str]:
        """Store several articles, each all-or-nothing, in a handful of Chroma calls for the
        lot; returns each one's status as `put` does ("loaded", "updated", "unchanged").

        The steps of `put`, each one call for every article at once: the intent records, the
        chunks (CHUNK_WRITE per call), the article records (each article becomes visible with
        its own record, so a crash part-way through leaves whole articles or nothing of one),
        the change records, the intents marked committed, the clean-up (three reads and a
        delete) and the intents deleted. Per article that is 8 calls made once per batch: on
        a loaded 2-core machine each call costs 10-80 ms whatever its size, and the one-article
        path spent 142 s of 171 in them for 291 articles (`benchmarks/ingest_bbc.py`).
        `if_version` (one load only) is `put`'s. The articles' ids must differ."""
        if len({ld.article.id for ld in loads}) != len(loads):
            raise ValueError("put_many: two loads of one article")
        if if_version is not None and len(loads) != 1:
            raise ValueError("put_many: if_version is for one load")
        with self._lock:
            committed = self.committed()
            statuses = ["unchanged"] * len(loads)
            todo = [n for n, ld in enumerate(loads)
                    if force or (old := committed.get(ld.article.id)) is None
                    or old.version != ld.article.version or old.scope != ld.article.scope]
            if not todo:
                return statuses
            rows = {n: _chunk_rows(loads[n]) for n in todo}
            intents = [(self._intent_id(loads[n].article.id, loads[n].article.version), loads[n].article) for n in todo]
            article_ids = [loads[n].article.id for n in todo]

            def write_chunks(which: builtins.list[int]) -> None:
                ids = [i for n in which for i in rows[n][0]]
                docs = [d for n in which for d in rows[n][1]]
                metas = [m for n in which for m in rows[n][2]]
                vecs = np.concatenate([np.asarray(loads[n].vectors, dtype=np.float32) for n in which])
                for s in range(0, len(ids), CHUNK_WRITE):
                    self._renew_all(intents)
                    self._chunks.upsert(ids=ids[s : s + CHUNK_WRITE], documents=docs[s : s + CHUNK_WRITE],
                                        metadatas=metas[s : s + CHUNK_WRITE], embeddings=vecs[s : s + CHUNK_WRITE])

            self.confirm_decision_lock()  # before any write: a holder that lost the lock writes nothing
            try:
                # Intent records first, so recovery after a crash knows what to clean up.
                self._renew_all(intents, first=True)
                write_chunks(todo)
                self._renew_all(intents)
                if if_version is not None and self._committed_version(article_ids[0]) != if_version:
                    self._settle_all(article_ids, exclude={i for i, _ in intents})
                    self._pending.delete(ids=[i for i, _ in intents])
                    self.refresh()
                    return statuses
                # The commit points: one record per article, all in one write.
                self.confirm_decision_lock()
                self._articles.upsert(ids=article_ids, documents=[loads[n].article.text for n in todo],
                                      metadatas=[_article_meta(loads[n].article, len(loads[n].chunks),
                                                               signature=encode_signature(text_signature(loads[n].article.text)))
                                                 for n in todo],
                                      embeddings=[[1.0]] * len(todo))
                self._log_change_all(article_ids, ChangeKind.PUT)
                # Committed: from now on the intents no longer protect these versions' chunks (if a
                # later commit supersedes one, that writer's clean-up must remove them).
                self._renew_all(intents, committed=True)
                winners, _, kept = self._settle_all(article_ids, exclude={i for i, _ in intents})
                # The listing was made after our commits, so nobody removes a chunk of ours counted
                # there unless a later revision won: it counts what is left of each version.
                short = [n for n in todo if (w := winners[loads[n].article.id]) is not None and w.version == loads[n].article.version
                         and kept[(w.id, w.version)] < len(rows[n][0])]
                if short:
                    # Our chunks went while we stalled past the lease: write them again.
                    log.warning("rewrote the chunks of %s: they were removed while the load stalled",
                                ", ".join(loads[n].article.id for n in short))
                    write_chunks(short)
                self._pending.delete(ids=[i for i, _ in intents])
            except (StoreUnavailable, DecisionLost):
                self._abandon_all(article_ids, [i for i, _ in intents])
                raise
            except Exception as exc:
                self._abandon_all(article_ids, [i for i, _ in intents])
                raise StoreError(f"Writing to the article store failed ({exc.__class__.__name__}); nothing was half-loaded.") from exc
            self._changed_all(winners)
            for n in todo:
                statuses[n] = "updated" if committed.get(loads[n].article.id) is not None else "loaded"
            return statuses

    def update_metadata(self, article: ArticleInfo) -> None:
        """Rewrite an article record's facts only (e.g. a new outlet carrying the same story);
        its text and signature stay as stored."""
        with self._lock:
            got = self._articles.get(ids=[article.id], include=["metadatas"])
            if not got["ids"]:
                raise NotFoundError(f"No article with id {article.id!r}.")
            meta = got["metadatas"][0] or {}
            if meta.get("version") != article.version:
                self.refresh()  # revised meanwhile by another process: keep its version
                return
            n = int(meta.get("n_chunks", 0))
            self.confirm_decision_lock()
            # `update`, not `upsert`: the stored text is kept, and a record removed meanwhile is
            # not brought back.
            self._articles.update(ids=[article.id], metadatas=[_article_meta(article, n)])
            self._log_change(article.id, ChangeKind.METADATA)
            self._changed(article.id, article)

    def remove(self, article_id: str) -> ArticleInfo:
        with self._lock:
            art = self.committed().get(article_id)
            if art is None:
                raise NotFoundError(f"No article with id {article_id!r}; `list` shows the ids.")
            self.confirm_decision_lock()
            self._articles.delete(ids=[article_id])  # uncommit first: its chunks vanish at once
            winner, _ = self._settle(article_id)
            self._log_change(article_id, ChangeKind.REMOVE)
            self._changed(article_id, winner)
            return art
