"""The Chroma store: one collection of whole articles, one of embedded chunks per embedding model.

Writes are all-or-nothing. An article's chunks carry its content version; the article record is
written last and is the commit point. Readers only see chunks whose version matches a committed
article record, so a load killed at any moment leaves nothing half-visible. A revised article
(same id, new text) becomes visible in the single write of its record.

Several processes share one store (the bot, the CLI, the feed poller, a second bot, on one folder
or one Chroma server), so clean-up must never take another process's work for debris:

- **Intent records with an owner and a lease.** Before its chunks, a load writes an intent record
  `article#version#owner` (collection `newsbot-pending`) naming its owner (host, pid and a random
  tag, one per open store) and `lease_until`, renewed before every batch of chunk writes and
  before the commit. The record is deleted when the load has settled. Recovery (`repair()`, run
  on every start) treats a load as abandoned only when, for the embedded store, its owner's lock
  is free (below), or, on a Chroma server, its lease has run out (LEASE_SECONDS); a live load
  is left alone.
- **Owner locks for the embedded store.** A process that writes holds `fcntl.flock` on its own
  file `<store>/newsbot-owners/<owner>.lock` until it exits, so a load killed with -9 is known
  abandoned at once (the kernel drops the lock) instead of a lease later. A Chroma server has no
  shared file, so there the lease alone decides (a killed load's invisible chunks are removed
  by the first start after LEASE_SECONDS).
- **Clean-up deletes by id, never by "everything but mine".** After its commit, a writer lists
  the article's chunk ids, then the live intent records, then reads the committed record, in
  that order, and deletes only chunks of versions that are neither committed nor being loaded.
  A writer whose commit was overwritten by another process's revision thus deletes its own
  chunks, not the winner's; a load that starts after the listing is never touched, since its
  chunks are not in the list. Right after its commit a writer marks its intent `committed`:
  from then on only the commit record protects its chunks, so whichever of two racing writers
  settles last sees the other's version as superseded and removes it (the torture benchmark
  found such orphans when an intent protected its version until the very end). Two revisions racing end with exactly one committed version and
  its chunks, whichever commit came last. The winner then checks that its chunks are all there
  and writes them again if not (a lease that ran out while it stalled).
- **Healing.** `KnowledgeBase.reindex_missing()` compares each committed article's `n_chunks`
  with the chunks of its committed version (`chunk_census()`) and re-embeds what is short.

A Chroma server that goes away raises `StoreUnavailable` (a one-line reason) after a few retries
with backoff; every call here is an idempotent read, upsert or delete by id, so a retry repeats
nothing that matters. The next call tries again, so a long-lived process recovers by itself.
Two processes creating a fresh store at once race in Chroma's own set-up ("table collections
already exists"); opening retries that instead of calling the store corrupt.

Within a process, `committed()` is an immutable snapshot that writers replace in one assignment,
so a reader never sees it change under it.
"""

from __future__ import annotations

import builtins  # `list` is also a method name in this module's classes
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunking import chunk_members
from .embeddings import pack, unpack
from .errors import NotFoundError, StoreError, StoreUnavailable
from .models import Article, Chunk, Span

if TYPE_CHECKING:
    import chromadb

log = logging.getLogger(__name__)

ARTICLES = "newsbot-articles"
PENDING = "newsbot-pending"
CHANGES = "newsbot-changes"
OWNERS_DIR = "newsbot-owners"
_PAGE = 2000
# A load renews its lease before every 500-chunk batch and before its commit; one batch takes
# well under a second on the embedded store, so a minute is a stall, not a slow write.
LEASE_SECONDS = 60.0
# Retries of a call to an unreachable server: about 1.75 s in all before StoreUnavailable.
RETRY_DELAYS = (0.25, 0.5, 1.0)
# Opening a fresh store in two processes at once: Chroma's own tables race; retried this often.
OPEN_ATTEMPTS = 8
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


def _unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the server could not be reached (as opposed to a refused request)."""
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


# Once a server was found unreachable, calls in the next few seconds try once, not with the full
# backoff: an `ingest` of 500 files during an outage reports them failed in seconds, not minutes.
_QUIET_SECONDS = 5.0
_down_until = 0.0


def _guarded_call(fn: Callable[..., Any], label: str, /, *args: Any, **kw: Any) -> Any:
    global _down_until
    delays = RETRY_DELAYS if time.monotonic() >= _down_until else ()
    for delay in (*delays, None):
        try:
            out = fn(*args, **kw)
            _down_until = 0.0
            return out
        except Exception as exc:
            if not _unreachable(exc):
                raise
            if delay is None:
                _down_until = time.monotonic() + _QUIET_SECONDS
                raise StoreUnavailable(f"The article store is unreachable right now ({label}: {exc.__class__.__name__}); try again in a minute.") from exc
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class _Guarded:
    """A Chroma collection whose calls retry an unreachable server with backoff, then raise
    `StoreUnavailable`; every call made through it is a read or an idempotent write by id."""

    def __init__(self, collection: Any, where: str):
        self._collection = collection
        self._where = where

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            return _guarded_call(attr, self._where, *args, **kw)

        return call


def _racing_create(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "locked" in text or "unique constraint" in text


def _open_retrying(make: Callable[[], Any]) -> Any:
    """`make()`, tried again while another process is creating the same fresh store."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return make()
        except Exception as exc:
            if attempt == OPEN_ATTEMPTS - 1 or not _racing_create(exc):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _lock_is_free(path: Path) -> bool:
    """True (and the file removed) when nobody holds the owner lock at `path`."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        path.unlink(missing_ok=True)  # unlinked while locked: its owner is gone for good
    finally:
        os.close(fd)
    return True


RecordValue = str | int | float | bool


@dataclass(frozen=True)
class Record:
    """One small record: an id, a text (e.g. JSON) and flat fields."""

    id: str
    text: str
    fields: Mapping[str, RecordValue]


def _flat(meta: Mapping[str, object] | None) -> dict[str, RecordValue]:
    """A Chroma metadata as a record's flat fields (records are written with nothing else)."""
    return {k: v for k, v in (meta or {}).items() if isinstance(v, (str, int, float, bool))}


class RecordTable:
    """Small records kept beside the articles, through the store's API rather than raw Chroma
    calls. Chroma keeps a vector with every record; these are never searched by meaning, so each
    gets the same one-number placeholder, here and nowhere else."""

    _NO_VECTOR = (1.0,)

    def __init__(self, collection: chromadb.Collection):
        self._col = collection

    def all(self) -> list[Record]:
        got = self._col.get(include=["documents", "metadatas"])
        docs, metas = got["documents"] or [], got["metadatas"] or []
        return [Record(i, d or "", _flat(m)) for i, d, m in zip(got["ids"], docs, metas, strict=True)]

    def get(self, id_: str) -> Record | None:
        got = self._col.get(ids=[id_], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return Record(id_, (got["documents"] or [""])[0] or "", _flat((got["metadatas"] or [{}])[0]))

    def has(self, id_: str) -> bool:
        return bool(self._col.get(ids=[id_], include=[])["ids"])

    def put(self, record: Record) -> None:
        self._col.upsert(ids=[record.id], documents=[record.text], metadatas=[dict(record.fields)],
                         embeddings=np.array([self._NO_VECTOR], dtype=np.float32))

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
    _committed: Mapping[str, Article] | None

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
                self._committed = MappingProxyType(fresh)
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

    def __init__(self, client: Any, model_name: str, *, ef_search: int = 200, where: str = "", owners: Path | None = None):
        self._client = client
        self._where = where
        self._lock = threading.RLock()
        self.model_name = model_name
        # One owner per open store: intent records name it; `owners` (embedded stores only) is
        # the folder of owner lock files.
        self.owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._owners = owners
        self._owner_fd: int | None = None
        self._lease_renewed = 0.0
        label = where or "the Chroma server"

        def collections() -> tuple[Any, Any, Any]:
            return (
                client.get_or_create_collection(ARTICLES, embedding_function=None),
                client.get_or_create_collection(PENDING, embedding_function=None),
                client.get_or_create_collection(
                    chunk_collection_name(model_name),
                    embedding_function=None,
                    metadata={"embedding_model": model_name},
                    configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
                ),
            )

        try:
            articles, pending, chunks = _guarded_call(_open_retrying, label, collections)
        except StoreError:
            raise
        except Exception as exc:  # chromadb raises many types; all mean "cannot use this store"
            raise StoreError(f"Cannot open the article store at {label}: {exc.__class__.__name__}: {exc}") from exc
        self._articles = _Guarded(articles, label)
        self._pending = _Guarded(pending, label)
        self._chunks = _Guarded(chunks, label)
        self._committed: Mapping[str, Article] | None = None
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
            # One probe file per process: with a shared name, two processes opening a fresh store
            # at once removed each other's probe and one was told the folder cannot be written.
            probe = p / f".write-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            probe.write_text("ok")
            probe.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"The article store folder {p} cannot be written ({exc.strerror}). Set CHROMA_PATH to a writable folder.") from exc
        def make() -> Any:
            from chromadb.api.client import SharedSystemClient

            try:
                return chromadb.PersistentClient(path=str(p), settings=ChromaSettings(anonymized_telemetry=False))
            except Exception:
                SharedSystemClient.clear_system_cache()  # a half-made client is not reused
                raise

        try:
            client = _open_retrying(make)
        except Exception as exc:
            raise StoreError(f"The article store at {p} cannot be opened; it may be corrupt ({exc.__class__.__name__}). Move it aside or set CHROMA_PATH to a new folder.") from exc
        return cls(client, model_name, where=str(p), owners=p / OWNERS_DIR, **kw)

    @classmethod
    def open_server(cls, host: str, port: int, model_name: str, *, ssl: bool = False, **kw) -> ArticleStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=ChromaSettings(anonymized_telemetry=False))
            client.heartbeat()
        except Exception as exc:
            raise StoreUnavailable(f"Cannot reach the Chroma server at {host}:{port} ({exc.__class__.__name__}). Is `chroma run` up, and are CHROMA_HOST / CHROMA_PORT right?") from exc
        return cls(client, model_name, where=f"{host}:{port}", **kw)

    def records(self, name: str) -> RecordTable:
        """A table of small records beside the articles (e.g. feed subscriptions), in the same
        embedded folder or server."""
        try:
            col = _guarded_call(_open_retrying, self._where, lambda: self._client.get_or_create_collection(name, embedding_function=None))
            return RecordTable(_Guarded(col, self._where or "the Chroma server"))  # type: ignore[arg-type]
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Cannot open the {name} records in the article store ({exc.__class__.__name__}).") from exc

    # -- reading ---------------------------------------------------------------------------

    def committed(self) -> Mapping[str, Article]:
        """Every committed article by id (metadata and text), cached and kept current through
        the change log (see `_ChangeTracking`).

        An immutable snapshot: writers replace it, never change it, so it may be read without
        the lock while another thread loads."""
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
                self._committed = MappingProxyType(out)
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
                new = dict(self._committed)
                if article is None:
                    new.pop(article_id, None)
                else:
                    new[article_id] = article
                self._committed = MappingProxyType(new)
            self.revision += 1

    def get(self, article_id: str) -> Article:
        art = self.committed().get(article_id)
        if art is None:
            raise NotFoundError(f"No article with id {article_id!r}; `list` shows the ids.")
        return art

    def list(self, scopes: Sequence[str] | None = None) -> list[Article]:
        arts = builtins.list(self.committed().values())
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

    def sentence_vectors(self, chunks: builtins.list[Chunk], versions: builtins.list[str], dim: int) -> builtins.list[np.ndarray | None]:
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

    def _query(self, **kw: Any) -> Any:
        """Chroma's nearest-neighbour query. A server answering while another process deletes
        chunks can fail with "Error finding id" (an InternalError; once in 1,058 torture
        operations on `chroma run`): it is tried again, and if it persists the dense side gives
        nothing this once (BM25 still answers) instead of failing the question. An unreachable
        store still raises StoreUnavailable."""
        from chromadb.errors import ChromaError

        for attempt in range(3):
            try:
                return self._chunks.query(**kw)
            except ChromaError as exc:
                if attempt == 2:
                    log.warning("dense search failed (%s: %s); BM25 alone answers this question", exc.__class__.__name__, exc)
                    return {"ids": [[]], "distances": [[]], "documents": [[]], "metadatas": [[]]}
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def dense_search(self, vector: np.ndarray, k: int, where: dict | None = None,
                     admits: Callable[[Article], bool] | None = None,
                     known: Mapping[str, StoredChunk] | None = None) -> builtins.list[tuple[StoredChunk, float]]:
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
            got = self._query(query_embeddings=query, n_results=fetch, include=["distances"])
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
        got = self._query(
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

    def put(self, article: Article, chunks: builtins.list[Chunk], sentences: builtins.list[Span], vectors: np.ndarray,
            sentence_vectors: np.ndarray | None = None, *, force: bool = False, if_version: str | None = None) -> str:
        """Store an article all-or-nothing; returns "loaded", "updated" or "unchanged".

        `sentence_vectors` (one row per sentence span) ride along in each chunk's metadata.
        `if_version`: commit only if the committed version, read just before the commit, is
        still this one (a heal must not undo a revision made meanwhile); else "unchanged".
        When another process commits a revision of the same article at the same moment, the
        later commit wins and the loser's chunks are removed (see the module docstring)."""
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

            def write_chunks() -> None:
                for s in range(0, len(ids), 500):
                    self._renew(intent, article)
                    self._chunks.upsert(ids=ids[s : s + 500], documents=docs[s : s + 500], metadatas=metas[s : s + 500], embeddings=vectors[s : s + 500].tolist())

            intent = self._intent_id(article.id, article.version)
            try:
                # An intent record first, so recovery after a crash knows what to clean up.
                self._renew(intent, article, first=True)
                write_chunks()
                self._renew(intent, article)
                if if_version is not None and self._committed_version(article.id) != if_version:
                    self._settle(article.id, exclude={intent})
                    self._pending.delete(ids=[intent])
                    self.refresh()
                    return "unchanged"
                # The commit point: one record, one write.
                self._articles.upsert(ids=[article.id], documents=[article.text], metadatas=[_article_meta(article, len(chunks))], embeddings=[[1.0]])
                self._log_change(article.id, ChangeKind.PUT)
                # Committed: from now on the intent no longer protects this version's chunks (if a
                # later commit supersedes it, that writer's clean-up must remove them).
                self._renew(intent, article, committed=True)
                winner, _ = self._settle(article.id, exclude={intent})
                if winner is not None and winner.version == article.version and self._version_count(article.id, article.version) < len(ids):
                    # Our chunks went while we stalled past the lease: write them again.
                    log.warning("rewrote the chunks of %s: they were removed while its load stalled", article.id)
                    write_chunks()
                self._pending.delete(ids=[intent])
            except StoreUnavailable:
                self._abandon(article.id, intent)
                raise
            except Exception as exc:
                self._abandon(article.id, intent)
                raise StoreError(f"Writing to the article store failed ({exc.__class__.__name__}); nothing was half-loaded.") from exc
            self._changed(article.id, winner)
            return "updated" if old is not None else "loaded"

    def update_metadata(self, article: Article) -> None:
        """Rewrite an article's record only (e.g. a new outlet carrying the same story)."""
        with self._lock:
            got = self._articles.get(ids=[article.id], include=["metadatas"])
            if not got["ids"]:
                raise NotFoundError(f"No article with id {article.id!r}.")
            meta = got["metadatas"][0] or {}
            if meta.get("version") != article.version:
                self.refresh()  # revised meanwhile by another process: keep its version
                return
            n = int(meta.get("n_chunks", 0))
            self._articles.upsert(ids=[article.id], documents=[article.text], metadatas=[_article_meta(article, n)], embeddings=[[1.0]])
            self._log_change(article.id, ChangeKind.METADATA)
            self._changed(article.id, article)

    def remove(self, article_id: str) -> Article:
        with self._lock:
            art = self.get(article_id)
            self._articles.delete(ids=[article_id])  # uncommit first: its chunks vanish at once
            winner, _ = self._settle(article_id)
            self._log_change(article_id, ChangeKind.REMOVE)
            self._changed(article_id, winner)
            return art

    # -- loads shared between processes ------------------------------------------------------

    def _abandon(self, article_id: str, intent: str) -> None:
        """After a failed write: remove what it wrote, if the store lets us (else recovery will,
        once this process exits or its lease runs out)."""
        self.refresh()
        try:
            self._settle(article_id, exclude={intent})
            self._pending.delete(ids=[intent])
        except Exception as exc:  # the store is failing already; the original error matters
            log.info("could not clean up a failed load of %s now (%s)", article_id, exc.__class__.__name__)

    def _intent_id(self, article_id: str, version: str) -> str:
        return f"{article_id}#{version}#{self.owner}"

    def _hold_owner_lock(self) -> None:
        """Take this store's owner lock (embedded stores), held until the process exits."""
        if self._owners is None or self._owner_fd is not None:
            return
        self._owners.mkdir(exist_ok=True)
        path = self._owners / f"{self.owner}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # a recovery removed the file between our open and our lock: again
        self._owner_fd = fd

    def _renew(self, intent: str, article: Article, *, first: bool = False, committed: bool = False) -> None:
        if first:
            self._hold_owner_lock()
        elif not committed and time.time() < self._lease_renewed + LEASE_SECONDS / 4:
            return
        self._lease_renewed = time.time()
        meta = {"article_id": article.id, "version": article.version, "owner": self.owner, "model": self.model_name,
                "lease_until": self._lease_renewed + LEASE_SECONDS, "committed": committed}
        self._pending.upsert(ids=[intent], metadatas=[meta], embeddings=[[1.0]])

    def _abandoned(self, meta: Mapping[str, Any]) -> bool:
        """Whether the load an intent record stands for is dead (see the module docstring).

        On the embedded store the owner's lock alone decides, lease or not: a live process
        stalled past its lease (a loaded machine) once had its intent removed by another's
        recovery, and chunks it wrote after that were left with no intent to clean them up."""
        owner = str(meta.get("owner", ""))
        if owner == self.owner:
            return False
        if self._owners is not None and owner and "/" not in owner:
            return _lock_is_free(self._owners / f"{owner}.lock")
        return float(meta.get("lease_until", 0) or 0) < time.time()  # 0 for records without a lease

    def _settle(self, article_id: str, exclude: set[str] | frozenset[str] = frozenset()) -> tuple[Article | None, int]:
        """Delete the article's chunks that no one needs: neither of the committed version nor of
        a live load (intent records in `exclude` do not count). Returns the committed article as
        read now (None if there is none) and how many chunks went.

        The order of the three reads matters: chunks listed first, so a load that begins after
        the listing is never touched; intent records second, so a load that wrote chunks before
        the listing is seen live if it has not finished; the commit record last, so a load that
        finished meanwhile is seen committed."""
        listed = self._chunks.get(where={"article_id": article_id}, include=[])["ids"]
        pend = self._pending.get(where={"article_id": article_id}, include=["metadatas"])
        live = {str((m or {}).get("version")) for i, m in zip(pend["ids"], pend["metadatas"], strict=True)
                if i not in exclude and not (m or {}).get("committed") and not self._abandoned(m or {})}
        got = self._articles.get(ids=[article_id], include=["documents", "metadatas"])
        winner = _article_from(got["ids"][0], got["documents"][0] or "", got["metadatas"][0] or {}) if got["ids"] else None
        keep = live | ({winner.version} if winner else set())
        stale = [i for i in listed if (parts := i.rsplit("#", 2)) and len(parts) == 3 and parts[1] not in keep]
        for s in range(0, len(stale), 500):
            self._chunks.delete(ids=stale[s : s + 500])
        return winner, len(stale)

    def _committed_version(self, article_id: str) -> str | None:
        got = self._articles.get(ids=[article_id], include=["metadatas"])
        return str((got["metadatas"][0] or {}).get("version", "")) if got["ids"] else None

    def _version_count(self, article_id: str, version: str) -> int:
        where = {"$and": [{"article_id": article_id}, {"version": version}]}
        return len(self._chunks.get(where=where, include=[])["ids"])

    def chunk_census(self) -> Counter[tuple[str, str]]:
        """How many chunks each (article id, version) has here: one metadata-free read."""
        out: Counter[tuple[str, str]] = Counter()
        offset = 0
        while True:
            got = self._chunks.get(include=[], limit=_PAGE, offset=offset)
            for id_ in got["ids"]:
                parts = id_.rsplit("#", 2)
                if len(parts) == 3:
                    out[(parts[0], parts[1])] += 1
            if len(got["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def short_articles(self) -> builtins.list[tuple[str, str]]:
        """(id, version) of committed articles whose committed version has fewer chunks here
        than its record's `n_chunks` (none at all, after switching embedding models): two
        reads, the article records' metadata and then the chunk ids."""
        want: dict[tuple[str, str], int] = {}
        offset = 0
        while True:
            got = self._articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for id_, m in zip(got["ids"], got["metadatas"], strict=True):
                want[(id_, str((m or {}).get("version", "")))] = max(1, int((m or {}).get("n_chunks", 0) or 0))
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        have = self.chunk_census()
        return sorted(k for k, n in want.items() if have.get(k, 0) < n)

    def pending_count(self) -> int:
        return int(self._pending.count())

    def repair(self, full: bool = False, *, all_abandoned: bool = False) -> int:
        """Delete chunks of loads that were abandoned (a crash mid-load); returns how many.

        A load whose owner is alive (or, on a server, whose lease runs) is left alone. The
        articles checked are those with an intent record and those holding chunks of a version
        that is not committed (from the chunk ids alone, so this is cheap on every start).
        `full` is kept for callers; every repair is full now. `all_abandoned=True` (for a
        checker that knows every writer has stopped) treats every intent as abandoned.
        """
        with self._lock:
            self.refresh()
            pend = self._pending.get(include=["metadatas"])
            # A load with another embedding model wrote to another chunk collection: its own
            # model's processes clean it up.
            dead = {i for i, m in zip(pend["ids"], pend["metadatas"], strict=True)
                    if (m or {}).get("model", self.model_name) == self.model_name and (all_abandoned or self._abandoned(m or {}))}
            articles = {str((m or {}).get("article_id") or i.split("#", 1)[0]) for i, m in zip(pend["ids"], pend["metadatas"], strict=True) if i in dead}
            # Also every article holding chunks of a version that is not committed, intent or not
            # (one read of the chunk ids): the 1,000-operation torture runs left 1 and 3 such
            # orphans without an intent record, on the embedded store and on a server.
            committed = self.committed()
            articles |= {a for a, v in self.chunk_census() if (art := committed.get(a)) is None or art.version != v}
            removed = sum(self._settle(a, exclude=dead)[1] for a in sorted(articles))
            # a load that committed, then died before its change record
            self._log_changes_of(sorted(articles))
            if dead:
                self._pending.delete(ids=sorted(dead))
            self._sweep_owner_locks()
            if removed:
                log.warning("repaired the store: removed %d chunks of unfinished loads", removed)
                self.refresh()
            return removed

    def _sweep_owner_locks(self) -> None:
        # Lock files of processes that have exited (the lock is free) are removed.
        if self._owners is None or not self._owners.is_dir():
            return
        for path in self._owners.glob("*.lock"):
            if path.stem != self.owner:
                _lock_is_free(path)


def with_outlet(article: Article, outlet: str) -> Article:
    if not outlet or outlet in article.outlets:
        return article
    return replace(article, outlets=(*article.outlets, outlet))
