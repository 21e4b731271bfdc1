"""The knowledge base: the one object the CLI and the Discord layer talk to.

It owns the store, the embedding model, the lexical index and the answerers, and offers loading,
listing, removing and asking. Blocking work (embedding, Chroma) is done in plain methods; `ask`
is a coroutine that runs them in a worker thread (or on the executor it is given) so an event
loop never stalls.

Asking has one path, `ask`, which the CLI, Discord and `eval` all take: check the question,
retrieve, re-rank for recency, score support, answer.
"""

from __future__ import annotations

import asyncio
import builtins  # `list` is also a method name in this module's classes
import contextlib
import functools
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .answering import extractive_answer, refusal
from .chunking import chunk_article, chunk_members
from .dedup import THRESHOLD as DUPLICATE_THRESHOLD
from .dedup import as_revision, find_duplicates, jaccard, merged, rank_key, shingles
from .embeddings import Embedder, MiniLMOnnx, OpenAIEmbedder, pool_chunks
from .errors import InputError, KnowledgeError, LimitError, ModelFailure, NotFoundError, StoreError
from .followup import Turn, as_turns, cited_first, cited_ids, clean_rewrite, retrieval_text
from .lexical import LexicalIndex, default_path
from .llm import LLMAnswerer, LLMConfig
from .loading import load_file
from .models import GLOBAL_SCOPE, Answer, Article, Chunk, Passage, Span
from .question import Question, analyse
from .recency import rerank_for_recency
from .retrieval import Retrieved, Retriever, SearchFilter
from .sources import FetchPolicy, Source, article_files, read
from .store import TAKEOVERS, ArticleStore, Load, Record, RecordTable
from .support import Support, idf_from, score_sentences

if TYPE_CHECKING:
    from .feeds import FeedPoll, FeedRegistry

log = logging.getLogger(__name__)

ARTICLES_DIR = Path(__file__).parent / "articles"


@dataclass(frozen=True)
class CoreConfig:
    chroma_path: str = "data/chroma"
    chroma_host: str = ""
    chroma_port: int = 8000
    chroma_ssl: bool = False
    embedding_backend: str = "local"  # "local" or "openai"
    openai_embedding_model: str = "text-embedding-3-small"
    embedding_threads: int = 0
    llm: LLMConfig | None = None  # None: extractive answers only
    embedding_llm: LLMConfig | None = None  # credentials for OpenAI embeddings
    top_k: int = 8
    retrieval: str = "hybrid"  # "hybrid", "dense" or "bm25" (the latter two for comparisons)
    chunk_words: int = 120
    max_quotes: int = 3
    max_quote_chars: int = 300
    max_question_chars: int = 1000
    max_article_chars: int = 200_000
    max_articles_per_scope: int = 1000
    fetch: FetchPolicy = field(default_factory=FetchPolicy)  # for every web address and upload
    max_feeds_per_scope: int = 20
    lexical_path: str = ""  # folder of the lexical index; "" = inside the embedded store, or data/lexical/


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
class StoreCheck:
    """What `KnowledgeBase.check_store` did."""

    full: bool  # every article checked, not only those changed since the last check
    chunks_removed: int  # chunks of abandoned loads
    reindexed: int  # committed articles that were short of chunks, embedded again


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


def _depends_on(article: Article, waiting: Sequence[tuple[Article, frozenset[int]]], committed: Mapping[str, Article],
                per_scope: int) -> bool:
    """Whether deciding `article` could depend on articles not yet written (`waiting`, with their
    shingles): the same id, a near-copy of one in the same scope (`dedup.THRESHOLD`), or its
    scope's article limit in reach once they are stored."""
    if not waiting:
        return False
    if any(a.id == article.id for a, _ in waiting):
        return True
    same_scope = [sh for a, sh in waiting if a.scope == article.scope]
    if same_scope and article.scope != GLOBAL_SCOPE:
        stored = sum(1 for a in committed.values() if a.scope == article.scope)
        if stored + len(same_scope) >= per_scope:
            return True
    mine = shingles(article.text)
    return any(jaccard(mine, sh) >= DUPLICATE_THRESHOLD for sh in same_scope)


class KnowledgeBase:
    def __init__(self, config: CoreConfig, *, store: ArticleStore | None = None, embedder: Embedder | None = None):
        self.config = config
        self.embedder = embedder or self._make_embedder(config)
        if store is None:
            if config.chroma_host:
                store = ArticleStore.open_server(config.chroma_host, config.chroma_port, self.embedder.name, ssl=config.chroma_ssl)
            else:
                store = ArticleStore.open_local(config.chroma_path, self.embedder.name)
        self.store = store
        self.lexical = LexicalIndex(store, default_path(store, config.lexical_path))
        self.retriever = Retriever(store, self.embedder, self.lexical)
        self.llm = LLMAnswerer(config.llm) if config.llm else None
        self._ingest_lock = threading.RLock()
        self._feeds: FeedRegistry | None = None
        self._feeds_lock = threading.Lock()

    @staticmethod
    def _make_embedder(config: CoreConfig) -> Embedder:
        if config.embedding_backend == "openai":
            llm = config.embedding_llm or config.llm or LLMConfig()
            return OpenAIEmbedder(config.openai_embedding_model, api_key=llm.api_key, base_url=llm.base_url)
        return MiniLMOnnx(threads=config.embedding_threads)

    @property
    def feeds(self) -> FeedRegistry:
        """The feeds followed in this store (opened on first use; blocking then)."""
        with self._feeds_lock:
            if self._feeds is None:
                from .feeds import FeedRegistry  # feedparser loads only when feeds are used

                self._feeds = FeedRegistry(self.store, max_per_scope=self.config.max_feeds_per_scope)
            return self._feeds

    def poll_feeds(self, *, force: bool = False, interval: float | None = None) -> list[FeedPoll]:
        """Poll the feeds that are due (every feed with `force`) and load their new items, each
        into its feed's scope (blocking; never raises for one feed's or item's trouble).
        `interval`: seconds until a feed read now is due again."""
        from .feeds import DEFAULT_INTERVAL

        return self.feeds.poll_due(self, force=force, interval=DEFAULT_INTERVAL if interval is None else interval)

    async def aclose(self) -> None:
        if self.llm:
            await self.llm.close()

    # -- loading ---------------------------------------------------------------------------

    def plan(self, article: Article) -> IngestResult:
        """What `ingest(article)` would do, without writing anything (the preview before a
        Confirm): the same decision `ingest` makes, and the same errors (`LimitError`)."""
        if len(article.text) > self.config.max_article_chars:
            raise LimitError(f"“{article.title}” has {len(article.text):,} characters; the limit is {self.config.max_article_chars:,} (MAX_ARTICLE_CHARS).")
        existing = self.store.committed().get(article.id)
        if existing is not None and existing.version == article.version and existing.scope == article.scope:
            return IngestResult(IngestStatus.UNCHANGED, existing)
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
                elif planned.article != self.store.committed().get(planned.article.id):
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

    def _settle_group(self, story: Article) -> None:
        """Leave one stored copy of `story`: the one that ranks first (`dedup.rank_key`), with
        every copy's outlets. Normally there is one already; two remain when a takeover was
        killed between storing the new copy and removing the old one. Under the decision lock."""
        current = self.store.committed().get(story.id)
        if current is None:
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
                waiting: builtins.list[tuple[Article, frozenset[int]]] = []  # the batch's articles, with their shingles
                for n, article in enumerate(articles):
                    if results[n] is not None:
                        continue
                    try:
                        if _depends_on(article, waiting, self.store.committed(), self.config.max_articles_per_scope):
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
                        waiting.append((planned.article, shingles(planned.article.text)))
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

    def reindex_missing(self, full: bool = False) -> int:
        """Embed again, with this embedding model, committed articles whose committed version
        lacks chunks in its collection: after switching EMBEDDING_BACKEND (vectors of the old
        model are never mixed in), or a load another process broke; returns how many.

        Each article record's `n_chunks` is compared with the chunks of its committed version,
        counted from chunk ids alone (no chunk metadata). On each start only the articles named
        in the store's change log since the last check are counted, since no other article's
        chunks can have changed through newsbot; every article is counted when `full`
        (`python -m bot check`), and on the first start with an embedding model (see
        `store.leases` for what is checked when, and why that is enough)."""
        short, cursor = self.store.short_check(full)
        if short:
            self.store.refresh()  # read after the count: a version revised meanwhile is left be
        committed = self.store.committed()
        missing = [committed[i] for i, v in short if i in committed and committed[i].version == v]
        for a in missing:
            self._index(a, force=True, if_version=a.version)
        self.store.record_check("short", cursor)  # only once healed: a heal that fails is found again
        if missing:
            log.warning("indexed %d stored articles with the %s embedding model", len(missing), self.embedder.name)
        return len(missing)

    def check_store(self, full: bool = False) -> StoreCheck:
        """Remove what abandoned loads left (`ArticleStore.repair`) and re-embed committed articles
        short of chunks (`reindex_missing`): run on every start over the articles changed since
        the last check; `full` checks every article (`python -m bot check`)."""
        removed = self.store.repair(full)
        return StoreCheck(full, removed, self.reindex_missing(full))

    def sync_folder(self, folder: str | Path = ARTICLES_DIR) -> list[IngestResult]:
        """Make the store match the article files in `folder` (the shipped articles by default):
        new and changed files are loaded, files taken away are removed; idempotent."""
        self.check_store()
        folder = Path(folder)
        tag = f"folder:{folder.name}/"
        files = {tag + p.relative_to(folder).as_posix(): p for p in article_files(folder)}
        read: builtins.list[tuple[Path, Article]] = []
        for origin, p in files.items():
            try:
                read.append((p, replace(load_file(p), origin=origin)))
            except KnowledgeError as exc:  # one bad shipped file must not stop the bot starting
                log.warning("skipped %s: %s", p, exc.reason)
        results = []
        for (p, _), outcome in zip(read, self.ingest_many([a for _, a in read]), strict=True):
            if isinstance(outcome, KnowledgeError):
                log.warning("skipped %s: %s", p, outcome.reason)
            else:
                results.append(outcome)
        present = set(files)
        for a in self.store.list([GLOBAL_SCOPE]):
            if a.origin.startswith(tag) and a.origin not in present:
                self.store.remove(a.id)
                log.info("removed %s: its file is gone from %s", a.id, folder)
        for r in results:
            if r.status is not IngestStatus.UNCHANGED:
                log.info("%s %s", r.status, r.article.id)
        return results

    def remove(self, article_id: str) -> Article:
        return self.store.remove(article_id)

    def get(self, article_id: str) -> Article:
        return self.store.get(article_id)

    def list(self, scopes: Sequence[str] | None = None) -> list[Article]:
        return self.store.list(scopes)

    # -- asking ----------------------------------------------------------------------------

    def check_question(self, question: str) -> str:
        q = " ".join((question or "").split())
        if not q:
            raise InputError("Ask a question: the text was empty.")
        if len(q) > self.config.max_question_chars:
            raise InputError(f"That question is {len(q):,} characters long; please keep it under {self.config.max_question_chars:,}.")
        if not any(ch.isalnum() for ch in q):
            raise InputError("That does not look like a question.")
        return q

    def outlets(self, scopes: Sequence[str] | None = None) -> builtins.list[str]:
        """The outlets of the articles visible in `scopes`, as stored, in alphabetical order."""
        return sorted({a.source for a in self.store.list(scopes) if a.source}, key=str.casefold)

    def search_filter(self, scopes: Sequence[str] = (GLOBAL_SCOPE,), *, since: str | None = None,
                      outlet: str | None = None) -> SearchFilter:
        """A checked filter for what a person typed (blocking: it reads the stored outlets);
        raises `FilterError` for a bad date or an outlet no visible article is from."""
        known = self.outlets(scopes) if (outlet or "").strip() else []
        return SearchFilter.parse(scopes=scopes, since=since, outlet=outlet, known_outlets=known)

    def retrieve(self, question: str, flt: SearchFilter | None = None, *, mode: str = "", search: str = "",
                 cited: Sequence[str] = ()) -> Retrieved:
        """Passages for the question and each of their sentences' support, best first, newest
        first when the question asks for the latest (blocking). A follow-up is searched with
        `search` (the question with its conversation, see `followup.py`) and the passages of
        the articles earlier answers `cited` come first."""
        question = self.check_question(question)
        qvec = self.embedder.embed_query(question)
        svec = self.embedder.embed_query(search) if search and search != question else qvec
        passages = self.retriever.search(search or question, self.config.top_k, flt, mode=mode or self.config.retrieval, vector=svec)
        if cited:
            passages = cited_first(passages, self._article_passages(cited, flt), self.config.top_k)
        vectors = self.store.sentence_vectors([p.chunk for p in passages], [p.article.version for p in passages], len(qvec))
        q = analyse(question)
        idf = idf_from(self.lexical.document_frequencies(q.terms), max(1, self.lexical.size()))
        supports = score_sentences(q, passages, idf, qvec=qvec, sentence_vectors=vectors)
        if cited:  # a follow-up: sentences of the articles the conversation is about come first
            about = set(cited)
            supports.sort(key=lambda s: (not s.missing, s.passage.article.id in about, s.probability), reverse=True)
        parts: list[tuple[Question, list[Support]]] = []
        if len(q.parts) > 1:
            for text in q.parts:
                pq = analyse(text)
                pidf = idf_from(self.lexical.document_frequencies(pq.terms), max(1, self.lexical.size()))
                pvec = self.embedder.embed_query(text)
                parts.append((pq, score_sentences(pq, passages, pidf, qvec=pvec, sentence_vectors=vectors)))
        return rerank_for_recency(question, Retrieved(passages, supports, q, parts))

    def _article_passages(self, article_ids: Sequence[str], flt: SearchFilter | None) -> tuple[Passage, ...]:
        """Every chunk of the given (visible) articles as passages, in the order of `article_ids`."""
        committed = self.store.committed()
        flt = flt or SearchFilter()
        rank = {a: n for n, a in enumerate(article_ids)}
        visible = {a: committed[a].version for a in rank if a in committed and flt.admits(committed[a])}
        found = [sc for chunks in self.store.chunks_of(visible).values() for sc in chunks]
        found.sort(key=lambda sc: (rank[sc.chunk.article_id], sc.chunk.index))
        return tuple(Passage(chunk=sc.chunk, article=committed[sc.chunk.article_id], score=0.0, sentences=sc.sentences) for sc in found)

    async def ask(self, question: str, flt: SearchFilter | None = None, *, history: Sequence[Turn | tuple[str, str]] = (),
                  executor: Executor | None = None, use_model: bool = True) -> Answer:
        """The answer to a question from the articles `flt` admits (all shipped ones by default):
        the one answer path. Retrieval runs on `executor` when given (the Discord layer's own
        pool), else in a worker thread. Raises `InputError` for an unusable question; never
        raises for model trouble (the answer then quotes the articles and says why in `note`).
        The answer's `passages` are what it was written from, in the order used. `use_model`
        False: quotes only even where a model is configured (a server's choice)."""
        question = self.check_question(question)
        turns = as_turns(history)
        search = retrieval_text(question, turns)
        if turns and self.llm is not None and use_model:
            # the model first rewrites the follow-up to stand on its own; that is what is searched
            try:
                search = clean_rewrite(await self.llm.rewrite(question, [(t.question, t.answer) for t in turns]), search)
            except ModelFailure as exc:
                log.info("follow-up not rewritten: %s", exc.reason)
        work = functools.partial(self.retrieve, question, flt, search=search, cited=cited_ids(turns))
        if executor is None:
            retrieved = await asyncio.to_thread(work)
        else:
            retrieved = await asyncio.get_running_loop().run_in_executor(executor, work)
        return await self.answer(question, retrieved, history=[(t.question, t.answer) for t in turns], use_model=use_model)

    async def answer(self, question: str, retrieved: Retrieved, *, history: Sequence[tuple[str, str]] = (),
                     use_model: bool = True) -> Answer:
        """The answer written from what was retrieved (the last step of `ask`)."""
        cfg = self.config
        if not retrieved.passages:
            return refusal([])
        if retrieved.supports and all(s.missing for s in retrieved.supports) and not (retrieved.question and retrieved.question.about):
            # every retrieved article lacks a name or figure the question depends on: no model
            # can answer from them, so none is asked
            return refusal(retrieved.passages, missing=retrieved.supports[0].missing)
        if self.llm is not None and use_model:
            try:
                return await self.llm.answer(
                    question, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars, history=history,
                )
            except ModelFailure as exc:
                # info, not warning: the answer's note already tells the reader (the CLI printed it twice)
                log.info("falling back to the extractive answer: %s", exc.reason)
                return extractive_answer(
                    retrieved.supports, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars,
                    note=f"{exc.reason} This answer is quoted straight from the articles instead.",
                    question=retrieved.question, parts=retrieved.parts,
                )
        return extractive_answer(retrieved.supports, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars,
                                 question=retrieved.question, parts=retrieved.parts)
