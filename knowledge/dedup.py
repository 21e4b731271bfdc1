"""New copies of a story that is already stored: syndicated near-duplicates and revisions.

Syndication: one wire story carried by several outlets arrives under different addresses with
nearly the same text. `find_duplicate` spots it before anything is embedded, by the Jaccard
similarity of the two texts' 5-word shingles (THRESHOLD 0.85).

Deterministic: shingles are hashed with blake2b (8 bytes), not Python's salted `hash()`, so the
same files give the same decisions in every process and every run (before, the BBC business
folder loaded into two fresh stores gave 501 articles once and 502 the next).

Candidates come from banded MinHash LSH: NUM_PERM = BANDS x ROWS = 20 x 4 min-hashes per text,
from fixed permutations; two texts are compared exactly when any band of 4 agrees. Two texts of
Jaccard similarity s share a band with probability 1 - (1 - s^4)^20 (`candidate_recall`):

    s       0.50    0.70    0.80       0.85          0.90          0.95
    recall  0.7249  0.9959  0.99997    1 - 3.9e-7    1 - 5.4e-10   1 - 2.3e-15

so at the 0.85 threshold a copy is missed about once in 2.6 million checks, and every candidate
is confirmed by the exact Jaccard of the full shingle sets, best first with ties broken by id.
A check costs the min-hashes of one text (a numpy pass over its shingles) plus a few exact
comparisons.

The index is built from signatures, not texts: each article record stores its text's signature
(`ArticleStore.put_many`, written with the record), so a process builds the index from records
alone (`ArticleStore.signatures`) and reads only the candidates' texts for the exact check
(`ArticleStore.articles`). Shingling every stored text took 3.4 s at 1x the BBC corpus, about
85 s at 25x. A record written before signatures were kept has its signature computed from its
text once and written back.

One copy per story, whatever the order: of a story's copies, the one stored is the one that
ranks first by `rank_key` (the earliest publication date, undated copies last, then the smallest
article id), not the first one loaded. A copy loaded later that ranks first takes over: it is
stored with the outlets of every copy (`merged`), and the copy it replaces is removed, each
through the store's all-or-nothing writes and change log (`KnowledgeBase.ingest`). A load killed
between the two writes leaves both copies; the next load of either file removes the one that
ranks lower (`KnowledgeBase._settle_group`). So the same files loaded in any order, by any
processes, leave the same articles, provided each story's copies are all alike (every copy at
least THRESHOLD like every other): a chain A ~ B ~ C with A and C unalike can keep {A, C} in
one order and {A} in another. Every near-duplicate group in the BBC corpus is a pair (10 in
business, 22 in entertainment, 23 in politics, 22 in sport), so no chain arises there.

Revisions: `as_revision` carries what is known about a stored article over to its new version.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar
from weakref import WeakKeyDictionary

import numpy as np

from .models import Article, ArticleInfo

if TYPE_CHECKING:
    from .store import ArticleStore

SHINGLE_WORDS = 5
BANDS = 20
ROWS = 4
NUM_PERM = BANDS * ROWS
THRESHOLD = 0.85  # 5-word-shingle Jaccard at which two texts count as one story
MAX_CANDIDATES = 20
_WORD = re.compile(r"\w+")
# NUM_PERM fixed permutations of 64-bit shingle hashes: x XOR a per-permutation key, then the
# splitmix64 finaliser (a bijection that mixes every bit). A linear (a*x + b) mod p over 32-bit
# inputs barely wraps and keeps the inputs' order, so its minima agreed on 49% of near-copies of
# Jaccard 0.93 instead of about 93%.
_KEYS = np.random.default_rng(20250114).integers(0, np.iinfo(np.uint64).max, size=NUM_PERM, dtype=np.uint64, endpoint=True)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1  # uint64 arithmetic wraps, as splitmix64 wants
    z = (z ^ (z >> np.uint64(27))) * _M2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def shingles(text: str, k: int = SHINGLE_WORDS) -> frozenset[int]:
    """Stable 64-bit hashes of the text's k-word runs, ignoring case and punctuation."""
    words = _WORD.findall(text.casefold())
    if len(words) <= k:
        return frozenset({_stable_hash(" ".join(words))}) if words else frozenset()
    return frozenset(_stable_hash(" ".join(words[i : i + k])) for i in range(len(words) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a ∩ b| / |a ∪ b|; 0.0 when both are empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def similarity(text_a: str, text_b: str) -> float:
    """How much of two texts is the same wording: shingle Jaccard from 0.0 to 1.0."""
    return jaccard(shingles(text_a), shingles(text_b))


def candidate_recall(s: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The probability that two texts of shingle Jaccard `s` share at least one LSH band."""
    return 1.0 - (1.0 - s**rows) ** bands


def minhash(sh: frozenset[int]) -> np.ndarray:
    """NUM_PERM min-hashes of a shingle set (uint64), the same in every process."""
    if not sh:
        return np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = np.fromiter(sh, dtype=np.uint64, count=len(sh))
    out = np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)
    for s in range(0, len(x), 4096):  # bounded memory on a 200,000-character article
        out = np.minimum(out, _mix(x[s : s + 4096, None] ^ _KEYS[None, :]).min(axis=0))
    return out


_BAND_SALT = np.arange(1, BANDS + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # a different start per band


def band_hashes(signatures: np.ndarray) -> np.ndarray:
    """The LSH band keys of each signature (one row per signature, NUM_PERM columns), one
    64-bit key per band: (n, BANDS) uint64. Two signatures get the same key for a band when
    they agree on that band's ROWS min-hashes; a different band, or different min-hashes, give
    a different key but for a 64-bit hash collision (2^-64 a pair), which at worst adds a
    candidate that the exact check rejects."""
    rows = np.atleast_2d(signatures).astype(np.uint64, copy=False).reshape(-1, BANDS, ROWS)
    h = np.broadcast_to(_BAND_SALT, rows.shape[:2]).copy()
    for r in range(ROWS):
        h = _mix(h ^ rows[:, :, r])
    out: np.ndarray = h
    return out


def text_signature(text: str) -> np.ndarray:
    """The MinHash signature of a text: what the duplicate index keeps of it."""
    return minhash(shingles(text))


def encode_signature(signature: np.ndarray) -> str:
    """A signature as text for an article record (NUM_PERM little-endian uint64, base64: 856
    characters)."""
    return base64.b64encode(signature.astype("<u8").tobytes()).decode("ascii")


def decode_signature(value: str) -> np.ndarray | None:
    """The signature `encode_signature` wrote, or None for anything else (a damaged record)."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != NUM_PERM * 8:
        return None
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


# Where the duplicate index gets what it needs of stored articles: the signatures of new
# entries (by id) and, for the exact check, the texts of a few candidates (by id). The store's
# are `ArticleStore.signatures` and `ArticleStore.articles`, which read records, so the index is
# built without reading texts; without them, the committed articles must carry their texts.
Signatures = Callable[[Mapping[str, ArticleInfo]], Mapping[str, np.ndarray]]
Texts = Callable[[Sequence[ArticleInfo]], Mapping[str, Article]]


def _signatures_of_texts(infos: Mapping[str, ArticleInfo]) -> dict[str, np.ndarray]:
    return {i: text_signature(_text_of(a).text) for i, a in infos.items()}


def _texts_in_hand(infos: Sequence[ArticleInfo]) -> dict[str, Article]:
    return {a.id: _text_of(a) for a in infos}


def _text_of(a: ArticleInfo) -> Article:
    if not isinstance(a, Article):
        # never compare against an empty text: a caller holding facts only passes the store's
        # readers (`find_duplicates`)
        raise TypeError(f"the duplicate index needs the text of {a.id!r}, or a reader of texts")
    return a


class DuplicateIndex:
    """LSH bands of stored articles' signatures, kept in step with the committed articles.

    Compact, since every process that loads articles holds one: each article is a slot (its
    id, version and scope), and its BANDS band keys (`band_hashes`) sit in two numpy arrays,
    keys sorted and the slot of each beside them, searched with `searchsorted`. Keys added since
    the last merge wait in a small dict; a forgotten (removed or revised) article's slot is
    emptied and its keys skipped until the next merge drops them. About 300 bytes an article,
    against 6.7 KB with a bytes object per band and a set of ids per key (13.8 MB for the 2,072
    BBC articles, so about 350 MB at 25x the corpus)."""

    # Articles added since the last merge before the next merge: recent keys are a dict (about
    # 3.6 KB an article), a merge sorts every key (~0.1 s for 1M keys, 52,000 articles). A sync
    # adding BULK articles or more (a first build) merges at once.
    MERGE_AT = 1024
    BULK = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slot: dict[str, int] = {}  # article id -> its slot
        self._ids: list[str | None] = []  # slot -> article id (None: forgotten)
        self._meta: list[tuple[str, str]] = []  # slot -> (version, scope)
        self._keys = np.empty(0, dtype=np.uint64)  # merged band keys, sorted
        self._owners = np.empty(0, dtype=np.int64)  # the slot of each merged key
        self._recent: dict[int, list[int]] = defaultdict(list)  # band key -> slots, since the last merge
        self._recent_slots = 0
        self._forgotten = 0  # emptied slots whose keys are still in the arrays

    def sync(self, committed: Mapping[str, ArticleInfo], signatures: Signatures = _signatures_of_texts) -> None:
        """Index new and revised articles, forget removed ones (cheap when nothing changed).
        `signatures` gives the new ones' signatures (the default computes them from texts the
        committed articles carry); an article it leaves out (revised or removed meanwhile) is
        indexed at a later sync."""
        with self._lock:
            for id_ in [i for i, slot in self._slot.items() if (a := committed.get(i)) is None or a.version != self._meta[slot][0]]:
                self._ids[self._slot.pop(id_)] = None
                self._forgotten += 1
            new = {id_: art for id_, art in committed.items() if id_ not in self._slot}
            found = signatures(new) if new else {}
            if not found:
                return
            ids = list(found)
            keys = band_hashes(np.stack([found[i] for i in ids]))
            first = len(self._ids)
            for n, id_ in enumerate(ids):
                self._slot[id_] = first + n
                self._ids.append(id_)
                self._meta.append((new[id_].version, new[id_].scope))
            owners = np.repeat(np.arange(first, first + len(ids), dtype=np.int64), BANDS)
            if len(ids) >= self.BULK or len(ids) + self._recent_slots >= self.MERGE_AT or 2 * self._forgotten > len(self._slot):
                self._merge(keys.ravel(), owners)
            else:
                for key, slot in zip(keys.ravel().tolist(), owners.tolist(), strict=True):
                    self._recent[key].append(slot)
                self._recent_slots += len(ids)

    def _merge(self, keys: np.ndarray, owners: np.ndarray) -> None:
        """One sorted array of every live article's keys: the merged ones, the recent ones and
        `keys` (with their `owners`)."""
        recent_keys = np.fromiter((k for k, slots in self._recent.items() for _ in slots), dtype=np.uint64)
        recent_owners = np.fromiter((s for slots in self._recent.values() for s in slots), dtype=np.int64)
        all_keys = np.concatenate([self._keys, recent_keys, keys])
        all_owners = np.concatenate([self._owners, recent_owners, owners])
        alive = np.fromiter((i is not None for i in self._ids), dtype=bool, count=len(self._ids))[all_owners]
        all_keys, all_owners = all_keys[alive], all_owners[alive]
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._owners = all_keys[order], all_owners[order]
        self._recent = defaultdict(list)
        self._recent_slots = self._forgotten = 0

    def find(self, article: Article, committed: Mapping[str, ArticleInfo], threshold: float = THRESHOLD,
             texts: Texts = _texts_in_hand) -> tuple[Article, float] | None:
        """The stored article in `article`'s scope most like it, if at least `threshold` alike
        (the highest similarity wins; a tie goes to the smaller id)."""
        found = self.find_all(article, committed, threshold, texts)
        return found[0] if found else None

    def find_all(self, article: Article, committed: Mapping[str, ArticleInfo], threshold: float = THRESHOLD,
                 texts: Texts = _texts_in_hand) -> list[tuple[Article, float]]:
        """Every stored article in `article`'s scope, under another id, at least `threshold`
        like it, most alike first (a tie goes to the smaller id), each with its text. Only the
        candidates' texts are read (`texts`), for the exact check."""
        sh = shingles(article.text)
        if not sh:
            return []
        mine = band_hashes(minhash(sh))[0]
        with self._lock:
            shared: dict[str, int] = defaultdict(int)
            lo = np.searchsorted(self._keys, mine, side="left")
            hi = np.searchsorted(self._keys, mine, side="right")
            slots = [s for a, b in zip(lo.tolist(), hi.tolist(), strict=True) for s in self._owners[a:b].tolist()]
            slots += [s for key in mine.tolist() for s in self._recent.get(key, ())]
            for slot in slots:
                id_ = self._ids[slot]
                if id_ is not None and id_ != article.id and self._meta[slot][1] == article.scope:
                    shared[id_] += 1
        # Most shared bands first (the likeliest copies), then by id: the same order everywhere.
        ranked = sorted(shared, key=lambda i: (-shared[i], i))
        candidates = [a for i in ranked[:MAX_CANDIDATES] if (a := committed.get(i)) is not None]
        full = texts(candidates) if candidates else {}
        found: list[tuple[Article, float]] = []
        for cand in candidates:
            other = full.get(cand.id)
            if other is None:  # revised or removed since `committed` was read
                continue
            score = jaccard(sh, shingles(other.text))
            if score >= threshold:
                found.append((other, score))
        return sorted(found, key=lambda f: (-f[1], f[0].id))


_indexes: WeakKeyDictionary[ArticleStore, DuplicateIndex] = WeakKeyDictionary()
_indexes_lock = threading.Lock()


def find_duplicates(store: ArticleStore, article: Article, threshold: float = THRESHOLD) -> list[Article]:
    """The committed articles in `store` that `article` is a near-copy of, in the same scope and
    under other ids, first-ranked (`rank_key`) first, with their texts; usually none or one.
    Blocking (reads the store: the index is built from the records' stored signatures, and only
    the candidates' texts are read)."""
    with _indexes_lock:
        index = _indexes.get(store)
        if index is None:
            index = _indexes[store] = DuplicateIndex()
    committed = store.committed()
    index.sync(committed, store.signatures)
    return sorted((a for a, _ in index.find_all(article, committed, threshold, store.articles)), key=rank_key)


def find_duplicate(store: ArticleStore, article: Article, threshold: float = THRESHOLD) -> Article | None:
    """The first-ranked committed article that `article` is a near-copy of (see
    `find_duplicates`), or None."""
    found = find_duplicates(store, article, threshold)
    return found[0] if found else None


def rank_key(article: ArticleInfo) -> tuple[str, str]:
    """Which copy of a story is stored: the smallest key wins. The earliest publication date
    (the original, not a later reprint; undated copies last), then the smallest id; both are
    the same in every process and every run, and neither changes when an article is revised
    (`as_revision` keeps the first publication date)."""
    return (article.published or "\uffff", article.id)


_A = TypeVar("_A", bound=ArticleInfo)


def merged(winner: _A, others: Sequence[ArticleInfo]) -> _A:
    """`winner` carrying every outlet known to carry its story: its own first, then the others'
    in alphabetical order, so the record is the same whichever copy was loaded first."""
    own = (winner.source,) if winner.source else ()
    group: list[ArticleInfo] = [winner, *others]
    rest = {o for a in group for o in (*a.outlets, a.source) if o} - set(own)
    outlets = tuple(dict.fromkeys((*own, *sorted(rest, key=lambda o: (o.casefold(), o)))))
    return winner if outlets == winner.outlets else replace(winner, outlets=outlets)


def as_revision(old: ArticleInfo, new: Article, *, today: str | None = None) -> Article:
    """`new` (same id, new text) as the successor of the stored `old`: it keeps the first
    publication date and every outlet known to carry the story, and `updated` is the page's own
    modified date or, when it names none, today's date (UTC)."""
    today = today or dt.datetime.now(dt.timezone.utc).date().isoformat()
    outlets = tuple(dict.fromkeys((*old.outlets, *new.outlets)))
    return replace(new, published=old.published or new.published, updated=new.updated or today, outlets=outlets)
