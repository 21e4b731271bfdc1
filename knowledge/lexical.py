"""The lexical side of retrieval: BM25 over every visible chunk, in a tantivy index on disk.

Why tantivy (benchmarks/lexical_candidates.py has the figures, benchmarks/README.md the table):
a query's cost must stay small as the store grows. SQLite FTS5, the index before this one, ranks
every chunk that holds a chosen term, and re-scoring its candidates with every term had to be done
in Python: 7.4 ms at 1× BBC (10,280 chunks), 27.5 ms at 10×, ≈130 ms expected at 50×, against a
whole-`ask` target of 25 ms. Half of it was the candidate query and half the re-scoring, both
growing with the posting lists. tantivy (the Rust search engine, PyPI `tantivy`) skips whole
blocks of postings that cannot reach the top k (block-max WAND) and scores every term in Rust,
with the same BM25 (k1 1.2, b 0.75) and the same hit@1 and MRR@10 on the BBC dev set. Like FTS5 it
adds and deletes documents one at a time, and a query reads only its terms' posting lists, so
neither start-up nor a write nor a question touches the whole corpus. The index holds our own stems
(`textstats.content_stems`, the tokenisation the support check shares), written as space-separated
words that tantivy's whitespace tokenizer takes as they are.

What the index holds, per article: one document per chunk (its stems, the fields a filter needs,
and the chunk itself, so a hit needs no Chroma read), one marker document (version, chunk count,
scope, outlet, date), and one state document for the whole index (the change-log cursor, the
identity of the store that fed it, the chunk count). A write deletes an article's documents by its
id and adds the new ones; one commit takes in a batch of articles and the state document, and
tantivy makes a commit visible whole. So a reader sees an article's old chunks or its new ones,
never a mix, and the cursor moves only with the chunks it covers. Opening reads only the changes
since that cursor; a new index (or one fed by another store) compares every article's version
with the store's and reads the articles that differ: built once, then opened in milliseconds.

Several processes share one index (the processes of one embedded store folder). tantivy allows one
writer per index folder, held through a lock file that the operating system releases when its
process dies. Every process follows the change log; one that finds an article the index does not
yet hold takes the writer lock for that batch alone, waiting up to `WRITER_WAIT_S` for another
process's batch, re-reads the index under the lock (the other process may have taken in the same
change) and commits. Readers reload at each poll. A process that cannot get the lock answers from
the index as it is and tries again at its next poll. Where it lives: beside an embedded store,
inside its folder (`lexical/<collection>.tantivy/`); for a Chroma server, in a folder of each
host's own (`LEXICAL_PATH`), fed by the change log like any other process's.

`LexicalSearch` is what retrieval needs of a lexical index, so a server-side BM25 (Chroma's
distributed deployment has native sparse search) can take this one's place.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import StoreError
from .store import (
    CHANGE_POLL_S,
    ArticleStore,
    ChangeLog,
    StoredChunk,
    _chunk_from,
    chunk_collection_name,
    date_number,
)
from .textstats import content_stems

if TYPE_CHECKING:
    from .models import ArticleInfo
    from .retrieval import SearchFilter

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_BATCH = 200  # articles read from Chroma and committed together while catching up
WRITER_HEAP = 64_000_000  # bytes tantivy may buffer before it writes a segment (one thread)
WRITER_WAIT_S = 10.0  # how long a process waits for another one's batch to release the writer
_RETRY_S = 0.02
_KINDS = ("chunk", "article", "state")


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("article_id", stored=True, tokenizer_name="raw", index_option="basic")
    # Term frequencies without positions: BM25 needs no more, and the postings stay small.
    sb.add_text_field("body", tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("scope", tokenizer_name="raw", index_option="basic")
    sb.add_text_field("source", tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("published", indexed=True, fast=True)
    sb.add_bytes_field("data", stored=True)  # JSON: the chunk, the article's marker, or the state
    return sb.build()


class LexicalSearch(Protocol):
    """What retrieval asks of a lexical index."""

    def ensure_current(self) -> None:
        """Take in the store's changes (at most one poll per `CHANGE_POLL_S`, at once after a
        write in this process)."""

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        """The `k` best matches among the chunks the filter admits, best first (higher is better)."""

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """How many chunks hold each of these stems (absent: none)."""

    def size(self) -> int:
        """How many chunks are indexed."""


@dataclass
class IndexStats:
    """What the index has done since it was opened (tests and benchmarks read it)."""

    rebuilds: int = 0  # catch-ups that had to index every article (a new or emptied index)
    articles_indexed: int = 0  # articles whose chunks were (re)written
    articles_removed: int = 0
    polls: int = 0
    commits: int = 0
    writer_waits: int = 0  # times the writer lock was held by another process or index
    open_seconds: float = 0.0


@dataclass(frozen=True)
class _Marker:
    """What the index holds of one article: compared with the store's record to see a change."""

    version: str
    n_chunks: int
    scope: str
    source: str
    published: int

    @classmethod
    def of(cls, art: ArticleInfo, n_chunks: int) -> _Marker:
        return cls(art.version, n_chunks, art.scope, art.source.lower(), date_number(art.published))

    def same_article(self, art: ArticleInfo) -> bool:
        return (self.version, self.scope, self.source, self.published) == (
            art.version, art.scope, art.source.lower(), date_number(art.published))


def default_path(store: ArticleStore, configured: str = "") -> Path:
    """Where a store's lexical index lives: `configured` if set, else inside an embedded store's
    folder, else under data/lexical/ named after the Chroma server."""
    name = chunk_collection_name(store.model_name) + ".tantivy"
    if configured:
        return Path(configured) / name
    home = store.lexical_home()
    if home is not None:
        return home / "lexical" / name
    where = "".join(c if c.isalnum() or c in "-_." else "_" for c in store.where)
    return Path("data") / "lexical" / where / name


def body_of(title: str, text: str) -> str:
    """What the index holds of a chunk's words: the stems of its article's title and of its text."""
    return " ".join(content_stems(f"{title}\n{text}"))


def _admits(data: dict[str, Any], flt: SearchFilter | None) -> bool:
    if flt is None:
        return True
    return (data["scope"] in flt.scopes
            and (not flt.since or int(data["pub"]) >= date_number(flt.since))
            and (not flt.outlet or data["src"] == flt.outlet.lower()))


class LexicalIndex:
    """BM25 (tantivy's) over a store's visible chunks, in an index folder (see above)."""

    def __init__(self, store: ArticleStore, path: str | Path | None = None, *, poll_seconds: float = CHANGE_POLL_S):
        self._store = store
        self.path = Path(path) if path else default_path(store)
        self.poll_seconds = poll_seconds
        self.stats = IndexStats()
        self._write_lock = threading.Lock()
        self._index: Any = None
        self._schema: Any = None
        self._state: dict[str, Any] = {}  # the state document as of the last reload
        self._revision = -1
        self._cursor = 0
        self._polled = 0.0
        self._opened = False

    # -- the folder ----------------------------------------------------------------------

    def _open_index(self) -> None:
        import tantivy

        self._t = tantivy
        self._schema = _schema()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            index.config_reader("Manual", 0)  # reloaded at each poll, not by a watcher thread
        except (OSError, ValueError) as exc:
            raise StoreError(f"The lexical index at {self.path} cannot be opened ({exc}). Delete it to have it rebuilt, or set LEXICAL_PATH.") from exc
        self._index = index
        self._reload()
        if int(self._state.get("schema", SCHEMA_VERSION)) > SCHEMA_VERSION:
            raise StoreError(f"The lexical index at {self.path} was written by a newer newsbot; delete it to rebuild it.")

    def _reload(self) -> None:
        """See the commits made since (by any process), and read the state document again."""
        for attempt in range(3):
            try:
                self._index.reload()
                break
            except ValueError:  # a segment merged away between reading meta.json and opening it
                if attempt == 2:
                    raise
                time.sleep(_RETRY_S)
        searcher = self._index.searcher()
        hits = searcher.search(self._t.Query.term_query(self._schema, "kind", "state"), 1).hits
        self._state = json.loads(searcher.doc(hits[0][1])["data"][0]) if hits else {}

    def _markers(self, article_ids: Sequence[str]) -> dict[str, _Marker]:
        if not article_ids:
            return {}
        t, searcher = self._t, self._index.searcher()
        q = t.Query.boolean_query([
            (t.Occur.Must, t.Query.term_query(self._schema, "kind", "article")),
            (t.Occur.Must, t.Query.term_set_query(self._schema, "article_id", list(article_ids))),
        ])
        return self._read_markers(searcher, q, len(article_ids))

    def _read_markers(self, searcher: Any, query: Any, limit: int) -> dict[str, _Marker]:
        out: dict[str, _Marker] = {}
        for _, addr in searcher.search(query, max(1, limit), count=False).hits:
            doc = searcher.doc(addr)
            d = json.loads(doc["data"][0])
            out[doc["article_id"][0]] = _Marker(d["v"], int(d["n"]), d["scope"], d["src"], int(d["pub"]))
        return out

    def open(self) -> None:
        """Open the index and catch up with the store. An index that has followed this store
        keeps its change-log cursor, and only the changes since are read; a new one, or one last
        fed by another store (a Chroma server wiped and started again), compares every article's
        version with the store's and reads the articles that differ."""
        with self._write_lock:
            if self._opened:
                return
            started = time.perf_counter()
            self._open_index()
            identity = self._store.identity()
            state = self._state
            if state.get("store") == identity and state.get("cursor"):
                changes, cursor = self._store.changes.since(int(state["cursor"]))
                self._apply([c.article_id for c in changes], cursor, identity)
                caught_up = len(changes)
            else:
                cursor = ChangeLog.start()  # before reading the versions: later changes are polled
                want = self._store.article_versions()
                have = self.indexed_versions()
                stale = [a for a, v in want.items() if have.get(a) != v] + [a for a in have if a not in want]
                if want and not have:
                    self.stats.rebuilds += 1
                    log.info("lexical index %s: indexing %d articles", self.path, len(stale))
                self._apply(stale, cursor, identity, new_owner=True)
                caught_up = len(stale)
            self._cursor = max(cursor, int(self._state.get("cursor", 0)))
            self._polled = time.monotonic()
            self._revision = self._store.revision
            self._opened = True
            self.stats.open_seconds = time.perf_counter() - started
            log.info("lexical index open: %d chunks, %d articles looked at again in %.2fs", self.size(), caught_up, self.stats.open_seconds)

    # -- following the store ---------------------------------------------------------------

    def ensure_current(self) -> None:
        if not self._opened:
            self.open()
            return
        if self._revision == self._store.revision and time.monotonic() - self._polled < self.poll_seconds:
            return
        with self._write_lock:
            revision = self._store.revision
            # stamped when the poll starts, so the next one is due `poll_seconds` after this read of
            # the change log, not after it was taken in: another process's change waits at most that
            started = time.monotonic()
            try:
                self._reload()  # other processes' commits, and how far they took the index
                since = max(self._cursor, int(self._state.get("cursor", 0)) if self._state.get("store") == self._store.identity() else 0)
                changes, cursor = self._store.changes.since(since)
                self._apply([c.article_id for c in changes], cursor, None)
            except StoreError as exc:
                log.warning("could not take in the store's changes (%s); answering from the index as it is", exc)
                self._polled = started
                return
            except Exception as exc:  # chromadb and tantivy raise many types: answer from what is indexed, retry next poll
                log.warning("could not read the store's changes (%s); answering from the index as it is", exc.__class__.__name__)
                self._polled = started
                return
            self.stats.polls += 1
            self._cursor = cursor
            self._polled, self._revision = started, revision

    def _apply(self, article_ids: Sequence[str], cursor: int, identity: str | None, *, new_owner: bool = False) -> None:
        """Bring these articles' documents in line with the store, a batch per commit. The
        cursor (and, for a catch-up, the store's identity) is written with the last batch, so a
        process killed half-way through starts again from the old cursor."""
        ids = list(dict.fromkeys(article_ids))
        batches = [ids[s : s + _BATCH] for s in range(0, len(ids), _BATCH)] or [[]]
        for n, part in enumerate(batches):
            last = n == len(batches) - 1
            current = self._store.reload(part) if part else {}
            have = self._markers(part)
            work = [a for a in part if self._differs(have.get(a), current.get(a))]
            if not work and not (last and new_owner):
                continue
            # Chunks are read from Chroma before the writer lock is taken: the lock is held for
            # the index's own work alone.
            to_read = {a: art.version for a in work if (art := current.get(a)) is not None}
            chunks = self._store.chunks_of(to_read)
            self._commit([(a, current.get(a), chunks.get(a, [])) for a in work],
                         cursor if last else None, identity if last else None)

    @staticmethod
    def _differs(marker: _Marker | None, art: ArticleInfo | None) -> bool:
        if art is None:
            return marker is not None
        # A version indexed with no chunks is looked at again: its chunks may have come since
        # (another embedding model's store being filled by `reindex_missing`).
        return marker is None or marker.n_chunks == 0 or not marker.same_article(art)

    def _writer(self) -> Any:
        deadline = time.monotonic() + WRITER_WAIT_S
        waited = False
        while True:
            try:
                return self._index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:
                if "LockBusy" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(f"The lexical index at {self.path} is held by another writer ({exc}).") from exc
                if not waited:
                    self.stats.writer_waits += 1
                    waited = True
                time.sleep(_RETRY_S)

    def _commit(self, work: list[tuple[str, ArticleInfo | None, list[StoredChunk]]], cursor: int | None, identity: str | None) -> None:
        """One commit: each article's documents replaced whole, and the state document."""
        t = self._t
        writer = self._writer()
        try:
            self._reload()  # under the lock: what the last writer (maybe another process) left
            have = self._markers([a for a, _, _ in work])
            state = dict(self._state)
            n_chunks = int(state.get("chunks", 0))
            indexed = removed = 0
            for article_id, art, chunks in work:
                old = have.get(article_id)
                if not self._differs(old, art):
                    continue  # another process took this change in while we waited
                writer.delete_documents_by_term("article_id", article_id)
                n_chunks -= old.n_chunks if old is not None else 0
                if art is None:
                    removed += 1
                    continue
                marker = _Marker.of(art, len(chunks))
                common = {"scope": marker.scope, "src": marker.source, "pub": marker.published}
                for sc in chunks:
                    c = sc.chunk
                    spans = ";".join(f"{sp.start - c.start},{sp.end - c.start}" for sp in sc.sentences)
                    data = {"v": sc.version, "i": c.index, "s": c.start, "e": c.end, "p": spans, "t": c.text, **common}
                    writer.add_document(t.Document(kind="chunk", article_id=article_id, body=body_of(art.title, c.text),
                                                   scope=marker.scope, source=marker.source, published=marker.published,
                                                   data=json.dumps(data).encode()))
                writer.add_document(t.Document(kind="article", article_id=article_id, data=json.dumps(
                    {"v": marker.version, "n": marker.n_chunks, **common}).encode()))
                n_chunks += len(chunks)
                indexed += 1
            state.update(schema=SCHEMA_VERSION, chunks=n_chunks)
            if cursor is not None:
                same_store = identity is None or state.get("store") == identity
                state["cursor"] = max(cursor, int(state.get("cursor", 0))) if same_store else cursor
            if identity is not None:
                state["store"] = identity
            writer.delete_documents_by_term("kind", "state")
            writer.add_document(t.Document(kind="state", data=json.dumps(state).encode()))
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # finishes the merges this commit started, then drops the lock
        self.stats.commits += 1
        self.stats.articles_indexed += indexed
        self.stats.articles_removed += removed
        self._reload()

    # -- reading ---------------------------------------------------------------------------

    def search(self, question: str, k: int, flt: SearchFilter | None = None) -> list[tuple[StoredChunk, float]]:
        self.ensure_current()
        terms = list(dict.fromkeys(content_stems(question)))
        if not terms or k <= 0:
            return []
        t = self._t
        text = t.Query.boolean_query([(t.Occur.Should, t.Query.term_query(self._schema, "body", term)) for term in terms])
        searcher = self._index.searcher()
        # The unfiltered query lets tantivy skip blocks of postings that cannot reach the top
        # (block-max WAND); the filter is then checked on the hits. Usually every hit passes (one
        # scope); when too few do, the filtered query (an intersection, no skipping) runs.
        fetch = 4 * (k + 8)
        hits = searcher.search(text, fetch, count=False).hits
        out = self._hits(searcher, hits, k, flt)
        if len(out) < k and flt is not None and len(hits) == fetch:
            out = self._hits(searcher, searcher.search(t.Query.boolean_query([
                (t.Occur.Must, text), (t.Occur.Must, t.Query.const_score_query(self._filter_query(flt), 0.0))]), k, count=False).hits, k, None)
        return out

    def _hits(self, searcher: Any, hits: list[tuple[float, Any]], k: int, flt: SearchFilter | None) -> list[tuple[StoredChunk, float]]:
        out: list[tuple[StoredChunk, float]] = []
        for score, addr in hits:
            doc = searcher.doc(addr)
            d = json.loads(doc["data"][0])
            if not _admits(d, flt):
                continue
            meta = {"article_id": doc["article_id"][0], "version": d["v"], "index": d["i"], "start": d["s"], "end": d["e"], "sentences": d["p"]}
            out.append((_chunk_from("", d["t"], meta), float(score)))
            if len(out) == k:
                break
        return out

    def _filter_query(self, flt: SearchFilter) -> Any:
        t = self._t
        parts = [(t.Occur.Must, t.Query.term_set_query(self._schema, "scope", list(flt.scopes)))]
        if flt.since:
            parts.append((t.Occur.Must, t.Query.range_query(self._schema, "published", t.FieldType.Integer, date_number(flt.since), None)))
        if flt.outlet:
            parts.append((t.Occur.Must, t.Query.term_query(self._schema, "source", flt.outlet.lower())))
        return t.Query.boolean_query(parts)

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """From the term dictionary, as tantivy's own BM25 counts: chunks deleted by a revision
        or a removal still count until their segment is merged (a few, against the whole store)."""
        self.ensure_current()
        searcher = self._index.searcher()
        out: dict[str, int] = {}
        for term in dict.fromkeys(terms):
            n = searcher.doc_freq("body", term)
            if n:
                out[term] = int(n)
        return out

    def size(self) -> int:
        if not self._opened:
            self.open()
        return int(self._state.get("chunks", 0))

    def indexed_versions(self) -> dict[str, str]:
        """Article id -> the version whose chunks are indexed (for checks, catching up and tests)."""
        if self._index is None:
            self._open_index()
        searcher = self._index.searcher()
        q = self._t.Query.term_query(self._schema, "kind", "article")
        return {a: m.version for a, m in self._read_markers(searcher, q, searcher.num_docs).items()}

    def close(self) -> None:
        """Drop the reader (nothing is held between writes: the writer lock is per batch)."""
        self._index = None
        self._opened = False
