"""Does the retrieved text actually answer the question? Sentence-level support scoring.

A retrieval score cannot say this: people ask about the right story but a fact it does not state.
So every sentence of the retrieved passages is scored on what the question needs:
- meaning: the cosine between the question's and the sentence's embeddings (sentence vectors
  are computed once at load time and stored with their chunk);
- words: coverage of the question's content words weighted by rarity (IDF), in the sentence
  itself and, at a discount, in its neighbours and the headline;
- an answer of the expected kind in the sentence itself, one the question did not already
  contain: an amount of money for "how much did it cost", a count for "how many", a date for
  "when", a name for "who";
- the years and figures the question names must appear in the article.
A question is answerable only if some sentence clears all of these.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .models import Passage, Span
from .textstats import QUESTION_WORDS, STOPWORDS, stem, words

_MONEY_Q = re.compile(
    r"\bhow much\b[^?]*\b(cost|costs|pay|paid|spend|spent|earn|earned|take|took|raise|raised|worth|charge|charged|"
    r"sell|sold|fetch|fetched|fine|fined|owe|bid|price|fee)\b|\b(what|which)\b[^?]{0,40}\b(price|cost|fee|salary|"
    r"profit|loss|revenue|turnover|budget|payout|bid|valuation|outlay|sum)s?\b|\bwhat was\b[^?]{0,40}\bpaid\b"
)
_NUMBER_Q = re.compile(
    r"\bhow (many|much|long|far|old|big|large|high|often|fast|tall|deep|heavy)\b|\bby how\b|\bto what (figure|level)\b|"
    r"\b(what|which)\b[^?]{0,40}\b(number|figure|amount|total|rate|percentage|proportion|share|value|size|score|"
    r"scoreline|margin|fine|stake|age|capacity|majority|speed|audience|temperature)s?\b"
)
_DATE_Q = re.compile(r"^when\b|\bwhen (did|does|do|was|were|is|will|had|has)\b|\b(what|which|on what|in what) (date|day|year|month)\b")
_PERSON_Q = re.compile(
    r"^(who|whom)\b|\b(who|whom) (did|does|do|was|were|is|will|had|has)\b|"
    r"^which\b[^?]{0,40}\b(player|man|woman|person|minister|manager|coach|actor|actress|singer|director|boss|chief|"
    r"analyst|executive|champion|mp|lock|striker|captain|spokesman|spokeswoman|star|author|writer|leader)\b"
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "  # noqa: SIM905
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion half third quarter double doubled treble tripled dozen dozens".split()
)
_DATE_WORDS = frozenset(
    "january february march april may june july august september october november december jan feb mar apr "  # noqa: SIM905
    "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday yesterday "
    "today tomorrow spring summer autumn winter".split()
)
_NUMERAL = re.compile(r"^\d[\d,.]*(?:%|m|bn|k|st|nd|rd|th)?$")
_MONEY = re.compile(r"[£$€¥]\s?\d|\d\s?(?:m|bn|million|billion|trillion|pence|p|cents?|dollars?|pounds?|euros?|yen|won|yuan|rupees?)\b|\b(?:won|yen|dollars?|pounds?|euros?)\b", re.I)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")

# Tuned on the BBC dev questions (benchmarks/README.md has the figures).
SUPPORT_MIN = 0.6
WORD_WEIGHT = 0.5
NEIGHBOUR_WEIGHT = 0.5
TITLE_WEIGHT = 0.35
UNSEEN_WEIGHT = 0.5


@dataclass(frozen=True)
class Need:
    """What a question asks for."""

    terms: tuple[str, ...]  # content stems, each once
    figures: frozenset[str]  # years and numbers the question names
    kind: str  # "money", "number", "date", "person" or ""


@dataclass(frozen=True)
class Support:
    passage: Passage
    sentence: Span
    similarity: float  # question ↔ sentence embedding cosine (0 when no vector is stored)
    coverage: float  # IDF-weighted share of the question's words found
    kind_ok: bool
    figures_ok: bool

    @property
    def score(self) -> float:
        return self.similarity + WORD_WEIGHT * self.coverage

    @property
    def supports(self) -> bool:
        return self.kind_ok and self.figures_ok and self.score >= SUPPORT_MIN


def analyse(question: str) -> Need:
    low = question.strip().lower()
    kind = ("money" if _MONEY_Q.search(low) else "number" if _NUMBER_Q.search(low) else
            "date" if _DATE_Q.search(low) else "person" if _PERSON_Q.search(low) else "")
    toks = [w for w in words(question) if w not in STOPWORDS and w not in QUESTION_WORDS]
    terms = tuple(dict.fromkeys(stem(w) for w in toks))
    figures = frozenset(stem(w) for w in toks if _NUMERAL.match(w) and not re.match(r"^\d$", w))
    return Need(terms=terms, figures=figures, kind=kind)


def _is_count(w: str) -> bool:
    return bool(_NUMERAL.match(w)) or w in _NUMBER_WORDS


def kind_ok(need: Need, sentence: str) -> bool:
    """Whether the sentence holds an answer of the asked kind that the question lacks."""
    ws = words(sentence)
    if need.kind == "money":
        return bool(_MONEY.search(sentence)) and any(_is_count(w) and stem(w) not in need.figures for w in ws)
    if need.kind == "number":
        return any(_is_count(w) and not _YEAR.match(w) and stem(w) not in need.figures for w in ws)
    if need.kind == "date":
        return any((w in _DATE_WORDS or _YEAR.match(w)) and stem(w) not in need.figures for w in ws)
    if need.kind == "person":
        asked = set(need.terms)
        first = sentence.split(" ", 1)[0]
        return any(
            m.group() != first and any(stem(w) not in asked for w in words(m.group()))
            for m in _CAPITALISED.finditer(sentence)
        )
    return True


@functools.lru_cache(maxsize=1024)
def _stems(text: str) -> frozenset[str]:
    # A whole article's stems, for every question that retrieves it: ~2 ms a question otherwise.
    return frozenset(stem(w) for w in words(text))


def score_sentences(
    question: str, passages: Sequence[Passage], idf: Callable[[str], float], need: Need | None = None, *,
    qvec: np.ndarray | None = None, sentence_vectors: Sequence[np.ndarray | None] | None = None,
) -> list[Support]:
    """Every sentence of the passages with its support for the question, best first."""
    need = need or analyse(question)
    weights = {t: idf(t) for t in need.terms}
    total = sum(weights.values()) or 1.0
    seen: set[tuple[str, int]] = set()
    article_stems: dict[str, frozenset[str]] = {}
    out: list[Support] = []
    for n, p in enumerate(passages):
        text = p.article.text
        if p.article.id not in article_stems:
            article_stems[p.article.id] = _stems(text) | _stems(p.article.title)
        figures_ok = need.figures <= article_stems[p.article.id]
        title_stems = _stems(p.article.title)
        sents = p.sentences or (Span(p.chunk.start, p.chunk.end),)
        vecs = sentence_vectors[n] if sentence_vectors is not None else None
        sims = (vecs @ qvec) if vecs is not None and qvec is not None and len(vecs) == len(sents) else None
        stems = [{stem(w) for w in words(text[s.start : s.end])} for s in sents]
        for i, s in enumerate(sents):
            key = (p.article.id, s.start)
            if key in seen:
                continue
            seen.add(key)
            near = (stems[i - 1] if i > 0 else set()) | (stems[i + 1] if i + 1 < len(sents) else set())
            got = 0.0
            for t, w in weights.items():
                if t in stems[i]:
                    got += w
                elif t in near:
                    got += NEIGHBOUR_WEIGHT * w
                elif t in title_stems:
                    got += TITLE_WEIGHT * w
            sim = float(sims[i]) if sims is not None else 0.0
            out.append(Support(p, s, sim, got / total, kind_ok(need, text[s.start : s.end]), figures_ok))
    out.sort(key=lambda s: (s.kind_ok and s.figures_ok, s.score), reverse=True)
    return out


def idf_from(df: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25's IDF. A word no article uses is usually the asker's wording ("call" for
    "described as"), so it weighs half a rare word instead of dominating the question."""

    def idf(term: str) -> float:
        d = df.get(term, 0)
        if d == 0:
            return UNSEEN_WEIGHT * math.log(1.0 + (n_docs - 0.5) / 1.5)
        return math.log(1.0 + (n_docs - d + 0.5) / (d + 0.5))

    return idf
