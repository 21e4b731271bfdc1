"""Words, stems and stop words: the one tokenisation shared by BM25 and the support check."""

from __future__ import annotations

import functools
import re
from typing import Protocol

_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['’.,][A-Za-z0-9\u00c0-\u024f]+)*")

STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "can", "could", "did", "do", "does", "doing", "done", "for", "from", "had", "has", "have", "having", "he", "her", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "me", "my", "no", "nor", "not", "of", "on", "or", "our", "ours", "out", "over", "own", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with", "would", "you", "your", "yours", "also", "just", "about", "after", "again", "against", "all", "any", "because", "before", "between", "both", "during", "each", "few", "further", "here", "more", "most", "other", "same", "only", "once", "off"]
)

# Words that shape a question but are not what it is about.
QUESTION_WORDS = frozenset(
    ["according", "article", "articles", "report", "reported", "reports", "say", "said", "says", "tell", "told", "mention", "mentioned", "describe", "described", "name", "named", "give", "given", "state", "stated", "per", "eventually", "finally", "actually", "exactly", "many", "much", "kind", "type", "sort", "one", "ones", "happen", "happened", "quoted", "quote", "loaded", "news", "story"]
)


class _Stemmer(Protocol):
    """What PyStemmer (untyped) offers that we use."""

    def stemWord(self, word: str) -> str: ...  # noqa: N802 (PyStemmer's name)


@functools.lru_cache(maxsize=1)
def _stemmer() -> _Stemmer:
    import Stemmer

    stemmer: _Stemmer = Stemmer.Stemmer("english")
    return stemmer


def words(text: str) -> list[str]:
    """Word tokens, lower-cased, with thousands separators kept inside numbers ("464,000")."""
    return [w.lower().rstrip(".,") for w in _WORD.findall(text)]


@functools.lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    if any(ch.isdigit() for ch in word):
        return word.replace(",", "")
    return _stemmer().stemWord(word.replace("’", "'").split("'")[0])


def content_stems(text: str, extra_stop: frozenset[str] = frozenset()) -> list[str]:
    return [stem(w) for w in words(text) if w not in STOPWORDS and w not in extra_stop]


class Tokenizer:
    """Maps stems to integer ids for bm25s; the vocabulary grows while indexing only."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def ids_for_index(self, texts: list[str]) -> list[list[int]]:
        out = []
        for t in texts:
            out.append([self.vocab.setdefault(s, len(self.vocab)) for s in content_stems(t)])
        return out

    def ids_for_query(self, text: str) -> list[int]:
        return [self.vocab[s] for s in dict.fromkeys(content_stems(text)) if s in self.vocab]
