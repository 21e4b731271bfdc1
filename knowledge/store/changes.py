"""The change log: how each process sharing a store learns what the others changed.

Every process sharing a store (the bot, the CLI, the feed poller, a second bot against the same
Chroma server) learns what others changed from one small collection beside the articles: one
record per article id, written after each commit (`put`), metadata rewrite or removal, holding
the kind of change and `seq`, the writer's wall clock in microseconds. A reader asks for the
records with `seq` above its cursor and re-reads just those articles (the article record is the
truth; the change record only says "look again"), so re-reading a record twice is harmless.

Ordering across processes and machines: a writer's clock orders its own records; between
writers nothing is assumed but a bounded skew. The cursor a reader keeps is therefore held
CHANGE_GRACE_US behind the newest record it has seen (and never ahead of its own clock), and
every poll re-reads that window. A change is missed only if its writer's clock runs more than
CHANGE_GRACE_US behind the reader's, or its record takes that long to become visible after it
was stamped. Delay: a reader polls at most every CHANGE_POLL_S seconds (on its next read after
that), so a committed change is seen within CHANGE_POLL_S of its change record being written.
A process that dies between an article's commit and its change record leaves an intent
record, and `repair()` logs a change for it. The log holds one record per article id ever
stored, so it grows with the store, not with the number of writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..models import ArticleInfo
from .records import _PAGE, CHANGES, StoredChunk, _chunk_from

log = logging.getLogger(__name__)

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

    def write(self, article_ids: Sequence[str], kind: ChangeKind) -> int:
        """Record a change to these articles; returns the records' `seq`."""
        now = _now_us()
        if article_ids:
            self._col.upsert(
                ids=list(article_ids), embeddings=[[1.0]] * len(article_ids),
                metadatas=[{"kind": kind.value, "seq": now} for _ in article_ids],
            )
        return now

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
    _committed: Mapping[str, ArticleInfo] | None
    _snapshot_dirty: bool

    if TYPE_CHECKING:
        def _infos_from(self, ids: Sequence[str], metas: Sequence[Mapping[str, Any] | None]) -> dict[str, ArticleInfo]: ...

    def _init_change_log(self) -> None:
        try:
            self.changes = ChangeLog(self._client.get_or_create_collection(CHANGES, embedding_function=None))
        except Exception as exc:  # chromadb raises many types; all mean "cannot use this store"
            raise StoreError(f"Cannot open the change log of the article store ({exc.__class__.__name__}: {exc}).") from exc
        self._cache_cursor = ChangeLog.start()
        self._polled = time.monotonic()
        self.poll_seconds = CHANGE_POLL_S
        # The change records this process wrote (article id -> seq) and has in its snapshot
        # already: a poll skips them. Without this, a bulk load re-read every article it had
        # stored in the last CHANGE_GRACE_US, text included, once a second.
        self._own_changes: dict[str, int] = {}

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
        self._log_change_all([article_id], kind)

    def _log_change_all(self, article_ids: Sequence[str], kind: ChangeKind) -> None:
        """One change record per article, written in one call."""
        try:
            seq = self.changes.write(article_ids, kind)
            with self._lock:
                self._own_changes.update(dict.fromkeys(article_ids, seq))
        except Exception as exc:  # the commit stands; other processes see it on their next start
            log.warning("could not record the change to %s for other processes (%s)", ", ".join(article_ids), exc.__class__.__name__)

    def _log_changes_of(self, article_ids: Sequence[str]) -> None:
        self.changes.write(list(article_ids), ChangeKind.PUT)

    def reload(self, article_ids: Sequence[str]) -> dict[str, ArticleInfo | None]:
        """Read these article records again (the changed ones; metadata only); the cached
        snapshot is replaced by a new dict, never edited, so a reader holding the old one keeps
        a consistent view. Returns each id's current facts, None where it is gone."""
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        got = self._articles.get(ids=ids, include=["metadatas"])
        now: dict[str, ArticleInfo | None] = dict.fromkeys(ids)
        now.update(self._infos_from(got["ids"], got["metadatas"]))
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

    def catch_up(self) -> None:
        """Read the change log now rather than at the next poll (under the decision lock, a
        load must see the commit the previous holder made a moment ago)."""
        with self._lock:
            if self._committed is not None:
                self._polled = float("-inf")
                self._follow_changes()

    def _follow_changes(self) -> int | None:
        """Bring the cached article records up to date with other processes' writes, at most
        once per `poll_seconds` (called on each read of the cache). Returns how many articles
        were read again (None if the change log could not be read)."""
        if time.monotonic() - self._polled < self.poll_seconds:
            return 0
        self._polled = time.monotonic()
        try:
            changes, cursor = self.changes.since(self._cache_cursor)
        except Exception as exc:  # keep answering from what we have; try again next poll
            log.warning("could not read the store's change log (%s)", exc.__class__.__name__)
            return None
        with self._lock:
            own = self._own_changes
            again = [c.article_id for c in changes if own.get(c.article_id) != c.seq]
            self.reload(again)
            self._cache_cursor = cursor
            self._own_changes = {i: seq for i, seq in own.items() if seq > cursor}
            if again:
                self._snapshot_dirty = True
        return len(again)
