"""Loading articles into the store: reading a source, deciding what a load does (new,
revision, unchanged, a copy of a stored story), embedding, and writing all or nothing, one
article (`ingest`) or a batch (`ingest_many`). Mixed into `KnowledgeBase` (`_Ingesting`); the
CLI, `/articles add`, feeds and the folder sync all load through it.
"""

from __future__ import annotations

import builtins  # `list` is also a method name in this module's classes
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from .chunking import chunk_article, chunk_members
from .dedup import THRESHOLD as DUPLICATE_THRESHOLD
from .dedup import as_revision, find_duplicates, jaccard, merged, rank_key, shingles
from .embeddings import Embedder, pool_chunks
from .errors import InputError, KnowledgeError, LimitError, NotFoundError, StoreError
from .models import GLOBAL_SCOPE, Article, ArticleInfo, Chunk, Span
from .sources import Source, read
from .store import TAKEOVERS, ArticleStore, Load, Record, RecordTable

if TYPE_CHECKING:
    from .base import CoreConfig

log = logging.getLogger(__name__)


class IngestStatus(str, Enum):
    """What storing an article does (or, from `plan`, would do); see `KnowledgeBase.ingest`.
    A `str` too, so logs, JSON and counters read "loaded", "updated", …"""

    LOADED = "loaded"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class IngestResult:
    status: IngestStatus
    article: Article  # what is (from `plan`: would be) stored; for DUPLICATE the stored story
    added_outlet: str = ""  # DUPLICATE: the outlet added to the stored story ("" if listed already)
    replaced: tuple[str, ...] = ()  # DUPLICATE: stored copies this one ranks before and takes over from


@dataclass(frozen=True)
class _Prepared:
    """An article's chunks, sentences and vectors, computed before the store-wide decision lock
    is taken (embedding is the slow part; only the decision and the write are serialised)."""

    article_id: str
    text: str
    chunks: list[Chunk]
    sentences: list[Span]
    vectors: np.ndarray
    sentence_vectors: np.ndarray

    def fits(self, article: Article) -> bool:
        return article.id == self.article_id and article.text == self.text


# `load_many` stores this many articles per `put_many` (or fewer, past INGEST_BATCH_CHARS of
# text): one batch makes the same 8 Chroma calls one article did.
INGEST_BATCH = 32
INGEST_BATCH_CHARS = 1_000_000


def _depends_on(article: Article, mine: frozenset[int], waiting: Sequence[tuple[ArticleInfo, frozenset[int]]],
                committed: Mapping[str, ArticleInfo], per_scope: int) -> bool:
    """Whether deciding `article` (whose shingles are `mine`) could depend on articles not yet
    written (`waiting`, with their shingles): the same id, a near-copy of one in the same scope
    (`dedup.THRESHOLD`), or its scope's article limit in reach once they are stored."""
    if not waiting:
        return False
    if any(a.id == article.id for a, _ in waiting):
        return True
    same_scope = [sh for a, sh in waiting if a.scope == article.scope]
    if same_scope and article.scope != GLOBAL_SCOPE:
        stored = sum(1 for a in committed.values() if a.scope == article.scope)
        if stored + len(same_scope) >= per_scope:
            return True
    return any(jaccard(mine, sh) >= DUPLICATE_THRESHOLD for sh in same_scope)


class _Ingesting:
    """The loading half of `KnowledgeBase`."""

    config: CoreConfig
    store: ArticleStore
    embedder: Embedder
    _ingest_lock: threading.RLock

    def plan(self, article: Article) -> IngestResult:
        """What `ingest(article)` would do, without writing anything (the preview before a
        Confirm): the same decision `ingest` makes, and the same errors (`LimitError`)."""
        if len(article.text) > self.config.max_article_chars:
            raise LimitError(f"“{article.title}” has {len(article.text):,} characters; the limit is {self.config.max_article_chars:,} (MAX_ARTICLE_CHARS).")
        existing = self.store.committed().get(article.id)
        if existing is not None and existing.version == article.version and existing.scope == article.scope:
            # the same version is the same title and text: the stored facts with the text in hand
            return IngestResult(IngestStatus.UNCHANGED, existing.with_text(article.text))
        if existing is not None:
            return IngestResult(IngestStatus.UPDATED, as_revision(existing, article))
        twins = find_duplicates(self.store, article)
        if twins:
            # One copy per story whatever the load order: the copy that ranks first is kept
            # (`dedup.rank_key`); a later-loaded copy that ranks first takes the story over.
            added = article.source if article.source and not any(article.source in t.outlets for t in twins) else ""
            if rank_key(article) < rank_key(twins[0]):
                return IngestResult(IngestStatus.DUPLICATE, merged(article, twins), added_outlet=added, replaced=tuple(t.id for t in twins))
            return IngestResult(IngestStatus.DUPLICATE, merged(twins[0], [article]), added_outlet=added)
        if article.scope != GLOBAL_SCOPE:
            count = sum(1 for a in self.store.committed().values() if a.scope == article.scope)
            if count >= self.config.max_articles_per_scope:
                raise LimitError(f"This server already has {count:,} article{'s' * (count != 1)}, the most allowed (MAX_ARTICLES_PER_SERVER). Remove some first.")
        return IngestResult(IngestStatus.LOADED, article)

    def ingest(self, article: Article) -> IngestResult:
        """Chunk, embed and store one article, all or nothing, as `plan` decides. The status says
        what happened:

        - LOADED: a new article;
        - UNCHANGED: this id and text are already stored (nothing is done);
        - UPDATED: this id with new text: the new version replaces the old one in one step,
          keeping its first publication date, with `updated` set (see `dedup.as_revision`);
        - DUPLICATE: nearly the same text is already stored in this scope under another id
          (the same wire story from another outlet): no copy is made, the outlet is added to
          the stored article's `outlets`, and the result's article is that stored one. When
          the new copy ranks before the stored one (`dedup.rank_key`) it takes over: it is
          stored with every copy's outlets and the copies it ranks before are removed
          (`replaced`), so the same files give the same store in any order.

        Embedding happens first, outside any lock. The decision and the write then run under the
        store-wide decision lock (`ArticleStore.decision_lock`: one process and one thread at a
        time, across every process sharing the store), after catching up with other processes'
        changes, so two processes loading copies of one story at once store one of them.
        """
        first = self.plan(article)  # raises LimitError before any work; says whether to embed
        prepared = self._prepare(first.article) if first.status in (IngestStatus.LOADED, IngestStatus.UPDATED) or first.replaced else None
        with self._ingest_lock, self.store.decision_lock():
            planned = self.plan(article)
            if planned.status is IngestStatus.UNCHANGED:
                self._finish_takeovers()
                return planned
            if planned.status is IngestStatus.DUPLICATE:
                if planned.replaced:
                    # Recorded first, so that a takeover killed between its writes is finished by
                    # the next load (`_finish_takeovers`).
                    self._takeovers.put(Record(planned.article.id, "", {"replaces": "\n".join(planned.replaced)}))
                    self._write(planned.article, prepared)
                elif planned.article.info != self.store.committed().get(planned.article.id):
                    self.store.update_metadata(planned.article)
                self._settle_group(planned.article)
                if planned.replaced:
                    self._takeovers.delete(planned.article.id)
                return planned
            # LOADED or UPDATED; the store says which it did (another process may have got there first)
            return replace(planned, status=IngestStatus(self._write(planned.article, prepared)))

    @property
    def _takeovers(self) -> RecordTable:
        """Takeovers in progress: a copy that ranks first, by id, and the copies it replaces."""
        held = self.__dict__.get("_takeover_table")
        if held is None or held[0] is not self.store:
            held = self.__dict__["_takeover_table"] = (self.store, self.store.records(TAKEOVERS))
        return held[1]

    def _finish_takeovers(self) -> None:
        """Finish the takeovers a killed load left half-done (the new copy stored, the old one not
        yet removed). One small read when there are none, which is nearly always: settling a
        group needs the duplicate index, whose first build shingles every stored article (3.4 s
        of a 4.8 s `ask` start at 1× BBC when the unchanged shipped article paid for it on every
        start). Under the decision lock."""
        for rec in self._takeovers.all():
            story = self.store.committed().get(rec.id)
            if story is not None:  # else killed before its commit: nothing of it is visible
                self._settle_group(story)
            self._takeovers.delete(rec.id)

    def _settle_group(self, story: ArticleInfo) -> None:
        """Leave one stored copy of `story`: the one that ranks first (`dedup.rank_key`), with
        every copy's outlets. Normally there is one already; two remain when a takeover was
        killed between storing the new copy and removing the old one. Under the decision lock."""
        try:
            current = self.store.get(story.id)  # with its text: its copies are found by it
        except NotFoundError:
            return
        twins = find_duplicates(self.store, current)
        if not twins:
            return
        group = [current, *twins]
        winner = min(group, key=rank_key)
        losers = [a for a in group if a.id != winner.id]
        record = merged(winner, losers)
        if record != winner:
            self.store.update_metadata(record)
        for a in losers:
            with contextlib.suppress(NotFoundError):  # removed meanwhile (`remove` takes no decision lock)
                self.store.remove(a.id)
            log.info("%s is the same story as %s, which ranks first: removed", a.id, winner.id)

    def ingest_many(self, articles: Sequence[Article]) -> builtins.list[IngestResult | KnowledgeError]:
        """`ingest` for each article, in order, with what `ingest` would return or raise for it;
        the new articles and revisions among them are stored together in one `put_many`.

        Each article is still stored all or nothing and decided as `ingest` decides it, against
        the store as it would be after the articles before it: one that could depend on an
        article still waiting in the batch (the same id, a near-copy of it in its scope, or its
        scope's article limit in reach) has the batch written first. Duplicates and unchanged
        articles take `ingest` itself. The batch is embedded before the lock is taken."""
        results: builtins.list[IngestResult | KnowledgeError | None] = [None] * len(articles)
        to_embed: dict[int, Article] = {}
        for n, article in enumerate(articles):
            try:
                first = self.plan(article)
            except KnowledgeError as exc:
                results[n] = exc
                continue
            if first.status in (IngestStatus.LOADED, IngestStatus.UPDATED):
                to_embed[n] = first.article
        prepared = self._prepare_all(to_embed)
        # Decided and written under the store-wide decision lock, as `ingest` is (one batch per
        # hold, so other processes wait for at most one batch).
        try:
            with self._ingest_lock, self.store.decision_lock():
                batch: builtins.list[tuple[int, IngestResult, _Prepared]] = []
                waiting: builtins.list[tuple[ArticleInfo, frozenset[int]]] = []  # the batch's articles, with their shingles
                for n, article in enumerate(articles):
                    if results[n] is not None:
                        continue
                    try:
                        mine = shingles(article.text)
                        if _depends_on(article, mine, waiting, self.store.committed(), self.config.max_articles_per_scope):
                            self._write_batch(batch, results)
                            waiting.clear()
                        planned = self.plan(article)
                        if planned.status not in (IngestStatus.LOADED, IngestStatus.UPDATED):
                            results[n] = self.ingest(article)
                            continue
                        ready = prepared.get(n)
                        if not (isinstance(ready, _Prepared) and ready.fits(planned.article)):
                            ready = self._prepare_all({n: planned.article})[n]
                        if isinstance(ready, KnowledgeError):
                            results[n] = ready
                            continue
                        batch.append((n, planned, ready))
                        # a revision keeps the given text (`as_revision`): its shingles are `mine`
                        waiting.append((planned.article, mine if planned.article.text == article.text else shingles(planned.article.text)))
                    except KnowledgeError as exc:
                        results[n] = exc
                self._write_batch(batch, results)
        except KnowledgeError as exc:  # the lock itself failed (a store server gone): every article not yet done
            results = [r if r is not None else exc for r in results]
        return [r if r is not None else KnowledgeError("Nothing was done.") for r in results]

    def load_many(self, sources: Iterable[Source], scope: str = GLOBAL_SCOPE, *, outlet: str = "",
                  batch: int = INGEST_BATCH) -> Iterator[tuple[Source, IngestResult | KnowledgeError]]:
        """Read and store each source (`load` for many), `batch` articles to an `ingest_many`;
        yields each source with its result, or the error that failed it, in order."""
        group: builtins.list[tuple[Source, Article | KnowledgeError]] = []
        chars = 0

        def flush() -> Iterator[tuple[Source, IngestResult | KnowledgeError]]:
            arts = [a for _, a in group if isinstance(a, Article)]
            done = iter(self.ingest_many(arts))
            for src, a in group:
                yield src, next(done) if isinstance(a, Article) else a
            group.clear()

        for src in sources:
            try:
                art: Article | KnowledgeError = self.read(src, scope, outlet=outlet)
            except KnowledgeError as exc:
                art = exc
            group.append((src, art))
            chars += len(art.text) if isinstance(art, Article) else 0
            if len(group) >= batch or chars >= INGEST_BATCH_CHARS:
                yield from flush()
                chars = 0
        yield from flush()

    def _prepare_all(self, articles: Mapping[int, Article]) -> dict[int, _Prepared | KnowledgeError]:
        """Chunk and embed each article (its error instead where it has nothing to index or the
        model fails on it).

        One embedding call per article: one call for a whole batch's sentences (sorted by
        length across articles) grew onnxruntime's memory arena by 65 MB on a single call,
        and the 300-article load peaked at 530 MB against 373 MB one article at a time."""
        out: dict[int, _Prepared | KnowledgeError] = {}
        for n, a in articles.items():
            try:
                out[n] = self._prepare(a)
            except KnowledgeError as exc:
                out[n] = exc
        return out

    def _write_batch(self, batch: builtins.list[tuple[int, IngestResult, _Prepared]],
                     results: builtins.list[IngestResult | KnowledgeError | None]) -> None:
        """Store the waiting articles in one `put_many`; if the store refuses the lot, each one
        alone, so one article's trouble fails it alone. Empties `batch`."""
        if not batch:
            return
        loads = [Load(planned.article, p.chunks, p.sentences, p.vectors, p.sentence_vectors) for _, planned, p in batch]
        try:
            statuses = self.store.put_many(loads)
        except StoreError:
            for (n, planned, _), load in zip(batch, loads, strict=True):
                try:
                    results[n] = replace(planned, status=IngestStatus(self.store.put_many([load])[0]))
                except KnowledgeError as exc:
                    results[n] = exc
        else:
            for (n, planned, _), status in zip(batch, statuses, strict=True):
                results[n] = replace(planned, status=IngestStatus(status))
        batch.clear()

    def read(self, source: Source, scope: str = GLOBAL_SCOPE, *, outlet: str = "") -> Article:
        """The article in `source` (a web address, a `Path`, an `Upload` or `Pasted` text), for
        `scope`, not yet stored, fetched under this base's fetch policy (blocking). Preview it
        with `plan`, store it with `ingest`."""
        return read(source, scope=scope, policy=self.config.fetch, outlet=outlet)

    def load(self, source: Source, scope: str = GLOBAL_SCOPE, *, outlet: str = "") -> IngestResult:
        """Read `source` and store its article: `ingest(read(source, scope))` (blocking)."""
        return self.ingest(self.read(source, scope, outlet=outlet))

    def _index(self, article: Article, *, force: bool = False, if_version: str | None = None) -> str:
        """Chunk and embed an article and write it to the store (the store's status)."""
        return self._write(article, None, force=force, if_version=if_version)

    def _prepare(self, article: Article) -> _Prepared:
        """An article's chunks and vectors (the slow part of a load)."""
        chunks, sentences = chunk_article(article.id, article.text, max_words=self.config.chunk_words)
        if not chunks:
            raise InputError(f"“{article.title}” has no sentences to index.")
        sentence_vectors = self.embedder.embed_documents([article.text[s.start : s.end] for s in sentences])
        vectors = pool_chunks(chunk_members(chunks, sentences), sentence_vectors)
        return _Prepared(article.id, article.text, chunks, sentences, vectors, sentence_vectors)

    def _write(self, article: Article, prepared: _Prepared | None, *, force: bool = False, if_version: str | None = None) -> str:
        """Write an article with its chunks (embedded now unless `prepared` fits it)."""
        p = prepared if prepared is not None and prepared.fits(article) else self._prepare(article)
        return self.store.put(article, p.chunks, p.sentences, p.vectors, p.sentence_vectors, force=force, if_version=if_version)
