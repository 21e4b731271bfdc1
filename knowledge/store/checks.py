"""Checks at start-up (`repair()`, `short_articles()` for `KnowledgeBase.reindex_missing`) look at
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
import logging
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from .changes import ChangeLog
from .leases import _Leases
from .records import _PAGE, Record, RecordTable

log = logging.getLogger(__name__)

INTEGRITY = "newsbot-integrity"
# Above this many named articles, one read of every chunk id is cheaper than reads by article.
_LIMITED_CENSUS_MAX = 2000


def _count_versions(chunk_ids: list[str], out: Counter[tuple[str, str]]) -> None:
    """Count chunk ids (`article#version#index`) into `out` by (article id, version)."""
    for id_ in chunk_ids:
        parts = id_.rsplit("#", 2)
        if len(parts) == 3:
            out[(parts[0], parts[1])] += 1


class _Checks(_Leases):
    """Recovery and the short-chunk check, mixed into `ArticleStore`."""

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
                    _count_versions(got["ids"], out)
                    if len(got["ids"]) < _PAGE:
                        break
                    offset += _PAGE
            return out
        offset = 0
        while True:
            got = self._chunks.get(include=[], limit=_PAGE, offset=offset)
            _count_versions(got["ids"], out)
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
