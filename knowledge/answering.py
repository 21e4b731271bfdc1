"""Extractive answers, and the citation and refusal building blocks both answer modes share.

The extractive answer is made only of sentences from the stored articles, each quoted with its
source, so it cannot invent anything. It is the default with no model configured and the fallback
whenever the model fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import Answer, Article, Citation, Mode, Passage, Span
from .quotes import trim
from .support import Support

NOT_FOUND = "That is not in the loaded articles."


def citation(article: Article, span: Span, *, max_chars: int, verified: bool = True) -> Citation:
    """A citation of ``article.text[span]``, cut to `max_chars` at a word boundary."""
    span, _ = trim(article.text, span, max_chars)
    return Citation(
        article_id=article.id, title=article.title, source=article.source, published=article.published,
        url=article.url, quote=article.text[span.start : span.end], start=span.start, end=span.end, verified=verified,
        updated=article.updated,
    )


def attribution(c: Citation) -> str:
    who = c.source or "the article"
    return f"{who} ({c.published})" if c.published else who


def refusal(passages: Sequence[Passage], *, note: str = "", mode: Mode = "extractive") -> Answer:
    text = NOT_FOUND
    if passages:
        a = passages[0].article
        when = f", {a.published}" if a.published else ""
        text += f" The closest article is “{a.title}” ({a.source or 'unknown outlet'}{when}), but it does not say."
    return Answer(text=text, answerable=False, mode=mode, citations=(), note=note, passages=tuple(passages))


def pick_supports(supports: Sequence[Support], max_quotes: int, margin: float = 0.3) -> list[Support]:
    """The best supporting sentence and any others nearly as good, at most one per sentence."""
    if not supports or not supports[0].supports:
        return []
    best = supports[0]
    chosen = [best]
    for s in supports[1:]:
        if len(chosen) >= max_quotes:
            break
        if s.supports and s.score >= best.score - margin and all(
            (s.passage.article.id, s.sentence.start) != (c.passage.article.id, c.sentence.start) for c in chosen
        ):
            chosen.append(s)
    return chosen


def extractive_answer(
    supports: Sequence[Support], passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int, note: str = ""
) -> Answer:
    chosen = pick_supports(supports, max_quotes)
    if not chosen:
        return refusal(passages, note=note)
    cites = [citation(s.passage.article, s.sentence, max_chars=max_quote_chars) for s in chosen]
    lines = []
    for n, (c, s) in enumerate(zip(cites, chosen, strict=True), start=1):
        cut = "…" if c.end < s.sentence.end else ""  # trimmed to MAX_QUOTE_CHARS
        lines.append(f"According to {attribution(c)}: “{c.quote}{cut}” [{n}]")
    return Answer(text="\n".join(lines), answerable=True, mode="extractive", citations=tuple(cites), note=note, passages=tuple(passages))
