"""New copies of a story that is already stored: syndicated near-duplicates and revisions.

Syndication: one wire story carried by several outlets arrives under different addresses with
nearly the same text. `find_duplicate` spots it before anything is embedded, by the Jaccard
similarity of the two texts' 5-word shingles. Candidates come from a bottom-k sketch index (the
k smallest shingle hashes of every stored article, kept in memory per store), so a check costs a
few dictionary look-ups plus an exact comparison with at most a handful of stored articles.

Revisions: `as_revision` carries what is known about a stored article over to its new version.
"""

from __future__ import annotations

import datetime as dt
import heapq
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from .models import Article

if TYPE_CHECKING:
    from .store import ArticleStore

SHINGLE_WORDS = 5
SKETCH_SIZE = 32
THRESHOLD = 0.85  # 5-word-shingle Jaccard at which two texts count as one story
MAX_CANDIDATES = 5
_WORD = re.compile(r"\w+")


def shingles(text: str, k: int = SHINGLE_WORDS) -> frozenset[int]:
    """Hashes of the text's k-word runs, ignoring case and punctuation (the hashes are
    Python's, stable within one process, which is all the in-memory index needs)."""
    words = _WORD.findall(text.casefold())
    if len(words) <= k:
        return frozenset({hash(" ".join(words))}) if words else frozenset()
    return frozenset(hash(" ".join(words[i : i + k])) for i in range(len(words) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similarity(text_a: str, text_b: str) -> float:
    """How much of two texts is the same wording: shingle Jaccard from 0.0 to 1.0."""
    return jaccard(shingles(text_a), shingles(text_b))


def sketch(sh: frozenset[int], size: int = SKETCH_SIZE) -> tuple[int, ...]:
    return tuple(heapq.nsmallest(size, sh))


@dataclass(frozen=True)
class _Entry:
    version: str
    scope: str
    sketch: tuple[int, ...]


class DuplicateIndex:
    """Bottom-k sketches of stored articles' texts, kept in step with the committed articles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._postings: dict[int, set[str]] = defaultdict(set)

    def sync(self, committed: Mapping[str, Article]) -> None:
        """Index new and revised articles, forget removed ones (cheap when nothing changed)."""
        with self._lock:
            for id_ in [i for i, e in self._entries.items() if committed.get(i) is None or committed[i].version != e.version]:
                self._drop(id_)
            for id_, art in committed.items():
                if id_ not in self._entries:
                    entry = _Entry(art.version, art.scope, sketch(shingles(art.text)))
                    self._entries[id_] = entry
                    for h in entry.sketch:
                        self._postings[h].add(id_)

    def _drop(self, id_: str) -> None:
        for h in self._entries.pop(id_).sketch:
            ids = self._postings[h]
            ids.discard(id_)
            if not ids:
                del self._postings[h]

    def find(self, article: Article, committed: Mapping[str, Article], threshold: float = THRESHOLD) -> tuple[Article, float] | None:
        """The stored article in `article`'s scope most like it, if at least `threshold` alike."""
        sh = shingles(article.text)
        if not sh:
            return None
        mine = sketch(sh)
        with self._lock:
            shared = Counter(i for h in mine for i in self._postings.get(h, ()))
            entries = dict(self._entries)
        # A near-duplicate shares most of its sketch; a handful of shared hashes is chance.
        floor = max(1, int(0.3 * len(mine)))
        ranked = [i for i, n in shared.most_common() if n >= floor and i != article.id and entries[i].scope == article.scope]
        best: tuple[Article, float] | None = None
        for id_ in ranked[:MAX_CANDIDATES]:
            other = committed.get(id_)
            if other is None:
                continue
            score = jaccard(sh, shingles(other.text))
            if score >= threshold and (best is None or score > best[1]):
                best = (other, score)
        return best


_indexes: WeakKeyDictionary[ArticleStore, DuplicateIndex] = WeakKeyDictionary()
_indexes_lock = threading.Lock()


def find_duplicate(store: ArticleStore, article: Article, threshold: float = THRESHOLD) -> Article | None:
    """The committed article in `store` (an `ArticleStore`) that `article` is a near-copy of,
    in the same scope and under another id, or None. Blocking (reads the store)."""
    with _indexes_lock:
        index = _indexes.get(store)
        if index is None:
            index = _indexes[store] = DuplicateIndex()
    committed = store.committed()
    index.sync(committed)
    found = index.find(article, committed, threshold)
    return found[0] if found else None


def as_revision(old: Article, new: Article, *, today: str | None = None) -> Article:
    """`new` (same id, new text) as the successor of the stored `old`: it keeps the first
    publication date and every outlet known to carry the story, and `updated` is the page's own
    modified date or, when it names none, today's date (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    outlets = tuple(dict.fromkeys((*old.outlets, *new.outlets)))
    return replace(new, published=old.published or new.published, updated=new.updated or today, outlets=outlets)
