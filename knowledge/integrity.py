"""Invariants of a stored corpus, read from the store directly (for tests, the torture benchmark
and an operator's check after a crash).

After every writer has stopped and `ArticleStore.repair(all_abandoned=True)` has run, a store
shared by any number of processes, killed at any moment, must hold:

- every committed article's record names `n_chunks`, and exactly the chunks
  `id#version#0 .. id#version#(n_chunks-1)` of its committed version exist;
- no chunk of any other (article, version): no orphans;
- no intent record of a load.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from .store import _PAGE, ArticleStore


class Breach(Enum):
    MISSING_CHUNKS = "missing-chunks"  # a committed version lacks some of its chunks
    EXTRA_CHUNKS = "extra-chunks"  # a committed version has chunks past its n_chunks
    ORPHAN = "orphan"  # a chunk of no committed version
    LEFTOVER_INTENT = "leftover-intent"  # an intent record with no load behind it


@dataclass(frozen=True)
class Violation:
    kind: Breach
    article_id: str
    detail: str


def _all_ids(collection: Any, include: list[str]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    offset = 0
    while True:
        got = collection.get(include=include, limit=_PAGE, offset=offset)
        metas = got.get("metadatas") or [None] * len(got["ids"])
        out += [(i, m or {}) for i, m in zip(got["ids"], metas, strict=True)]
        if len(got["ids"]) < _PAGE:
            return out
        offset += _PAGE


def violations(store: ArticleStore, *, intents_allowed: bool = False) -> list[Violation]:
    """Every breach of the invariants above, read straight from Chroma (no caches)."""
    found: list[Violation] = []
    records = {i: m for i, m in _all_ids(store._articles, ["metadatas"])}
    by_key: dict[tuple[str, str], set[int]] = {}
    for id_, _ in _all_ids(store._chunks, []):
        article_id, version, index = id_.rsplit("#", 2)
        by_key.setdefault((article_id, version), set()).add(int(index))
    for article_id, meta in sorted(records.items()):
        version, n = str(meta.get("version", "")), int(meta.get("n_chunks", 0) or 0)
        have = by_key.pop((article_id, version), set())
        if n < 1 or not set(range(n)) <= have:
            found.append(Violation(Breach.MISSING_CHUNKS, article_id, f"version {version}: {len(have)} of {n} chunks"))
        if have - set(range(n)):
            found.append(Violation(Breach.EXTRA_CHUNKS, article_id, f"version {version}: chunks past {n}"))
    for (article_id, version), idx in sorted(by_key.items()):
        found.append(Violation(Breach.ORPHAN, article_id, f"{len(idx)} chunks of uncommitted version {version}"))
    if not intents_allowed:
        for id_, meta in _all_ids(store._pending, ["metadatas"]):
            found.append(Violation(Breach.LEFTOVER_INTENT, str(meta.get("article_id", id_)), id_))
    return found
