"""The Chroma store: one collection of whole articles, one of embedded chunks per embedding model.

Writes are all-or-nothing. An article's chunks carry its content version; the article record is
written last and is the commit point. Readers only see chunks whose version matches a committed
article record, so a load killed at any moment leaves nothing half-visible, and `repair()` (run on
open) deletes the leftovers. A revised article (same id, new text) becomes visible in the single
write of its record, after which the old version's chunks are deleted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunking import chunk_members
from .embeddings import pack, unpack
from .errors import NotFoundError, StoreError
from .models import Article, Chunk, Span

if TYPE_CHECKING:
    import chromadb

log = logging.getLogger(__name__)

ARTICLES = "newsbot-articles"
PENDING = "newsbot-pending"
CHANGES = "newsbot-changes"
_PAGE = 2000
_ARTICLE_FIELDS = ("title", "source", "published", "updated", "url", "language", "author", "editor", "scope", "version", "origin")


def chunk_collection_name(model_name: str) -> str:
    # Vectors of two models never share a collection: the model is part of the name.
    return "newsbot-chunks-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in model_name)


def chunk_id(article_id: str, version: str, index: int) -> str:
    """A chunk record's id: its article, that article's content version and its place in it."""
    return f"{article_id}#{version}#{index}"


def date_number(iso: str) -> int:
    """YYYY-MM-DD as an int (20250114) so Chroma can filter dates with $gte / $lte; 0 if unknown."""
    return int(iso[:10].replace("-", "")) if len(iso) >= 10 and iso[:4].isdigit() else 0


@dataclass(frozen=True)
class StoredChunk:
    chunk: Chunk
    version: str
    sentences: tuple[Span, ...]


def _article_meta(a: Article, n_chunks: int) -> dict:
    meta = {k: getattr(a, k) for k in _ARTICLE_FIELDS}
    meta.update(outlets="\n".join(a.outlets), n_chunks=n_chunks, published_n=date_number(a.published))
    return meta


def _article_from(id_: str, text: str, meta: dict) -> Article:
    fields = {k: str(meta.get(k, "") or "") for k in _ARTICLE_FIELDS}
    outlets = tuple(o for o in str(meta.get("outlets", "")).split("\n") if o)
    return Article(id=id_, text=text, outlets=outlets, **fields)


def _chunk_from(id_: str, doc: str, meta: dict) -> StoredChunk:
    base = int(meta["start"])
    raw = str(meta.get("sentences", ""))
    spans: list[Span] = []
    for pair in filter(None, raw.split(";")):
        a, b = pair.split(",")
        spans.append(Span(base + int(a), base + int(b)))
    chunk = Chunk(article_id=str(meta["article_id"]), index=int(meta["index"]), start=base, end=int(meta["end"]), text=doc)
    return StoredChunk(chunk=chunk, version=str(meta["version"]), sentences=tuple(spans))


RecordValue = str | int | float | bool


@dataclass(frozen=True)
class Record:
    """One small record: an id, a text (e.g. JSON) and flat fields."""

    id: str
    text: str
    fields: Mapping[str, RecordValue]


class RecordTable:
    """Small records kept beside the articles, through the store's API rather than raw Chroma
    calls. Chroma keeps a vector with every record; these are never searched by meaning, so each
    gets the same one-number placeholder, here and nowhere else."""

    _NO_VECTOR = (1.0,)

    def __init__(self, collection: chromadb.Collection):
        self._col = collection

    def all(self) -> list[Record]:
        got = self._col.get(include=["documents", "metadatas"])
        return [Record(i, d or "", dict(m or {})) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]

    def get(self, id_: str) -> Record | None:
        got = self._col.get(ids=[id_], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return Record(id_, got["documents"][0] or "", dict(got["metadatas"][0] or {}))

    def has(self, id_: str) -> bool:
        return bool(self._col.get(ids=[id_], include=[])["ids"])

    def put(self, record: Record) -> None:
        self._col.upsert(ids=[record.id], documents=[record.text], metadatas=[dict(record.fields)],
                         embeddings=[list(self._NO_VECTOR)])

    def delete(self, id_: str) -> None:
        self._col.delete(ids=[id_])



# -- the change log ---------------------------------------------------------------------------
#
# Every process sharing a store (the bot, the CLI, the feed poller, a second bot against the same
# Chroma server) learns what others changed from one small collection beside the articles: one
# record per article id, written after each commit (`put`), metadata rewrite or removal, holding
# the kind of change and `seq`, the writer's wall clock in microseconds. A reader asks for the
# records with `seq` above its cursor and re-reads just those articles (the article record is the
# truth; the change record only says "look again"), so re-reading a record twice is harmless.
#
# Ordering across processes and machines: a writer's clock orders its own records; between
# writers nothing is assumed but a bounded skew. The cursor a reader keeps is therefore held
# CHANGE_GRACE_US behind the newest record it has seen (and never ahead of its own clock), and
# every poll re-reads that window. A change is missed only if its writer's clock runs more than
# CHANGE_GRACE_US behind the reader's, or its record takes that long to become visible after it
# was stamped. Delay: a reader polls at most every CHANGE_POLL_S seconds (on its next read after
# that), so a committed change is seen within CHANGE_POLL_S of its change record being written.
# A process that dies between an article's commit and its change record leaves an intent
# record, and `repair()` logs a change for it. The log holds one record per article id ever
# stored, so it grows with the store, not with the number of writes.

CHANGE_GRACE_US = 60_000_000  # one minute of clock skew and write latency tolerated
CHANGE_POLL_S = 1.0  # one Chroma read of the recent window: ~1 ms embedded, ~3 ms to a server


class ChangeKind(str, Enum):
    PUT = "put"  # a load or a revision: new chunks
    METADATA = "metadata"  # the article record only (another outlet carrying the story)
    REMOVE = "remove"


@dataclass(frozen=True)
class Change:
    article_id: str
    kind: ChangeKind
    seq: int  # the writer's wall clock, microseconds


def _now_us() -> int:
    return time.time_ns() // 1000


class ChangeLog:
    """Reading and writing the `newsbot-changes` records of one store (see the notes above)."""

    def __init__(self, collection: Any) -> None:
        self._col = collection

    def write(self, article_ids: Sequence[str], kind: ChangeKind) -> None:
        if not article_ids:
            return
        now = _now_us()
        self._col.upsert(
            ids=list(article_ids), embeddings=[[1.0]] * len(article_ids),
            metadatas=[{"kind": kind.value, "seq": now} for _ in article_ids],
        )

    @staticmethod
    def start() -> int:
        """A cursor for a reader that has just read the whole store: every change from here on
        (within the tolerated clock skew) will be reported."""
        return _now_us() - CHANGE_GRACE_US

    def since(self, cursor: int) -> tuple[list[Change], int]:
        """The changes recorded after `cursor`, oldest first, and the cursor for the next call."""
        out: list[Change] = []
        offset = 0
        while True:
            got = self._col.get(where={"seq": {"$gt": int(cursor)}}, include=["metadatas"], limit=_PAGE, offset=offset)
            for id_, meta in zip(got["ids"], got["metadatas"], strict=True):
                meta = meta or {}
                try:
                    out.append(Change(id_, ChangeKind(str(meta.get("kind"))), int(meta.get("seq", 0))))
                except ValueError:  # a record from a newer release: look at the article anyway
                    out.append(Change(id_, ChangeKind.PUT, int(meta.get("seq", 0) or 0)))
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        out.sort(key=lambda c: c.seq)
        newest = max((c.seq for c in out), default=cursor + CHANGE_GRACE_US)
        return out, max(cursor, min(newest, _now_us()) - CHANGE_GRACE_US)


class _ChangeTracking:
    """The parts of `ArticleStore` that follow the change log: mixed in to keep them apart from
    the write paths (which only call `_log_change`)."""

    _client: Any
    _lock: threading.RLock
    _articles: Any  # chromadb Collections
    _chunks: Any
    model_name: str
    revision: int
    _committed: dict[str, Article] | None

    def _init_change_log(self) -> None:
        try:
            self.changes = ChangeLog(self._client.get_or_create_collection(CHANGES, embedding_function=None))
        except Exception as exc:  # chromadb raises many types; all mean "cannot use this store"
            raise StoreError(f"Cannot open the change log of the article store ({exc.__class__.__name__}: {exc}).") from exc
        self._cache_cursor = ChangeLog.start()
        self._polled = time.monotonic()
        self.poll_seconds = CHANGE_POLL_S

    @property
    def where(self) -> str:
        """The store's folder or `host:port`, as shown in messages."""
        return str(getattr(self, "_where", ""))

    def lexical_home(self) -> Path | None:
        """An embedded store's folder (its lexical index lives inside it); None for a server."""
        p = Path(self.where)
        return p if self.where and (p / "chroma.sqlite3").is_file() else None

    def identity(self) -> str:
        """Which store this is: the article collection's id, new when a store is made afresh."""
        return str(self._articles.id)

    def article_versions(self) -> dict[str, str]:
        """Every committed article's id and version, read from the store now (metadata only)."""
        out: dict[str, str] = {}
        offset = 0
        while True:
            got = self._articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
            out.update((i, str((m or {}).get("version", ""))) for i, m in zip(got["ids"], got["metadatas"], strict=True))
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def chunks_of(self, versions: Mapping[str, str]) -> dict[str, list[StoredChunk]]:
        """The chunks of these articles' given versions (article id -> version), in order."""
        out: dict[str, list[StoredChunk]] = {}
        if not versions:
            return out
        ids = list(versions)
        where = {"article_id": ids[0]} if len(ids) == 1 else {"article_id": {"$in": ids}}
        offset = 0
        while True:
            got = self._chunks.get(where=where, include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                sc = _chunk_from(id_, doc or "", meta or {})
                if versions.get(sc.chunk.article_id) == sc.version:
                    out.setdefault(sc.chunk.article_id, []).append(sc)
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        for chunks in out.values():
            chunks.sort(key=lambda sc: sc.chunk.index)
        return out

    def _log_change(self, article_id: str, kind: ChangeKind) -> None:
        try:
            self.changes.write([article_id], kind)
        except Exception as exc:  # the commit stands; other processes see it on their next start
            log.warning("could not record the change to %s for other processes (%s)", article_id, exc.__class__.__name__)

    def _log_changes_of(self, article_ids: Sequence[str]) -> None:
        self.changes.write(list(article_ids), ChangeKind.PUT)

    def reload(self, article_ids: Sequence[str]) -> dict[str, Article | None]:
        """Read these article records again (the changed ones); the cached snapshot is replaced
        by a new dict, never edited, so a reader holding the old one keeps a consistent view.
        Returns each id's current article, None where it is gone."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        got = self._articles.get(ids=ids, include=["documents", "metadatas"])
        now: dict[str, Article | None] = dict.fromkeys(ids)
        for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            now[id_] = _article_from(id_, doc or "", meta or {})
        with self._lock:
            if self._committed is not None:
                fresh = dict(self._committed)
                for id_, art in now.items():
                    if art is None:
                        fresh.pop(id_, None)
                    else:
                        fresh[id_] = art
                self._committed = fresh
        return now

    def _follow_changes(self) -> None:
        """Bring the cached article records up to date with other processes' writes, at most
        once per `poll_seconds` (called on each read of the cache)."""
        if time.monotonic() - self._polled < self.poll_seconds:
            return
        self._polled = time.monotonic()
        try:
            changes, cursor = self.changes.since(self._cache_cursor)
        except Exception as exc:  # keep answering from what we have; try again next poll
            log.warning("could not read the store's change log (%s)", exc.__class__.__name__)
            return
        self.reload([c.article_id for c in changes])
        self._cache_cursor = cursor



class ArticleStore(_ChangeTracking):
    """Articles and their chunk vectors in Chroma (embedded `PersistentClient` or a server)."""

    def __init__(self, client, model_name: str, *, ef_search: int = 200, where: str = ""):
        self._client = client
        self._where = where
        self._lock = threading.RLock()
        self.model_name = model_name
        try:
            self._articles = client.get_or_create_collection(ARTICLES, embedding_function=None)
            self._pending = client.get_or_create_collection(PENDING, embedding_function=None)
            self._chunks = client.get_or_create_collection(
                chunk_collection_name(model_name),
                embedding_function=None,
                metadata={"embedding_model": model_name},
                configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
            )
        except Exception as exc:  # chromadb raises many types; all mean "cannot use this store"
            raise StoreError(f"Cannot open the article store at {where or 'the Chroma server'}: {exc.__class__.__name__}: {exc}") from exc
        self._committed: dict[str, Article] | None = None
        self.revision = 0
        self._init_change_log()

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open_local(cls, path: str | Path, model_name: str, **kw) -> ArticleStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        p = Path(path)
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"The article store folder {p} cannot be written ({exc.strerror}). Set CHROMA_PATH to a writable folder.") from exc
        try:
            client = chromadb.PersistentClient(path=str(p), settings=ChromaSettings(anonymized_telemetry=False))
        except Exception as exc:
            raise StoreError(f"The article store at {p} cannot be opened; it may be corrupt ({exc.__class__.__name__}). Move it aside or set CHROMA_PATH to a new folder.") from exc
        return cls(client, model_name, where=str(p), **kw)

    @classmethod
    def open_server(cls, host: str, port: int, model_name: str, *, ssl: bool = False, **kw) -> ArticleStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False))
            client.heartbeat()
        except Exception as exc:
            raise StoreError(f"Cannot reach the Chroma server at {host}:{port} ({exc.__class__.__name__}). Is `chroma run` up, and are CHROMA_HOST / CHROMA_PORT right?") from exc
        return cls(client, model_name, where=f"{host}:{port}", **kw)

    def records(self, name: str) -> RecordTable:
        """A table of small records beside the articles (e.g. feed subscriptions), in the same
        embedded folder or server."""
        try:
            return RecordTable(self._client.get_or_create_collection(name, embedding_function=None))
        except Exception as exc:
            raise StoreError(f"Cannot open the {name} records in the article store ({exc.__class__.__name__}).") from exc

    # -- reading ---------------------------------------------------------------------------

    def committed(self) -> dict[str, Article]:
        """Every committed article by id (metadata and text), cached and kept current through
        the change log (see `_ChangeTracking`)."""
        with self._lock:
            if self._committed is not None:
                self._follow_changes()
            if self._committed is None:
                self._cache_cursor = ChangeLog.start()
                out: dict[str, Article] = {}
                offset = 0
                while True:
                    got = self._articles.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
                    for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                        out[id_] = _article_from(id_, doc or "", meta or {})
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
                self._committed = out
            return self._committed

    def refresh(self) -> None:
        """Forget the cached article records (they are read again on next use)."""
        with self._lock:
            self._committed = None
            self.revision += 1

    def _changed(self, article_id: str, article: Article | None) -> None:
        # Keep the cache in step with our own write instead of re-reading every record.
        with self._lock:
            if self._committed is not None:
                if article is None:
                    self._committed.pop(article_id, None)
                else:
                    self._committed[article_id] = article
            self.revision += 1

    def get(self, article_id: str) -> Article:
        art = self.committed().get(article_id)
        if art is None:
            raise NotFoundError(f"No article with id {article_id!r}; `list` shows the ids.")
        return art

    def list(self, scopes: Sequence[str] | None = None) -> list[Article]:
        arts = self.committed().values()
        if scopes is not None:
            arts = [a for a in arts if a.scope in scopes]
        return sorted(arts, key=lambda a: (a.published, a.title), reverse=True)

    def is_visible(self, article_id: str, version: str) -> bool:
        art = self.committed().get(article_id)
        return art is not None and art.version == version

    def chunk_count(self) -> int:
        return self._chunks.count()

    def iter_chunks(self) -> Iterator[StoredChunk]:
        """Every visible chunk, page by page (for building the lexical index)."""
        offset = 0
        while True:
            got = self._chunks.get(include=["documents", "metadatas"], limit=_PAGE, offset=offset)
            for id_, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                sc = _chunk_from(id_, doc or "", meta)
                if self.is_visible(sc.chunk.article_id, sc.version):
                    yield sc
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE

    def sentence_vectors(self, chunks: list[Chunk], versions: list[str], dim: int) -> list[np.ndarray | None]:
        """The stored sentence vectors of these chunks (None where a chunk has none)."""
        ids = [chunk_id(c.article_id, v, c.index) for c, v in zip(chunks, versions, strict=True)]
        if not ids:
            return []
        got = self._chunks.get(ids=ids, include=["metadatas"])
        by_id = {i: (m or {}).get("svec", "") for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        return [unpack(by_id[i], dim) if by_id.get(i) else None for i in ids]

    def articles_with_chunks(self) -> set[str]:
        """Ids of the articles that have chunks in this model's collection."""
        out: set[str] = set()
        offset = 0
        while True:
            got = self._chunks.get(include=["metadatas"], limit=_PAGE, offset=offset)
            out.update(str((m or {}).get("article_id")) for m in got["metadatas"])
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def dense_search(self, vector: np.ndarray, k: int, where: dict | None = None,
                     admits: Callable[[Article], bool] | None = None,
                     known: Mapping[str, StoredChunk] | None = None) -> list[tuple[StoredChunk, float]]:
        """The `k` nearest visible chunks with their cosine distance, nearest first.

        `where` is the filter for Chroma; `admits`, the same filter on a chunk's article, lets the
        unfiltered index answer first. Chroma's filtered query checks every chunk the filter
        matches (about 40 ms at 10,000 chunks, against 2 ms unfiltered, and it grows with the
        store), so the nearest 4·(k+8) are fetched unfiltered and filtered here; Chroma filters
        only when too few of them pass (a small server's articles in a large store). `known`:
        chunks already in memory by id (the lexical index's), which are not read again."""
        query = [vector.tolist()]
        if where is None or admits is not None:
            fetch = k + 8 if where is None else 4 * (k + 8)
            got = self._chunks.query(query_embeddings=query, n_results=fetch, include=["distances"])
            ids, dists = got["ids"][0], got["distances"][0]
            committed = self.committed()
            keep: list[tuple[str, float]] = []
            for id_, dist in zip(ids, dists, strict=True):
                parts = id_.rsplit("#", 2)  # article id # version # chunk index
                art = committed.get(parts[0]) if len(parts) == 3 else None
                if art is not None and art.version == parts[1] and (admits is None or admits(art)):
                    keep.append((id_, float(dist)))
            if len(keep) >= k or len(ids) < fetch:
                keep = keep[:k]
                if not keep:
                    return []
                known = known or {}
                rows: dict[str, StoredChunk] = {}
                missing = [i for i, _ in keep if i not in known]
                if missing:
                    got = self._chunks.get(ids=missing, include=["documents", "metadatas"])
                    rows = {i: _chunk_from(i, doc or "", meta) for i, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}
                found = [(rows.get(i) or known.get(i), d) for i, d in keep]
                return [(sc, d) for sc, d in found if sc is not None]
        got = self._chunks.query(
            query_embeddings=query, n_results=k + 8, where=where or None,
            include=["documents", "metadatas", "distances"],
        )
        out = []
        for id_, doc, meta, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True):
            sc = _chunk_from(id_, doc or "", meta)
            if self.is_visible(sc.chunk.article_id, sc.version):
                out.append((sc, float(dist)))
        return out[:k]

    # -- writing ---------------------------------------------------------------------------

    def put(self, article: Article, chunks: list[Chunk], sentences: list[Span], vectors: np.ndarray,
            sentence_vectors: np.ndarray | None = None, *, force: bool = False) -> str:
        """Store an article all-or-nothing; returns "loaded", "updated" or "unchanged".

        `sentence_vectors` (one row per sentence span) ride along in each chunk's metadata."""
        with self._lock:
            old = self.committed().get(article.id)
            if not force and old is not None and old.version == article.version and old.scope == article.scope:
                return "unchanged"
            ids, docs, metas = [], [], []
            for c, inside in zip(chunks, chunk_members(chunks, sentences), strict=True):
                spans = ";".join(f"{sentences[i].start - c.start},{sentences[i].end - c.start}" for i in inside)
                ids.append(chunk_id(article.id, article.version, c.index))
                docs.append(c.text)
                metas.append({
                    "article_id": article.id, "version": article.version, "index": c.index,
                    "start": c.start, "end": c.end, "sentences": spans, "scope": article.scope,
                    "source": article.source, "published_n": date_number(article.published),
                    "svec": pack(sentence_vectors[inside]) if sentence_vectors is not None else "",
                })
            try:
                # An intent record first, so a start after a crash knows what to clean up.
                self._pending.upsert(ids=[article.id], metadatas=[{"version": article.version}], embeddings=[[1.0]])
                for s in range(0, len(ids), 500):
                    self._chunks.upsert(ids=ids[s : s + 500], documents=docs[s : s + 500], metadatas=metas[s : s + 500], embeddings=vectors[s : s + 500].tolist())
                # The commit point: one record, one write.
                self._articles.upsert(ids=[article.id], documents=[article.text], metadatas=[_article_meta(article, len(chunks))], embeddings=[[1.0]])
            except Exception as exc:
                self.refresh()
                raise StoreError(f"Writing to the article store failed ({exc.__class__.__name__}); nothing was half-loaded.") from exc
            self._delete_chunks(article.id, keep_version=article.version)
            self._log_change(article.id, ChangeKind.PUT)
            self._pending.delete(ids=[article.id])
            self._changed(article.id, article)
            return "updated" if old is not None else "loaded"

    def update_metadata(self, article: Article) -> None:
        """Rewrite an article's record only (e.g. a new outlet carrying the same story)."""
        with self._lock:
            got = self._articles.get(ids=[article.id], include=["metadatas"])
            if not got["ids"]:
                raise NotFoundError(f"No article with id {article.id!r}.")
            n = int((got["metadatas"][0] or {}).get("n_chunks", 0))
            self._articles.upsert(ids=[article.id], documents=[article.text], metadatas=[_article_meta(article, n)], embeddings=[[1.0]])
            self._log_change(article.id, ChangeKind.METADATA)
            self._changed(article.id, article)

    def remove(self, article_id: str) -> Article:
        with self._lock:
            art = self.get(article_id)
            self._articles.delete(ids=[article_id])  # uncommit first: its chunks vanish at once
            self._delete_chunks(article_id)
            self._log_change(article_id, ChangeKind.REMOVE)
            self._changed(article_id, None)
            return art

    def _delete_chunks(self, article_id: str, keep_version: str | None = None) -> None:
        where: dict = {"article_id": article_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        self._chunks.delete(where=where)

    def repair(self, full: bool = False) -> int:
        """Delete chunks of loads that never committed (a crash mid-load); returns how many.

        Only articles with an intent record are checked, so this is cheap on every start;
        `full=True` scans every chunk instead.
        """
        with self._lock:
            self.refresh()
            committed = self.committed()
            pending = self._pending.get(include=[])["ids"]
            stale: list[str] = []
            where = None if full else {"article_id": {"$in": pending}}
            if full or pending:
                offset = 0
                while True:
                    got = self._chunks.get(where=where, include=["metadatas"], limit=_PAGE, offset=offset)
                    for id_, meta in zip(got["ids"], got["metadatas"], strict=True):
                        art = committed.get(str(meta.get("article_id")))
                        if art is None or art.version != meta.get("version"):
                            stale.append(id_)
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
            for s in range(0, len(stale), 500):
                self._chunks.delete(ids=stale[s : s + 500])
            self._log_changes_of(pending)  # a load that committed, then died before its change record
            if pending:
                self._pending.delete(ids=pending)
            if stale:
                log.warning("repaired the store: removed %d chunks of unfinished loads", len(stale))
                self.refresh()
            return len(stale)


def with_outlet(article: Article, outlet: str) -> Article:
    if not outlet or outlet in article.outlets:
        return article
    return replace(article, outlets=(*article.outlets, outlet))
