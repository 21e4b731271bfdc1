"""Does the retrieved text actually answer the question? Sentence-level support scoring.

A retrieval score cannot say this: people ask about the right story but a fact it does not state.
So every sentence of the retrieved passages is scored on what the question needs:
- coverage of the question's content words, weighted by how rare they are (IDF), in the sentence
  itself and, at a discount, in its neighbours and the headline;
- the question's anchors (numbers, years, names) present in that context;
- an answer of the expected kind in the sentence itself (a number for "how many", a date for
  "when", a name for "who"), and one the question did not already contain.
A question is answerable only if some sentence clears all three.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .models import Passage, Span
from .textstats import QUESTION_WORDS, STOPWORDS, stem, words

_NUMBER_Q = re.compile(
    r"\bhow (many|much|long|far|old|big|large|high|often|fast|tall|deep|heavy)\b|\bby how\b|"
    r"\b(what|which)\b[^?]{0,40}\b(number|figure|amount|total|price|cost|fee|rate|percentage|proportion|share|sum|value|"
    r"size|score|scoreline|margin|salary|fine|profit|loss|stake|bid|valuation|age|capacity|majority|budget|payout)s?\b"
)
_DATE_Q = re.compile(r"^when\b|\bwhen (did|does|do|was|were|is|will|had|has)\b|\b(what|which|on what|in what) (date|day|year|month)\b")
_PERSON_Q = re.compile(r"^(who|whom)\b|\b(who|whom) (did|does|do|was|were|is|will|had|has)\b|^which (player|man|woman|person|minister|manager|coach|actor|actress|singer|director|boss|chief)\b")
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion half third quarter double doubled treble tripled dozen dozens".split()
)
_MONTHS = frozenset(
    "january february march april may june july august september october november december jan feb mar apr "
    "jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday yesterday "
    "today tomorrow week weekend month year".split()
)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")

COVERAGE_MIN = 0.55
NEIGHBOUR_WEIGHT = 0.5
TITLE_WEIGHT = 0.35


@dataclass(frozen=True)
class Need:
    """What a question asks for."""

    terms: tuple[str, ...]  # content stems, each once
    anchors: tuple[str, ...]  # stems that must be about the same thing: numbers, names
    kind: str  # "number", "date", "person" or ""
    question_numbers: frozenset[str]


@dataclass(frozen=True)
class Support:
    passage: Passage
    sentence: Span
    coverage: float
    anchors_ok: bool
    kind_ok: bool

    @property
    def score(self) -> float:
        return self.coverage + (0.2 if self.kind_ok else 0.0) + (0.1 if self.anchors_ok else 0.0)

    @property
    def supports(self) -> bool:
        return self.anchors_ok and self.kind_ok and self.coverage >= COVERAGE_MIN


def _is_number(w: str) -> bool:
    return any(ch.isdigit() for ch in w) or w in _NUMBER_WORDS


def analyse(question: str) -> Need:
    q = question.strip()
    low = q.lower()
    kind = "number" if _NUMBER_Q.search(low) else "date" if _DATE_Q.search(low) else "person" if _PERSON_Q.search(low) else ""
    toks = [w for w in words(q) if w not in STOPWORDS and w not in QUESTION_WORDS]
    terms = tuple(dict.fromkeys(stem(w) for w in toks))
    numbers = frozenset(stem(w) for w in toks if any(ch.isdigit() for ch in w))
    names = {stem(w) for m in _CAPITALISED.finditer(q) for w in words(m.group()) if w not in STOPWORDS and w not in QUESTION_WORDS}
    anchors = tuple(t for t in terms if t in numbers or t in names)
    return Need(terms=terms, anchors=anchors, kind=kind, question_numbers=numbers)


def _kind_ok(need: Need, sentence: str) -> bool:
    ws = words(sentence)
    if need.kind == "number":
        return any(_is_number(w) and stem(w) not in need.question_numbers for w in ws)
    if need.kind == "date":
        return any((w in _MONTHS or _YEAR.match(w)) and stem(w) not in need.question_numbers for w in ws)
    if need.kind == "person":
        qn = set(need.terms)
        return any(
            any(stem(w) not in qn for w in words(m.group()))
            for m in _CAPITALISED.finditer(sentence)
        )
    return True


def score_sentences(question: str, passages: Sequence[Passage], idf: Callable[[str], float], need: Need | None = None) -> list[Support]:
    """Every sentence of the passages with its support for the question, best first."""
    need = need or analyse(question)
    weights = {t: idf(t) for t in need.terms}
    total = sum(weights.values()) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Support] = []
    for p in passages:
        text = p.article.text
        title_stems = {stem(w) for w in words(p.article.title)}
        sents = p.sentences or (Span(p.chunk.start, p.chunk.end),)
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
            context = stems[i] | near | title_stems
            anchors_ok = all(a in context for a in need.anchors)
            out.append(Support(p, s, got / total, anchors_ok, _kind_ok(need, text[s.start : s.end])))
    out.sort(key=lambda s: s.score, reverse=True)
    return out


UNSEEN_WEIGHT = 0.5


def idf_from(df: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25's IDF. A word no article uses is usually the asker's wording ("call" for
    "described as"), so it weighs half a rare word instead of dominating the question."""

    def idf(term: str) -> float:
        d = df.get(term, 0)
        if d == 0:
            return UNSEEN_WEIGHT * math.log(1.0 + (n_docs - 0.5) / 1.5)
        return math.log(1.0 + (n_docs - d + 0.5) / (d + 0.5))

    return idf
