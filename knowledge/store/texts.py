"""Article texts read on demand: a small cache in front of the article records.

A process keeps every article's facts (`ArticleInfo`) but not its text: the text is read by id
when something needs it (the passages of an answer, `show`, the candidates of a duplicate check)
and kept here, least recently used first out.

Keyed by (article id, version): a version is a hash of the title and text, so a cached text is
never stale; a revision is a new key and the old one simply ages out.

Bounded by characters, not entries, so a few 200,000-character articles (MAX_ARTICLE_CHARS)
cannot hold more than the bound. TEXT_CACHE_CHARS = 2,000,000 characters is 2 MB of ASCII text
(8 MB at worst): about 900 BBC articles (2,270 characters on average) or ten articles of the
largest size allowed. An answer reads at most `top_k` (8) articles and a duplicate check at most
`dedup.MAX_CANDIDATES` (20), so the cache holds the working set of many questions, while the
texts of every article were about 120 MB per process at 25x the BBC corpus (52,000 articles).
A miss costs one Chroma read by id for all the missing articles of a request (a few ms).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

TEXT_CACHE_CHARS = 2_000_000


class TextCache:
    """Texts by (article id, version), least recently used out first, at most `max_chars`."""

    def __init__(self, max_chars: int = TEXT_CACHE_CHARS) -> None:
        self.max_chars = max_chars
        self._texts: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, article_id: str, version: str) -> str | None:
        with self._lock:
            text = self._texts.get((article_id, version))
            if text is not None:
                self._texts.move_to_end((article_id, version))
            return text

    def put(self, article_id: str, version: str, text: str) -> None:
        if len(text) > self.max_chars:
            return
        with self._lock:
            old = self._texts.pop((article_id, version), None)
            self._chars -= len(old) if old is not None else 0
            self._texts[(article_id, version)] = text
            self._chars += len(text)
            while self._chars > self.max_chars:
                _, gone = self._texts.popitem(last=False)
                self._chars -= len(gone)

    def put_all(self, items: Iterable[tuple[str, str, str]]) -> None:
        for article_id, version, text in items:
            self.put(article_id, version, text)

    @property
    def chars(self) -> int:
        return self._chars

    def __len__(self) -> int:
        return len(self._texts)
