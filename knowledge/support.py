"""Does the retrieved text actually answer the question? Sentence-level evidence, scored by a fitted model.

A retrieval score cannot say this: people ask about the right story but a fact it does not state,
or about a name the story never mentions. Every sentence of the retrieved passages is described
by a few measurements (`FEATURES`), and a small logistic regression fitted on labelled questions
(`knowledge/answerability.py`, weights in `knowledge/data/answering.json`, re-fitted by
`benchmarks/fit_answering.py`) turns them into the probability that the sentence holds the answer:

- meaning: the cosine between the question's and the sentence's embeddings (sentence vectors are
  computed once at load time and stored with their chunk), and its gap to the best sentence;
- words: coverage of the question's content words weighted by rarity (IDF), in the sentence itself
  and, at a discount, in its neighbours and the headline (of what is asked, without the context a
  reader sets around it: `question.core_text`); and of the whole question in the article;
- the answer: an answer of the asked kind the question does not already contain (an amount for
  "how much did it cost", a count for "how many", a date for "when", a name for "who", "where",
  "which company"), the question's focus ("which *analyst*"), and how much of the sentence is new
  to the question (a sentence that only restates the question adds nothing);
- names and figures: the share of the question's names (people, places, organisations) and
  figures that stand nowhere in the article or its metadata. A missing name is not weighed, it
  rules the article out: the article cannot answer a question about something it never names.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .answerability import model
from .models import Article, Passage, Span
from .question import AnswerKind, Question, analyse, missing_names, missing_years
from .textstats import stem, words

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
# An amount of money: a currency sign, a magnitude suffix, or a number then a currency word ("12
# trillion won"; "won" alone is a verb).
_MONEY = re.compile(
    r"[£$€¥]\s?\d|\d\s?(?:m|bn|million|billion|trillion|pence|p|cents?|dollars?|pounds?|euros?|yen|yuan|rupees?)\b|"
    r"\b(?:\d[\d,.]*|million|billion|trillion|hundred|thousand)\s+(?:won|yen|yuan|dollars?|pounds?|euros?|rupees?|pence|cents?)\b",
    re.I,
)
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_REPORTED_DAY = re.compile(
    r"\b(said|says|told|announced|added|stated|reported|warned|confirmed|explained)\b[^.;]{0,80}?\b(on )?"
    r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today)\b",
    re.IGNORECASE,
)
_RAW_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f£$€%]+(?:['’.,][A-Za-z0-9\u00c0-\u024f]+)*")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*|\b[A-Z]{2,}\b")

# Words in the question matched in a neighbouring sentence or the headline count for less.
NEIGHBOUR_WEIGHT = 0.5
TITLE_WEIGHT = 0.35
# A word no article uses is usually the asker's wording ("call" for "described as"): half a rare
# word. Names are not weighed this way: a missing name rules the article out (`missing_names`).
UNSEEN_WEIGHT = 0.5

#: The measurements the fitted model weighs, in its order (knowledge/data/answering.json).
FEATURES = (
    "similarity", "sim_gap", "coverage", "cov_gap", "context_coverage", "article_coverage", "kind_asked",
    "kind_match", "focus_asked", "focus_in", "novelty", "names_near", "years_missing", "passage_rank", "lead", "kind_near",
    "years_near",
)


@dataclass(frozen=True)
class Support:
    """One sentence of a retrieved passage and how well it answers the question."""

    passage: Passage
    sentence: Span
    features: tuple[float, ...]  # in the order of FEATURES
    probability: float  # fitted chance that this sentence holds the answer
    missing: tuple[str, ...]  # the question's names and figures that its article lacks

    @property
    def similarity(self) -> float:
        return self.features[0]

    @property
    def coverage(self) -> float:
        return self.features[2]

    @property
    def score(self) -> float:
        return self.probability

    @property
    def supports(self) -> bool:
        return not self.missing and self.probability >= model().sentence_min

    def feature(self, name: str) -> float:
        return self.features[FEATURES.index(name)]


def _is_count(w: str) -> bool:
    return bool(_NUMERAL.match(w)) or w in _NUMBER_WORDS


# What a person's name looks like in a sentence: a full name, or a title and a name, not any
# capitalised word ("Monday", "Labour"). Places and organisations are often one word ("Qantas",
# "Slovenia"), so for them any capitalised word the question lacks still counts. Cross-validated
# (benchmarks/README.md, issue 11): AUC 0.728 → 0.740, our set's fact 0.815 → 0.828.
_PERSON_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Sir|Lord|Lady|Dame|Professor|Prof|Judge|Rev)\.?\s+[A-Z][\w'’-]+|"
    r"\b[A-Z][a-z][\w'’]*(?:[ -](?:(?:de|van|von|da|di|del|le|la|dos) )?[A-Z][a-z][\w'’-]*)+"
)


_NOT_A_NAME = frozenset(
    "the a an in on at but and or he she it they we this that these those his her its their as for from by to of "  # noqa: SIM905
    "if when while after before since with".split()
)


def kind_match(q: Question, sentence: str) -> bool:
    """Whether the sentence holds an answer of the asked kind that the question lacks."""
    ws = words(sentence)
    if q.kind is AnswerKind.MONEY:
        return bool(_MONEY.search(sentence)) and any(_is_count(w) and stem(w) not in q.figures for w in ws)
    if q.kind is AnswerKind.COUNT:
        return any(_is_count(w) and not _YEAR.match(w) and stem(w) not in q.figures for w in ws)
    if q.kind is AnswerKind.DATE:
        # "…, the spokesperson said at a press conference on Tuesday": the day of the telling is
        # not the date of what is told, so a weekday in a reporting clause does not count
        told = _REPORTED_DAY.sub(" ", sentence)
        return any((w in _DATE_WORDS or _YEAR.match(w)) and stem(w) not in q.figures for w in words(told))
    if q.kind is AnswerKind.PERSON:
        asked = set(q.terms)
        for m in _PERSON_NAME.finditer(sentence):
            parts = m.group().split()
            while parts and parts[0].lower() in _NOT_A_NAME:  # "The Everton striker", "In March"
                parts.pop(0)
            if len(parts) >= 2 and any(stem(w) not in asked for w in words(" ".join(parts))):
                return True
        return False
    if q.kind in (AnswerKind.PERSON, AnswerKind.PLACE, AnswerKind.ORGANISATION):
        asked = set(q.terms)
        first = sentence.split(" ", 1)[0]
        return any(
            m.group() != first and any(stem(w) not in asked for w in words(m.group()))
            for m in _CAPITALISED.finditer(sentence)
        )
    return False


def _kind_token(q: Question, w: str, raw: str) -> bool:
    """Whether one word of a sentence could be (part of) an answer of the asked kind."""
    if stem(w) in q.figures:
        return False
    if q.kind in (AnswerKind.MONEY, AnswerKind.COUNT):
        return _is_count(w) and not (q.kind is AnswerKind.COUNT and _YEAR.match(w))
    if q.kind is AnswerKind.DATE:
        return w in _DATE_WORDS or bool(_YEAR.match(w))
    if q.kind in (AnswerKind.PERSON, AnswerKind.PLACE, AnswerKind.ORGANISATION):
        return raw[:1].isupper() and stem(w) not in q.terms
    return False


def kind_near(q: Question, sentence: str) -> float:
    """How close an answer of the asked kind stands to the question's focus or words in the
    sentence: 1 next to one, 1/(1+d) d words away, 0 with none. "nearly 4,000 listeners" for
    "how many listeners", not a "top 10" elsewhere in the sentence."""
    if q.kind is AnswerKind.OTHER:
        return 0.0
    raws = _RAW_WORD.findall(sentence)
    ws = [r.lower().rstrip(".,") for r in raws]
    anchors = [i for i, w in enumerate(ws) if stem(w) == q.focus] or [i for i, w in enumerate(ws) if stem(w) in q.terms]
    hits = [i for i, (w, r) in enumerate(zip(ws, raws, strict=True)) if i > 0 and _kind_token(q, w, r)]
    if not anchors or not hits:
        return 0.0
    d = min(abs(i - j) for i in hits for j in anchors)
    return 1.0 / d if d else 1.0


@functools.lru_cache(maxsize=1024)
def _stems(text: str) -> frozenset[str]:
    # A whole article's stems, for every question that retrieves it: ~2 ms a question otherwise.
    return frozenset(stem(w) for w in words(text))


def article_vocab(a: Article) -> frozenset[str]:
    """Every stem of an article's text, headline and metadata (outlet, author, editor)."""
    return _stems(a.text) | _stems(" ".join((a.title, a.source, a.author, a.editor, *a.outlets)))


def score_sentences(
    question: str | Question, passages: Sequence[Passage], idf: Callable[[str], float], *,
    qvec: np.ndarray | None = None, sentence_vectors: Sequence[np.ndarray | None] | None = None,
) -> list[Support]:
    """Every sentence of the passages with its support for the question, best first."""
    q = question if isinstance(question, Question) else analyse(question)
    weights = {t: idf(t) for t in q.terms}
    total = sum(weights.values()) or 1.0
    # a sentence is measured against what is asked, the article against the whole question
    # (its context clauses describe the article too): see question.core_text
    core = {t: weights.get(t) or idf(t) for t in q.core_terms}
    core_total = sum(core.values()) or 1.0
    seen: set[tuple[str, int]] = set()
    rows: list[tuple[Passage, Span, list[float], tuple[str, ...]]] = []
    per_article: dict[str, tuple[tuple[str, ...], float, float]] = {}
    asked = set(q.core_terms)
    name_stems = tuple(ns for ns in q.name_stems if ns <= asked) or q.name_stems
    years = [f for f in q.figures if _YEAR.match(f)]
    rank_of: dict[str, int] = {}
    for n, p in enumerate(passages):
        a = p.article
        rank_of.setdefault(a.id, len(rank_of) + 1)
        if a.id not in per_article:
            vocab = article_vocab(a)
            cov = sum(w for t, w in weights.items() if t in vocab) / total
            per_article[a.id] = (missing_names(q, vocab), cov, float(bool(missing_years(q, vocab))))
        missing, art_cov, years_missing = per_article[a.id]
        text = a.text
        title_stems = _stems(a.title)
        sents = p.sentences or (Span(p.chunk.start, p.chunk.end),)
        vecs = sentence_vectors[n] if sentence_vectors is not None else None
        sims = (vecs @ qvec) if vecs is not None and qvec is not None and len(vecs) == len(sents) else None
        stems = [{stem(w) for w in words(text[s.start : s.end])} for s in sents]
        for i, s in enumerate(sents):
            key = (a.id, s.start)
            if key in seen:
                continue
            seen.add(key)
            near = (stems[i - 1] if i > 0 else set()) | (stems[i + 1] if i + 1 < len(sents) else set())
            own = ctx = 0.0
            for t, w in core.items():
                if t in stems[i]:
                    own += w
                    ctx += w
                elif t in near:
                    ctx += NEIGHBOUR_WEIGHT * w
                elif t in title_stems:
                    ctx += TITLE_WEIGHT * w
            sentence = text[s.start : s.end]
            content = {x for x in stems[i] if len(x) > 2}
            novelty = len(content - set(q.terms)) / max(1, len(content))
            names_near = (sum(1 for ns in name_stems if ns <= (stems[i] | near)) / len(name_stems)) if name_stems else 1.0
            # "Who won Wimbledon in 2019?": a passage about 2018's final is a near miss
            years_near = (sum(1 for y in years if y in stems[i] or y in near) / len(years)) if years else 1.0
            feats = [
                float(sims[i]) if sims is not None else 0.0, 0.0, own / core_total, 0.0, ctx / core_total, art_cov,
                float(q.kind is not AnswerKind.OTHER), float(kind_match(q, sentence)), float(bool(q.focus)),
                float(bool(q.focus) and (q.focus in stems[i])), novelty, names_near, years_missing,
                1.0 / rank_of[a.id], float(s.start == 0 or (p.chunk.index == 0 and i == 0)), kind_near(q, sentence),
                years_near,
            ]
            rows.append((p, s, feats, missing))
    if not rows:
        return []
    best_sim = max(r[2][0] for r in rows)
    best_cov = max(r[2][2] for r in rows)
    for r in rows:
        r[2][1] = r[2][0] - best_sim
        r[2][3] = r[2][2] - best_cov
    probs = model().sentence_probability(np.array([r[2] for r in rows], dtype=np.float64), FEATURES)
    out = [Support(p, s, tuple(f), 0.0 if miss else float(pr), miss) for (p, s, f, miss), pr in zip(rows, probs, strict=True)]
    out.sort(key=lambda x: (not x.missing, x.probability), reverse=True)
    return out


def idf_from(df: dict[str, int], n_docs: int) -> Callable[[str], float]:
    """BM25's IDF; a word no article uses weighs UNSEEN_WEIGHT of a rare word."""

    def idf(term: str) -> float:
        d = df.get(term, 0)
        if d == 0:
            return UNSEEN_WEIGHT * math.log(1.0 + (n_docs - 0.5) / 1.5)
        return math.log(1.0 + (n_docs - d + 0.5) / (d + 0.5))

    return idf
