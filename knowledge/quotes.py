"""Quote checking: find a claimed quote in the stored text, repair near misses, drop inventions.

A quote is looked up in a normalised copy of the article (Unicode NFKC, typographic quotes and
dashes made plain, whitespace folded, case folded) that keeps a map back to the original offsets.
A hit becomes the article's own characters ``text[start:end]``, so what is shown is always the
source, word for word. A miss is repaired only when one stored sentence says nearly the same thing
in nearly the same words; otherwise it is dropped and never shown as a quote.

A found quote must also be a whole unit of the text (`whole_unit`): it starts and ends on word
boundaries and covers at least a clause, a whole sentence or a part of one between punctuation
marks. "ate new dev" is no quote, and "be a game for wealthy nations" out of "should not be a game
for wealthy nations" would reverse its sentence: such a fragment becomes its whole sentence, or
is dropped when that sentence is too long to show.
"""

from __future__ import annotations

import difflib
import re
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
MIN_QUOTE_WORDS = 4  # "stumbling block" alone says nothing checkable about who said what
# Marks that end a clause (before a quote starts / after it ends); a hyphen counts only between spaces.
_OPENERS = frozenset(",;:([{\"'“‘«—–.!?…")
_CLOSERS = frozenset(",;:)]}\"'”’».!?…—–")


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


# A long sentence is cut after its last clause within the limit ("…, promoted the adoption of a
# resolution by the United Nations General Assembly," rather than "…established a group of friends
# for"), so the shown part is still a unit of the text; at a word only when no clause ends in the
# limit's second half.
_CLAUSE_END = re.compile(r"[,;:)\]\u2014\u2013](?=\s)|\s[-\u2014\u2013](?=\s)")


def trim(article_text: str, span: Span, max_chars: int) -> tuple[Span, bool]:
    """Cut a span to at most `max_chars`, after a clause if one ends in the second half of the
    limit, else at a word boundary; returns (span, was_cut)."""
    if span.end - span.start <= max_chars:
        return span, False
    limit = span.start + max_chars
    clause = [m.start() for m in _CLAUSE_END.finditer(article_text, span.start + max_chars // 2, limit)]
    cut = clause[-1] if clause else article_text.rfind(" ", span.start, limit)
    end = cut if cut > span.start else limit
    while end > span.start and article_text[end - 1] in " ,;:":
        end -= 1
    return Span(span.start, end), True


def _opens_clause(text: str, i: int, floor: int) -> bool:
    """Whether a quote starting at `i` starts a clause: at `floor` (its sentence's start), or
    after a clause mark, spaces aside."""
    if text[i] in _OPENERS:
        return True
    j = i
    while j > floor and text[j - 1].isspace():
        j -= 1
    return j <= floor or text[j - 1] in _OPENERS or (text[j - 1] == "-" and j < i)


def _closes_clause(text: str, i: int, ceiling: int) -> bool:
    """Whether a quote ending at `i` (exclusive) ends a clause: at `ceiling` (its sentence's end),
    on a clause mark, or before one, spaces aside."""
    if text[i - 1] in _CLOSERS:
        return True
    j = i
    while j < ceiling and text[j].isspace():
        j += 1
    return j >= ceiling or text[j] in _CLOSERS or (text[j] == "-" and j > i)


def on_word_boundaries(text: str, span: Span) -> bool:
    """Neither end of `span` cuts a word in two."""
    if span.end <= span.start:
        return False
    cut_start = span.start > 0 and text[span.start - 1].isalnum() and text[span.start].isalnum()
    cut_end = span.end < len(text) and text[span.end - 1].isalnum() and text[span.end].isalnum()
    return not (cut_start or cut_end)


def whole_unit(text: str, span: Span, sentences: tuple[Span, ...], max_chars: int) -> Span | None:
    """`span` as a quote that can be shown: itself when it is a clause or more, else the whole
    sentence(s) it stands in when they fit `max_chars`; None when it cuts a word, has fewer than
    MIN_QUOTE_WORDS words, or is (or would widen to) more than `max_chars`: cutting it would make
    the very fragment this check keeps out."""
    if span.end - span.start > max_chars:
        return None
    if not on_word_boundaries(text, span) or len(words(text[span.start : span.end])) < MIN_QUOTE_WORDS:
        return None
    covering = [s for s in sentences if s.start < span.end and span.start < s.end]
    if not covering:  # no sentence map: the best we can say is that words are whole
        return span
    first, last = covering[0], covering[-1]
    if _opens_clause(text, span.start, first.start) and _closes_clause(text, span.end, last.end):
        return span
    whole = Span(min(first.start, span.start), max(last.end, span.end))
    return whole if whole.end - whole.start <= max_chars else None
