"""The knowledge base: the one object the CLI and the Discord layer talk to.

It owns the store, the embedding model, the lexical index and the answerers, and offers loading,
listing, removing and asking. Blocking work (embedding, Chroma) is done in plain methods; `ask`
is a coroutine that runs them in a worker thread so an event loop never stalls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .answering import extractive_answer, refusal
from .chunking import chunk_article, chunk_members
from .dedup import as_revision, find_duplicate
from .embeddings import Embedder, MiniLMOnnx, OpenAIEmbedder, pool_chunks
from .errors import InputError, KnowledgeError, LimitError
from .lexical import LexicalIndex
from .llm import LLMAnswerer, LLMConfig, ModelFailure
from .loading import SUPPORTED_SUFFIXES, load_file
from .models import GLOBAL_SCOPE, Answer, Article, Passage
from .question import Question, analyse
from .retrieval import Retriever, SearchFilter
from .store import ArticleStore, with_outlet
from .support import Support, idf_from, score_sentences

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


@dataclass(frozen=True)
class IngestResult:
    status: str  # "loaded", "updated", "unchanged", "duplicate" (see KnowledgeBase.ingest)
    article: Article


@dataclass
class Retrieved:
    passages: list[Passage]
    supports: list[Support] = field(default_factory=list)
    question: Question | None = None  # the question taken apart (knowledge/question.py)
    # a question asking several things: each part with its own supports (empty for one ask)
    parts: list[tuple[Question, list[Support]]] = field(default_factory=list)


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
        self.lexical = LexicalIndex(store)
        self.retriever = Retriever(store, self.embedder, self.lexical)
        self.llm = LLMAnswerer(config.llm) if config.llm else None

    @staticmethod
    def _make_embedder(config: CoreConfig) -> Embedder:
        if config.embedding_backend == "openai":
            llm = config.embedding_llm or config.llm or LLMConfig()
            return OpenAIEmbedder(config.openai_embedding_model, api_key=llm.api_key, base_url=llm.base_url)
        return MiniLMOnnx(threads=config.embedding_threads)

    async def aclose(self) -> None:
        if self.llm:
            await self.llm.close()

    # -- loading ---------------------------------------------------------------------------

    def ingest(self, article: Article) -> IngestResult:
        """Chunk, embed and store one article, all or nothing. The status says what happened:

        - "loaded": a new article;
        - "unchanged": this id and text are already stored (nothing is done);
        - "updated": this id with new text: the new version replaces the old one in one step,
          keeping its first publication date, with `updated` set (see `dedup.as_revision`);
        - "duplicate": nearly the same text is already stored in this scope under another id
          (the same wire story from another outlet): no copy is made, the outlet is added to
          the stored article's `outlets`, and the result's article is that stored one.
        """
        if len(article.text) > self.config.max_article_chars:
            raise LimitError(f"“{article.title}” has {len(article.text):,} characters; the limit is {self.config.max_article_chars:,} (MAX_ARTICLE_CHARS).")
        existing = self.store.committed().get(article.id)
        if existing is not None and existing.version == article.version and existing.scope == article.scope:
            return IngestResult("unchanged", existing)
        if existing is not None:
            article = as_revision(existing, article)
        else:
            twin = find_duplicate(self.store, article)
            if twin is not None:
                merged = with_outlet(twin, article.source)
                if merged is not twin:
                    self.store.update_metadata(merged)
                return IngestResult("duplicate", merged)
            if article.scope != GLOBAL_SCOPE:
                count = sum(1 for a in self.store.committed().values() if a.scope == article.scope)
                if count >= self.config.max_articles_per_scope:
                    raise LimitError(f"This server already has {count:,} article{'s' * (count != 1)}, the most allowed (MAX_ARTICLES_PER_SERVER). Remove some first.")
        return IngestResult(self._index(article), article)

    def _index(self, article: Article, *, force: bool = False) -> str:
        """Chunk and embed an article and write it to the store (the store's status)."""
        chunks, sentences = chunk_article(article.id, article.text, max_words=self.config.chunk_words)
        if not chunks:
            raise InputError(f"“{article.title}” has no sentences to index.")
        sentence_vectors = self.embedder.embed_documents([article.text[s.start : s.end] for s in sentences])
        vectors = pool_chunks(chunk_members(chunks, sentences), sentence_vectors)
        return self.store.put(article, chunks, sentences, vectors, sentence_vectors, force=force)

    def reindex_missing(self) -> int:
        """Embed, with this embedding model, stored articles that have no chunks in its collection
        (after switching EMBEDDING_BACKEND, vectors of the old model are never mixed in);
        returns how many. Cheap when nothing is missing."""
        committed = self.store.committed()
        if self.store.chunk_count() >= len(committed):
            return 0
        have = self.store.articles_with_chunks()
        missing = [a for a in committed.values() if a.id not in have]
        for a in missing:
            self._index(a, force=True)
        if missing:
            log.warning("indexed %d stored articles with the %s embedding model", len(missing), self.embedder.name)
        return len(missing)

    def sync_folder(self, folder: str | Path = ARTICLES_DIR) -> list[IngestResult]:
        """Make the store match the article files in `folder` (the shipped articles by default):
        new and changed files are loaded, files taken away are removed; idempotent."""
        self.store.repair()
        self.reindex_missing()
        folder = Path(folder)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
        tag = f"folder:{folder.name}/"
        results = []
        for p in files:
            try:
                results.append(self.ingest(replace(load_file(p), origin=tag + p.name)))
            except KnowledgeError as exc:  # one bad shipped file must not stop the bot starting
                log.warning("skipped %s: %s", p, exc.reason)
        present = {tag + p.name for p in files}
        for a in self.store.list([GLOBAL_SCOPE]):
            if a.origin.startswith(tag) and a.origin not in present:
                self.store.remove(a.id)
                log.info("removed %s: its file is gone from %s", a.id, folder)
        for r in results:
            if r.status != "unchanged":
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

    def retrieve(self, question: str, flt: SearchFilter | None = None, *, mode: str = "") -> Retrieved:
        """Passages for the question and each of their sentences' support, best first (blocking)."""
        question = self.check_question(question)
        if flt is not None and flt.outlet:
            # Outlet names match whatever their case; Chroma's own filter is case-sensitive.
            spelled = {a.source.lower(): a.source for a in self.store.committed().values() if a.source}
            flt = replace(flt, outlet=spelled.get(flt.outlet.lower(), flt.outlet))
        qvec = self.embedder.embed_query(question)
        passages = self.retriever.search(question, self.config.top_k, flt, mode=mode or self.config.retrieval, vector=qvec)
        vectors = self.store.sentence_vectors([p.chunk for p in passages], [p.article.version for p in passages], len(qvec))
        idf = idf_from(self.lexical.df, max(1, len(self.lexical.chunks)))
        q = analyse(question)
        supports = score_sentences(q, passages, idf, qvec=qvec, sentence_vectors=vectors)
        parts: list[tuple[Question, list[Support]]] = []
        if len(q.parts) > 1:
            for text in q.parts:
                pq = analyse(text)
                pvec = self.embedder.embed_query(text)
                parts.append((pq, score_sentences(pq, passages, idf, qvec=pvec, sentence_vectors=vectors)))
        return Retrieved(passages, supports, q, parts)

    async def ask(self, question: str, flt: SearchFilter | None = None, *, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """Answer a question from the visible articles; never raises for model trouble."""
        retrieved = await asyncio.to_thread(self.retrieve, question, flt)
        return await self.answer(question, retrieved, history=history)

    async def answer(self, question: str, retrieved: Retrieved, *, history: Sequence[tuple[str, str]] = ()) -> Answer:
        cfg = self.config
        if not retrieved.passages:
            return refusal([])
        if retrieved.supports and all(s.missing for s in retrieved.supports) and not (retrieved.question and retrieved.question.about):
            # every retrieved article lacks a name or figure the question depends on: no model
            # can answer from them, so none is asked
            return refusal(retrieved.passages, missing=retrieved.supports[0].missing)
        if self.llm is not None:
            try:
                return await self.llm.answer(
                    question, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars, history=history,
                )
            except ModelFailure as exc:
                log.warning("falling back to the extractive answer: %s", exc.note)
                return extractive_answer(
                    retrieved.supports, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars,
                    note=f"{exc.note} This answer is quoted straight from the articles instead.",
                    question=retrieved.question, parts=retrieved.parts,
                )
        return extractive_answer(retrieved.supports, retrieved.passages, max_quotes=cfg.max_quotes, max_quote_chars=cfg.max_quote_chars,
                                 question=retrieved.question, parts=retrieved.parts)
