"""The knowledge base: the one object the CLI and the Discord layer talk to.

It owns the store, the embedding model, the lexical index and the answerers, and offers loading,
listing, removing and asking. Blocking work (embedding, Chroma) is done in plain methods; `ask`
is a coroutine that runs them in a worker thread (or on the executor it is given) so an event
loop never stalls.

Loading (`plan`, `ingest`, `ingest_many`, `load_many`, `read`, `load`) is in `ingesting`, mixed in.

Asking has one path, `ask`, which the CLI, Discord and `eval` all take: check the question,
retrieve, re-rank for recency, score support, answer.
"""

from __future__ import annotations

import asyncio
import builtins  # `list` is also a method name in this module's classes
import functools
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .answering import extractive_answer, refusal
from .embeddings import Embedder, MiniLMOnnx, OpenAIEmbedder
from .errors import InputError, KnowledgeError, ModelFailure
from .followup import Turn, as_turns, cited_first, cited_ids, clean_rewrite, retrieval_text
from .ingesting import IngestResult, IngestStatus, _Ingesting
from .lexical import LexicalIndex, default_path
from .llm import LLMAnswerer, LLMConfig
from .loading import load_file
from .models import GLOBAL_SCOPE, Answer, Article, ArticleInfo, Passage
from .question import Question, analyse
from .recency import rerank_for_recency
from .retrieval import Retrieved, Retriever, SearchFilter
from .sources import FetchPolicy, article_files
from .store import ArticleStore
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


@dataclass(frozen=True)
class StoreCheck:
    """What `KnowledgeBase.check_store` did."""

    full: bool  # every article checked, not only those changed since the last check
    chunks_removed: int  # chunks of abandoned loads
    reindexed: int  # committed articles that were short of chunks, embedded again


class KnowledgeBase(_Ingesting):
    def __init__(self, config: CoreConfig, *, store: ArticleStore | None = None, embedder: Embedder | None = None):
        self.config = config
        self.embedder = embedder or self._make_embedder(config)
        if store is None:
            if config.chroma_host:
                store = ArticleStore.open_server(config.chroma_host, config.chroma_port, self.embedder.name, ssl=config.chroma_ssl)
            else:
                store = ArticleStore.open_local(config.chroma_path, self.embedder.name)
        self.store = store
        lexical_path = default_path(store, config.lexical_path)
        if store.snapshot_file is None:  # the saved article facts live beside the lexical index
            store.snapshot_file = lexical_path.parent / "articles.json"
        self.lexical = LexicalIndex(store, lexical_path)
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
        # with their texts, to chunk them again (an article revised meanwhile is left out)
        missing = list(self.store.articles([committed[i] for i, v in short if i in committed and committed[i].version == v]).values())
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

    def remove(self, article_id: str) -> ArticleInfo:
        return self.store.remove(article_id)

    def get(self, article_id: str) -> Article:
        """The article with its text (read from the store unless cached)."""
        return self.store.get(article_id)

    def list(self, scopes: Sequence[str] | None = None) -> list[ArticleInfo]:
        """The articles' facts, newest first, without their texts (`get` has the text)."""
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
        full = self.store.articles([committed[a] for a in visible])  # a version revised meanwhile is left out
        found = [sc for chunks in self.store.chunks_of(visible).values() for sc in chunks if sc.chunk.article_id in full]
        found.sort(key=lambda sc: (rank[sc.chunk.article_id], sc.chunk.index))
        return tuple(Passage(chunk=sc.chunk, article=full[sc.chunk.article_id], score=0.0, sentences=sc.sentences) for sc in found)

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
