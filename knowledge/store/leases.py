"""Loads shared between processes: intent records with an owner and a lease, owner locks,
clean-up by id, recovery and healing (the design is in the package docstring), and the
store-wide decision lock.

The decision lock (`decision_lock`) is held while a load decides what to do (new, revision,
duplicate of a stored story) and does it, so that two processes loading copies of one story at
the same moment cannot both store them. Within a process a re-entrant thread lock serialises
threads. Across processes:

- **Embedded store:** `fcntl.flock` on `<store>/newsbot-decide.lock`. The kernel drops it when
  its holder exits, kill -9 included, so a crash never leaves the store locked.
- **Chroma server:** no shared file, so a lease record `decide` in the `newsbot-locks`
  collection, taken by Fischer's timed mutual exclusion: wait until the record is absent or
  its lease (DECIDE_LEASE_S) has run out, write it with a fresh token, wait DECIDE_SETTLE_S,
  read it back, and hold the lock only if the token is still ours. Chroma has no
  compare-and-swap; this is safe as long as a process writes the record within DECIDE_SETTLE_S
  of reading it free (two local calls: milliseconds), and the holder finishes within the lease
  (one article's writes, embedding done before the lock). A holder killed with -9 delays other
  loads by at most the lease, and not at all on its own machine, where its exit is seen
  (`_gone`: its process id no longer exists).

After taking the lock a process reads the change log at once (not up to CHANGE_POLL_S later),
so its decision sees every commit made under the lock before.

Checks at start-up (`repair()`, `short_articles()` for `KnowledgeBase.reindex_missing`) look at
the chunks of the articles that could have gone wrong since the last check, not at every chunk
id (a census of every chunk id was ~500k ids per process start at 50x the BBC corpus):

- Each check, when done, records a checkpoint in the store (`newsbot-integrity`, one record per
  check and embedding model): the change-log cursor taken before its reads began.
- The next check reads the change log since that cursor, and checks only the articles it names,
  plus every article with an intent record; a store with no checkpoint yet (a new store, or one
  just switched to another embedding model) gets a full check, as does `full=True`
  (`python -m bot check`).

Why that is enough: a store's chunks change only through `put`, `remove` and the clean-up they
and `repair` do, and each leaves the article in the change log after its last chunk write:
a load logs a change with every renewal of its intent record, which comes before each batch of
chunk writes (so a load killed at any point, even one whose intent record another process's
recovery removed, is named), then again at its commit; a removal and a repair log the articles
they settle. A change record is seen by a later check as long as writers' clocks are within
CHANGE_GRACE_US of each other (the cursor is held that far back). What this cannot see is a
chunk deleted or added behind newsbot's back (by hand, by another program, a damaged disk):
the full check is for that, on demand.
"""

from __future__ import annotations

import builtins  # `list` is also a method name in ArticleStore
import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import Article
from .changes import ChangeKind, ChangeLog
from .records import _PAGE, Record, RecordTable, _article_from

log = logging.getLogger(__name__)

# A load renews its lease before every 500-chunk batch and before its commit; one batch takes
# well under a second on the embedded store, so a minute is a stall, not a slow write.
LEASE_SECONDS = 60.0
# The decision lock on a server: a holder writes one article's chunks and record under it (well
# under a second to a local server; embedding happens before), so 15 s is a stall, not a load.
DECIDE_LEASE_S = 15.0
DECIDE_SETTLE_S = 0.2  # Fischer's delay: far above one read and one write (~3 ms each)
DECIDE_POLL_S = 0.05
LOCKS = "newsbot-locks"
INTEGRITY = "newsbot-integrity"
# Above this many named articles, one read of every chunk id is cheaper than reads by article.
_LIMITED_CENSUS_MAX = 2000
DECIDE_LOCK_FILE = "newsbot-decide.lock"
_decision_guard = threading.Lock()


def _gone(owner: str) -> bool:
    """Whether `owner` (host-pid-tag) was a process on this machine that has exited: its lock
    lease need not be waited out (a holder killed with -9 on the same machine as most of a
    server's clients)."""
    host, _, rest = owner.rpartition("-")[0].rpartition("-")
    pid = rest if host else ""
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


class _DecisionLock:
    """One open store's share of the decision lock: a re-entrant thread lock, the depth of
    nesting, and what is held across processes (a file descriptor or a server token)."""

    def __init__(self) -> None:
        self.threads = threading.RLock()
        self.depth = 0
        self.fd: int | None = None
        self.token = ""


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
        def committed(self) -> Mapping[str, Article]: ...
        def refresh(self) -> None: ...
        def _log_changes_of(self, article_ids: Sequence[str]) -> None: ...
        def records(self, name: str) -> RecordTable: ...
        def catch_up(self) -> None: ...
        def _log_change(self, article_id: str, kind: ChangeKind) -> None: ...
        def _log_change_all(self, article_ids: Sequence[str], kind: ChangeKind) -> None: ...
        def article_versions(self) -> dict[str, str]: ...
        changes: ChangeLog

    @contextmanager
    def decision_lock(self) -> Iterator[None]:
        """Hold the store-wide decision lock (see the module docstring); re-entrant. On entry the
        cached articles are brought up to date with every change logged so far."""
        with _decision_guard:
            state: _DecisionLock | None = getattr(self, "_decision", None)
            if state is None:
                state = self._decision = _DecisionLock()
        with state.threads:
            if state.depth == 0:
                self._take_decision_lock(state)
            state.depth += 1
            try:
                if state.depth == 1:
                    self.catch_up()
                yield
            finally:
                state.depth -= 1
                if state.depth == 0:
                    self._drop_decision_lock(state)

    def _take_decision_lock(self, state: _DecisionLock) -> None:
        if self._owners is not None:
            fd = os.open(self._owners.parent / DECIDE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            state.fd = fd
            return
        table = self._locks()
        token = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        while True:
            rec = table.get("decide")
            if rec is None or float(rec.fields.get("lease_until", 0) or 0) < time.time() or _gone(str(rec.fields.get("owner", ""))):
                table.put(Record("decide", "", {"token": token, "owner": self.owner, "lease_until": time.time() + DECIDE_LEASE_S}))
                time.sleep(DECIDE_SETTLE_S)
                rec = table.get("decide")
                if rec is not None and rec.fields.get("token") == token:
                    state.token = token
                    return
            time.sleep(DECIDE_POLL_S * (1 + (uuid.uuid4().int % 100) / 100))  # jittered: no lock-step retries

    def _drop_decision_lock(self, state: _DecisionLock) -> None:
        if state.fd is not None:
            fd, state.fd = state.fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if state.token:
            token, state.token = state.token, ""
            try:
                table = self._locks()
                rec = table.get("decide")
                if rec is not None and rec.fields.get("token") == token:
                    table.delete("decide")
            except Exception as exc:  # the lease runs out by itself
                log.info("could not release the decision lock (%s)", exc.__class__.__name__)


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

    def _settle(self, article_id: str, exclude: set[str] | frozenset[str] = frozenset()) -> tuple[Article | None, int]:
        """Delete the article's chunks that no one needs: neither of the committed version nor of
        a live load (intent records in `exclude` do not count). Returns the committed article as
        read now (None if there is none) and how many chunks went (see `_settle_all`)."""
        winners, removed, _ = self._settle_all([article_id], exclude)
        return winners[article_id], removed

    def _settle_all(self, article_ids: Sequence[str], exclude: set[str] | frozenset[str] = frozenset(),
                    ) -> tuple[dict[str, Article | None], int, Counter[tuple[str, str]]]:
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
        got = self._articles.get(ids=ids, include=["documents", "metadatas"])
        winners: dict[str, Article | None] = dict.fromkeys(ids)
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            winners[i] = _article_from(i, d or "", m or {})
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

    def _locks(self) -> RecordTable:
        table: RecordTable | None = getattr(self, "_locks_table", None)
        if table is None:
            table = self._locks_table = self.records(LOCKS)
        return table

    def _integrity(self) -> RecordTable:
        table: RecordTable | None = getattr(self, "_integrity_table", None)
        if table is None:
            table = self._integrity_table = self.records(INTEGRITY)
        return table

    def _to_check(self, check: str, full: bool) -> tuple[set[str] | None, int]:
        """The articles `check` must look at (None: every one) and the cursor to record once it
        is done (see the module docstring)."""
        cursor = ChangeLog.start()  # before any read: whatever is logged from here on is checked next time
        if full:
            return None, cursor
        rec = self._integrity().get(f"{check}:{self.model_name}")
        since = rec.fields.get("cursor") if rec is not None else None
        if not isinstance(since, int):
            return None, cursor
        changes, _ = self.changes.since(since)
        named = {c.article_id for c in changes}
        return (None if len(named) > _LIMITED_CENSUS_MAX else named), cursor

    def _versions_of(self, article_ids: set[str]) -> dict[str, str]:
        """The committed version of each of these articles that is committed, read now."""
        out: dict[str, str] = {}
        ids = sorted(article_ids)
        for s in range(0, len(ids), _PAGE):
            got = self._articles.get(ids=ids[s : s + _PAGE], include=["metadatas"])
            out.update((i, str((m or {}).get("version", ""))) for i, m in zip(got["ids"], got["metadatas"], strict=True))
        return out

    def record_check(self, check: str, cursor: int) -> None:
        """Record that `check` ("repair" or "short") found or put right everything up to
        `cursor` (from `_to_check`, taken before its reads)."""
        self._integrity().put(Record(f"{check}:{self.model_name}", "", {"cursor": int(cursor), "at": time.time()}))

    def chunk_census(self, article_ids: set[str] | None = None) -> Counter[tuple[str, str]]:
        """How many chunks each (article id, version) has here: one metadata-free read of every
        chunk id, or of the chunk ids of `article_ids` only."""
        out: Counter[tuple[str, str]] = Counter()
        if article_ids is not None:
            ids = sorted(article_ids)
            for s in range(0, len(ids), 100):
                part = ids[s : s + 100]
                where = {"article_id": part[0]} if len(part) == 1 else {"article_id": {"$in": part}}
                offset = 0
                while True:
                    got = self._chunks.get(where=where, include=[], limit=_PAGE, offset=offset)
                    for id_ in got["ids"]:
                        parts = id_.rsplit("#", 2)
                        if len(parts) == 3:
                            out[(parts[0], parts[1])] += 1
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
            return out
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

    def short_articles(self, full: bool = False) -> builtins.list[tuple[str, str]]:
        """(id, version) of committed articles whose committed version has fewer chunks here
        than its record's `n_chunks` (see `short_check`)."""
        return self.short_check(full)[0]

    def short_check(self, full: bool = False) -> tuple[builtins.list[tuple[str, str]], int]:
        """(id, version) of committed articles whose committed version has fewer chunks here
        than its record's `n_chunks` (none at all, after switching embedding models), from the
        article records' metadata and then the chunk ids, of every article when `full` or on
        the first check with this embedding model, else of the articles named in the change
        log since the last check (module docstring); and the cursor to pass to
        `record_check("short", …)` once they are healed."""
        named, cursor = self._to_check("short", full)
        want: dict[tuple[str, str], int] = {}

        def note(got: Mapping[str, Any]) -> None:
            for id_, m in zip(got["ids"], got["metadatas"], strict=True):
                want[(id_, str((m or {}).get("version", "")))] = max(1, int((m or {}).get("n_chunks", 0) or 0))

        if named is not None:
            for s in range(0, len(ids := sorted(named)), _PAGE):
                note(self._articles.get(ids=ids[s : s + _PAGE], include=["metadatas"]))
        else:
            offset = 0
            while True:
                got = self._articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
                note(got)
                if len(got["ids"]) < _PAGE:
                    break
                offset += _PAGE
        have = self.chunk_census(named)
        return sorted(k for k, n in want.items() if have.get(k, 0) < n), cursor

    def pending_count(self) -> int:
        return int(self._pending.count())

    def repair(self, full: bool = False, *, all_abandoned: bool = False) -> int:
        """Delete chunks of loads that were abandoned (a crash mid-load); returns how many.

        A load whose owner is alive (or, on a server, whose lease runs) is left alone. The
        articles checked are those with an intent record and those holding chunks of a version
        that is not committed, found from chunk ids alone: of the articles named in the change
        log since the last repair, or of every article when `full` or when this store has no
        record of a repair with this embedding model yet (see the module docstring); their
        committed versions are read from the article records' metadata (of those articles
        only, unless full). `all_abandoned=True` (for a checker that knows every writer has
        stopped) treats every intent as abandoned. Whether a version is kept is decided again
        by `_settle`, from its own ordered reads, so a load that commits meanwhile is safe.
        """
        with self._lock:
            named, cursor = self._to_check("repair", full)
            pend = self._pending.get(include=["metadatas"])
            # A load with another embedding model wrote to another chunk collection: its own
            # model's processes clean it up.
            dead = {i for i, m in zip(pend["ids"], pend["metadatas"], strict=True)
                    if (m or {}).get("model", self.model_name) == self.model_name and (all_abandoned or self._abandoned(m or {}))}
            articles = {str((m or {}).get("article_id") or i.split("#", 1)[0]) for i, m in zip(pend["ids"], pend["metadatas"], strict=True) if i in dead}
            # Also every article holding chunks of a version that is not committed, intent or not
            # (one read of the chunk ids): the 1,000-operation torture runs left 1 and 3 such
            # orphans without an intent record, on the embedded store and on a server.
            versions = self.article_versions() if named is None else self._versions_of(named)
            articles |= {a for a, v in self.chunk_census(named) if versions.get(a) != v}
            removed = sum(self._settle(a, exclude=dead)[1] for a in sorted(articles))
            # a load that committed, then died before its change record
            self._log_changes_of(sorted(articles))
            if dead:
                self._pending.delete(ids=sorted(dead))
            self._sweep_owner_locks()
            self.record_check("repair", cursor)
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
