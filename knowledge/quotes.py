"""Quote checking: find a claimed quote in the stored text, repair near misses, drop inventions.

A quote is looked up in a normalised copy of the article (Unicode NFKC, typographic quotes and
dashes made plain, whitespace folded, case folded) that keeps a map back to the original offsets.
A hit becomes the article's own characters ``text[start:end]``, so what is shown is always the
source, word for word. A miss is repaired only when one stored sentence says nearly the same thing
in nearly the same words; otherwise it is dropped and never shown as a quote.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

from .models import Span
from .textstats import STOPWORDS, words

_CHAR_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
}
REPAIR_MIN_RATIO = 0.85


@dataclass(frozen=True)
class Located:
    start: int
    end: int
    repaired: bool


def _norm_char(ch: str) -> str:
    ch = _CHAR_MAP.get(ch, ch)
    if len(ch) == 1 and ord(ch) > 127:
        ch = unicodedata.normalize("NFKC", ch)
    return ch.casefold()


class NormalisedText:
    """A normalised copy of `text` and, for each of its characters, the original offset."""

    def __init__(self, text: str):
        self.text = text
        out: list[str] = []
        index: list[int] = []
        prev_space = True
        for i, ch in enumerate(text):
            if ch.isspace():
                if not prev_space:
                    out.append(" ")
                    index.append(i)
                prev_space = True
                continue
            for n in _norm_char(ch):
                out.append(n)
                index.append(i)
            prev_space = False
        self.norm = "".join(out)
        self.index = index

    def find(self, quote: str, lo: int = 0, hi: int | None = None) -> Span | None:
        """The original span of `quote` within ``text[lo:hi]``, or None."""
        full = normalise(quote)
        # Try the quote as given, then without the quotation marks a model may wrap it in.
        for q in dict.fromkeys((full, full.strip(" \"'"))):
            if not q:
                continue
            start = 0
            while (j := self.norm.find(q, start)) >= 0:
                s, e = self.index[j], self.index[j + len(q) - 1] + 1
                if s >= lo and (hi is None or e <= hi):
                    return Span(s, e)
                start = j + 1
        return None


def normalise(text: str) -> str:
    return " ".join("".join(_norm_char(c) for c in text).split())


def _content(text: str) -> set[str]:
    return {w for w in words(text) if w not in STOPWORDS}


def locate(quote: str, article_text: str, sentences: tuple[Span, ...] = (), within: Span | None = None, norm: NormalisedText | None = None) -> Located | None:
    """Where `quote` stands in the article: exact (after normalisation) or a repaired sentence."""
    norm = norm or NormalisedText(article_text)
    lo, hi = (within.start, within.end) if within else (0, None)
    span = norm.find(quote, lo, hi) or (norm.find(quote) if within else None)
    if span:
        return Located(span.start, span.end, repaired=False)
    # Near miss: the model changed a word or two of one sentence. Take that sentence only if it
    # is nearly the same and the quote adds no content word the source lacks.
    qn, qwords = normalise(quote), _content(quote)
    best, best_ratio = None, 0.0
    for s in sentences:
        sn = normalise(article_text[s.start : s.end])
        ratio = difflib.SequenceMatcher(None, qn, sn, autojunk=False).ratio()
        if ratio > best_ratio:
            best, best_ratio = s, ratio
    if best is None or best_ratio < REPAIR_MIN_RATIO:
        return None
    extra = qwords - _content(article_text[best.start : best.end])
    if len(extra) > max(1, len(qwords) // 10):
        return None
    return Located(best.start, best.end, repaired=True)


def trim(article_text: str, span: Span, max_chars: int) -> tuple[Span, bool]:
    """Cut a span to at most `max_chars`, at a word boundary; returns (span, was_cut)."""
    if span.end - span.start <= max_chars:
        return span, False
    cut = article_text.rfind(" ", span.start, span.start + max_chars)
    end = cut if cut > span.start else span.start + max_chars
    while end > span.start and article_text[end - 1] in " ,;:":
        end -= 1
    return Span(span.start, end), True
