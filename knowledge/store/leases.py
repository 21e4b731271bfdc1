"""Loads shared between processes: intent records with an owner and a lease, owner locks, and
clean-up by id (the design is in the package docstring). The store-wide decision lock is in
`decisions`; the checks at start-up and on demand are in `checks`.
"""

from __future__ import annotations

import builtins  # `list` is also a method name in ArticleStore
import fcntl
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import Article, ArticleInfo
from .changes import ChangeKind, ChangeLog
from .records import RecordTable

log = logging.getLogger(__name__)

# A load renews its lease before every 500-chunk batch and before its commit; one batch takes
# well under a second on the embedded store, so a minute is a stall, not a slow write.
LEASE_SECONDS = 60.0


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


class _Leases:
    """The parts of `ArticleStore` that keep loads by several processes from losing each
    other's work: mixed in to keep them apart from reading and writing."""

    _lock: threading.RLock
    _articles: Any  # chromadb Collections behind the outage guard
    _chunks: Any
    _pending: Any
    model_name: str
    owner: str
    _owners: Path | None
    _owner_fd: int | None
    _lease_renewed: float

    if TYPE_CHECKING:
        def committed(self) -> Mapping[str, ArticleInfo]: ...
        def _infos_from(self, ids: Sequence[str], metas: Sequence[Mapping[str, Any] | None]) -> dict[str, ArticleInfo]: ...
        def refresh(self) -> None: ...
        def _log_changes_of(self, article_ids: Sequence[str]) -> None: ...
        def records(self, name: str) -> RecordTable: ...
        def catch_up(self) -> None: ...
        def _log_change(self, article_id: str, kind: ChangeKind) -> None: ...
        def _log_change_all(self, article_ids: Sequence[str], kind: ChangeKind) -> None: ...
        def article_versions(self) -> dict[str, str]: ...
        changes: ChangeLog

    def _abandon(self, article_id: str, intent: str) -> None:
        self._abandon_all([article_id], [intent])

    def _abandon_all(self, article_ids: Sequence[str], intents: Sequence[str]) -> None:
        """After a failed write: remove what it wrote, if the store lets us (else recovery will,
        once this process exits or its lease runs out)."""
        self.refresh()
        try:
            self._settle_all(article_ids, exclude=set(intents))
            self._pending.delete(ids=builtins.list(intents))
        except Exception as exc:  # the store is failing already; the original error matters
            log.info("could not clean up a failed load of %s now (%s)", ", ".join(article_ids), exc.__class__.__name__)

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
        self._renew_all([(intent, article)], first=first, committed=committed)

    def _renew_all(self, loads: Sequence[tuple[str, Article]], *, first: bool = False, committed: bool = False) -> None:
        """Write or renew the intent records of these loads (intent id, article) in one call."""
        if first:
            self._hold_owner_lock()
        elif not committed and time.time() < self._lease_renewed + LEASE_SECONDS / 4:
            return
        if not loads:
            return
        self._lease_renewed = time.time()
        metas = [{"article_id": a.id, "version": a.version, "owner": self.owner, "model": self.model_name,
                  "lease_until": self._lease_renewed + LEASE_SECONDS, "committed": committed} for _, a in loads]
        self._pending.upsert(ids=[i for i, _ in loads], metadatas=metas, embeddings=[[1.0]] * len(loads))
        if not committed:
            # Named in the change log before the chunk writes this renewal precedes, so that a
            # start-up check looks at these articles whatever becomes of the loads (module docstring).
            self._log_change_all(list(dict.fromkeys(a.id for _, a in loads)), ChangeKind.PUT)

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

    def _settle(self, article_id: str, exclude: set[str] | frozenset[str] = frozenset()) -> tuple[ArticleInfo | None, int]:
        """Delete the article's chunks that no one needs: neither of the committed version nor of
        a live load (intent records in `exclude` do not count). Returns the committed article as
        read now (None if there is none) and how many chunks went (see `_settle_all`)."""
        winners, removed, _ = self._settle_all([article_id], exclude)
        return winners[article_id], removed

    def _settle_all(self, article_ids: Sequence[str], exclude: set[str] | frozenset[str] = frozenset(),
                    ) -> tuple[dict[str, ArticleInfo | None], int, Counter[tuple[str, str]]]:
        """`_settle` for several articles in three reads and one delete per 500 chunks. Returns
        each article's committed record as read now (None if there is none), how many chunks
        went, and how many chunks each (article, version) kept.

        The order of the three reads matters: chunks listed first, so a load that begins after
        the listing is never touched; intent records second, so a load that wrote chunks before
        the listing is seen live if it has not finished; the commit records last, so a load that
        finished meanwhile is seen committed."""
        ids = builtins.list(dict.fromkeys(article_ids))
        if not ids:
            return {}, 0, Counter()
        where = {"article_id": ids[0]} if len(ids) == 1 else {"article_id": {"$in": ids}}
        listed = self._chunks.get(where=where, include=[])["ids"]
        pend = self._pending.get(where=where, include=["metadatas"])
        live: set[tuple[str, str]] = set()
        for i, m in zip(pend["ids"], pend["metadatas"], strict=True):
            if i not in exclude and not (m or {}).get("committed") and not self._abandoned(m or {}):
                live.add((str((m or {}).get("article_id")), str((m or {}).get("version"))))
        got = self._articles.get(ids=ids, include=["metadatas"])
        winners: dict[str, ArticleInfo | None] = dict.fromkeys(ids)
        winners.update(self._infos_from(got["ids"], got["metadatas"]))
        keep = live | {(a.id, a.version) for a in winners.values() if a is not None}
        stale: builtins.list[str] = []
        kept: Counter[tuple[str, str]] = Counter()
        for i in listed:
            parts = i.rsplit("#", 2)
            if len(parts) == 3 and (parts[0], parts[1]) in keep:
                kept[(parts[0], parts[1])] += 1
            elif len(parts) == 3:
                stale.append(i)
        for s in range(0, len(stale), 500):
            self._chunks.delete(ids=stale[s : s + 500])
        return winners, len(stale), kept

    def _committed_version(self, article_id: str) -> str | None:
        got = self._articles.get(ids=[article_id], include=["metadatas"])
        return str((got["metadatas"][0] or {}).get("version", "")) if got["ids"] else None

    def _version_count(self, article_id: str, version: str) -> int:
        where = {"$and": [{"article_id": article_id}, {"version": version}]}
        return len(self._chunks.get(where=where, include=[])["ids"])

    def pending_count(self) -> int:
        return int(self._pending.count())

    def _sweep_owner_locks(self) -> None:
        # Lock files of processes that have exited (the lock is free) are removed.
        if self._owners is None or not self._owners.is_dir():
            return
        for path in self._owners.glob("*.lock"):
            if path.stem != self.owner:
                _lock_is_free(path)
