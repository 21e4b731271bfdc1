"""Extractive answers with three outcomes, and the citation and refusal building blocks both modes share.

The extractive answer is made only of sentences from the stored articles, each quoted with its
source, so it cannot invent anything. It is the default with no model configured and the fallback
whenever the model fails. What it says depends on the outcome (`models.Outcome`):

- answered: the sentences that hold the asked-for fact, quoted;
- not stated: the articles cover the subject but not the asked-for thing: it says so, names what
  is missing, and shows the closest passages marked as related, not as the answer;
- not covered: the plain refusal (naming the question's names no article mentions, if any).

A question about the article itself (its author, editor, date or outlet) is answered from the
article's metadata, cited as its byline or dateline. A question asking two things is answered
part by part, and the answer says which part the articles do not state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .answerability import ANSWER_FEATURES, model
from .models import Answer, Article, Citation, Mode, Outcome, Passage, Span
from .question import MetaField, Question, analyse
from .quotes import trim
from .support import Support

NOT_FOUND = "That is not in the loaded articles."
RELATED_QUOTES = 2


def citation(article: Article, span: Span, *, max_chars: int, verified: bool = True) -> Citation:
    """A citation of ``article.text[span]``, cut to `max_chars` at a word boundary."""
    span, _ = trim(article.text, span, max_chars)
    return Citation(
        article_id=article.id, title=article.title, source=article.source, published=article.published,
        url=article.url, quote=article.text[span.start : span.end], start=span.start, end=span.end, verified=verified,
        updated=article.updated,
    )


def metadata_citation(article: Article, field: MetaField) -> Citation:
    """The article's byline or dateline as a citation: `quote` is the metadata fact itself."""
    value = getattr(article, field.value)
    label = {MetaField.AUTHOR: "By", MetaField.EDITOR: "Editor:", MetaField.PUBLISHED: "Published", MetaField.OUTLET: "Source:"}[field]
    return Citation(
        article_id=article.id, title=article.title, source=article.source, published=article.published, url=article.url,
        quote=f"{label} {value}", start=0, end=0, verified=True, updated=article.updated, metadata=field.value,
    )


def attribution(c: Citation) -> str:
    who = c.source or "the article"
    return f"{who} ({c.published})" if c.published else who


def _about(a: Article) -> str:
    when = f", {a.published}" if a.published else ""
    return f"“{a.title}” ({a.source or 'unknown outlet'}{when})"


def refusal(passages: Sequence[Passage], *, note: str = "", mode: Mode = "extractive", missing: Sequence[str] = ()) -> Answer:
    """The plain "not covered" refusal; names the question's names no article mentions."""
    text = NOT_FOUND
    names = [m for m in missing if m]
    if names:
        text += f" None of them mentions {_join(names)}."
    elif passages:
        text += f" The closest article is {_about(passages[0].article)}, but it does not say."
    return Answer(text=text, answerable=False, mode=mode, citations=(), note=note, passages=tuple(passages),
                  outcome=Outcome.NOT_COVERED, missing=tuple(names))


def not_stated(passages: Sequence[Passage], what: Sequence[str], related: Sequence[Citation], *, note: str = "",
               mode: Mode = "extractive", about: Article | None = None) -> Answer:
    """The articles cover the subject but do not state `what`; `related` are shown as related only.
    `about`: the article that covers it (default: the first passage's)."""
    a = about or (passages[0].article if passages else None)
    where = f"{_about(a)} covers this subject" if a else "The loaded articles cover this subject"
    lines = [f"Not stated: {where} but does not give {_join(list(what))}."]
    if related:
        lines.append("Related passages (not the answer):")
        lines += [f"- “{c.quote}” — {attribution(c)}" for c in related]
    return Answer(text="\n".join(lines), answerable=False, mode=mode, citations=(), note=note, passages=tuple(passages),
                  outcome=Outcome.NOT_STATED, missing=tuple(what), related=tuple(related))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


@dataclass(frozen=True)
class Verdict:
    """What the evidence says about one question (or one part of it)."""

    outcome: Outcome
    chosen: tuple[Support, ...]  # the quotes, when answered
    related: tuple[Support, ...]  # the closest sentences, when not stated
    missing: tuple[str, ...]  # names no article mentions (not covered), or what is not stated
    confidence: float  # the fitted chance that the question is answerable


def answer_vector(probabilities: Sequence[float], feature: Callable[[str], float]) -> np.ndarray:
    """The answerability model's input (ANSWER_FEATURES) from the eligible sentences'
    probabilities, best first: the best, the runner-up, and the best sentence's own
    measurements (`feature(name)`)."""
    p_second = probabilities[1] if len(probabilities) > 1 else 0.0
    own = [feature(name) for name in ANSWER_FEATURES[2:]]
    return np.array([probabilities[0], p_second, *own], dtype=np.float64)


def answer_features(supports: Sequence[Support]) -> np.ndarray | None:
    """The answerability model's input for ranked supports (None: no article may answer)."""
    ok = [s for s in supports if not s.missing]
    if not ok:
        return None
    return answer_vector([s.probability for s in ok], ok[0].feature)


def quoted(ok: Sequence[Support], *, max_quotes: int) -> tuple[Support, ...]:
    """The sentences an answer quotes, given the eligible supports best first: the best, then
    further ones in the supports' order down to the first below the floor. Stopping at the first
    is the same as "every one above it" when they are ranked by probability, and, for a follow-up
    (the cited articles' sentences first), no jump past the thread's own article to a likely
    sentence of another story."""
    m = model()
    chosen = [ok[0]]
    floor = max(m.sentence_min, m.extra_quote_ratio * ok[0].probability)
    for s in ok[1:]:
        if len(chosen) >= max_quotes or s.probability < floor:
            break
        chosen.append(s)
    return tuple(chosen)


def decide(q: Question, supports: Sequence[Support], *, max_quotes: int) -> Verdict:
    m = model()
    x = answer_features(supports)
    if x is None:  # every retrieved article lacks a name or figure the question depends on
        missing = supports[0].missing if supports else ()
        return Verdict(Outcome.NOT_COVERED, (), (), tuple(missing), 0.0)
    ok = [s for s in supports if not s.missing]
    best = ok[0]
    confidence = m.answerable_probability(x)
    if confidence >= m.threshold and best.probability >= m.sentence_min:
        return Verdict(Outcome.ANSWERED, quoted(ok, max_quotes=max_quotes), (), (), confidence)
    if best.feature("article_coverage") >= m.not_stated_coverage:
        return Verdict(Outcome.NOT_STATED, (), tuple(ok[:RELATED_QUOTES]), (q.focus_phrase,), confidence)
    return Verdict(Outcome.NOT_COVERED, (), (), (), confidence)


def _quote_lines(chosen: Sequence[Support], cites: Sequence[Citation], first: int = 1) -> list[str]:
    lines = []
    for n, (c, s) in enumerate(zip(cites, chosen, strict=True), start=first):
        cut = "…" if c.end < s.sentence.end else ""  # trimmed to MAX_QUOTE_CHARS
        lines.append(f"According to {attribution(c)}: “{c.quote}{cut}” [{n}]")
    return lines


def metadata_answer(q: Question, passages: Sequence[Passage], *, note: str = "") -> Answer | None:
    """A question about the article itself, answered from the top article's metadata."""
    if q.about is None or not passages:
        return None
    a = passages[0].article
    value = getattr(a, q.about.value)
    what = {MetaField.AUTHOR: "its author", MetaField.EDITOR: "its editor", MetaField.PUBLISHED: "its publication date",
            MetaField.OUTLET: "its outlet"}[q.about]
    if not value:
        return Answer(text=f"Not stated: the details of {_about(a)} do not give {what}.", answerable=False, mode="extractive",
                      note=note, passages=tuple(passages), outcome=Outcome.NOT_STATED, missing=(what,))
    c = metadata_citation(a, q.about)
    verb = {MetaField.AUTHOR: "was written by", MetaField.EDITOR: "was edited by", MetaField.PUBLISHED: "was published on",
            MetaField.OUTLET: "was published by"}[q.about]
    place = "byline" if q.about in (MetaField.AUTHOR, MetaField.EDITOR) else "dateline"
    text = f"“{a.title}” {verb} {value} (from the article's {place}) [1]"
    return Answer(text=text, answerable=True, mode="extractive", citations=(c,), note=note, passages=tuple(passages))


def extractive_answer(
    supports: Sequence[Support], passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int, note: str = "",
    question: Question | None = None, parts: Sequence[tuple[Question, Sequence[Support]]] = (),
) -> Answer:
    """The extractive answer. `question`: the analysed question (for its focus and metadata asks);
    `parts`: each part of a question that asks several things, with its own supports."""
    if question is not None:
        meta = metadata_answer(question, passages, note=note)
        if meta is not None:
            return meta
    if len(parts) > 1:
        return _multi_part(parts, passages, max_quotes=max_quotes, max_quote_chars=max_quote_chars, note=note)
    q = question or analyse("")
    v = decide(q, supports, max_quotes=max_quotes)
    if v.outcome is Outcome.ANSWERED:
        cites = [citation(s.passage.article, s.sentence, max_chars=max_quote_chars) for s in v.chosen]
        return Answer(text="\n".join(_quote_lines(v.chosen, cites)), answerable=True, mode="extractive",
                      citations=tuple(cites), note=note, passages=tuple(passages))
    if v.outcome is Outcome.NOT_STATED:
        related = [citation(s.passage.article, s.sentence, max_chars=max_quote_chars) for s in v.related]
        return not_stated(passages, v.missing, related, note=note, about=v.related[0].passage.article if v.related else None)
    return refusal(passages, note=note, missing=v.missing)


def _multi_part(parts: Sequence[tuple[Question, Sequence[Support]]], passages: Sequence[Passage], *, max_quotes: int,
                max_quote_chars: int, note: str) -> Answer:
    """Each part answered on its own; the parts the articles do not state are named."""
    lines: list[str] = []
    cites: list[Citation] = []
    missing: list[str] = []
    per_part = max(1, max_quotes // len(parts))
    for q, sup in parts:
        v = decide(q, sup, max_quotes=per_part)
        if v.outcome is Outcome.ANSWERED:
            new = [(s, citation(s.passage.article, s.sentence, max_chars=max_quote_chars)) for s in v.chosen]
            new = [(s, c) for s, c in new if all((c.article_id, c.start) != (d.article_id, d.start) for d in cites)]
            lines.append(f"{q.text}")
            lines += ["  " + x for x in _quote_lines([s for s, _ in new], [c for _, c in new], first=len(cites) + 1)]
            cites += [c for _, c in new]
        else:
            missing.append(q.text)
            what = f" {_join(list(v.missing))}" if v.outcome is Outcome.NOT_COVERED and v.missing else ""
            lines.append(f"{q.text}\n  Not stated in the loaded articles{(': none of them mentions' + what) if what else ''}.")
    if not cites:
        return refusal(passages, note=note)
    return Answer(text="\n".join(lines), answerable=True, mode="extractive", citations=tuple(cites), note=note,
                  passages=tuple(passages), missing=tuple(missing))
