"""Follow-up questions: a question asked in a conversation is retrieved with what came before it.

"What is the spokesperson against?" in a thread started on an answer about a port strike means
the port strike's spokesperson. On its own it retrieves whatever mentions a spokesperson. So a
follow-up is retrieved with the earlier question beside it, and the articles the earlier answers
cited come first among its passages (all of their chunks are candidates, whatever their rank).
With a model configured, the model first rewrites the follow-up as a question that stands on its
own ("What is the port workers' union spokesperson against?"), and that is what is retrieved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .models import Passage

MAX_REWRITE_CHARS = 400


@dataclass(frozen=True)
class Turn:
    """An earlier question in a conversation, its answer, and the articles that answer cited."""

    question: str
    answer: str
    article_ids: tuple[str, ...] = ()


def as_turns(history: Sequence[Turn | tuple[str, str]]) -> list[Turn]:
    """History as turns (a plain (question, answer) pair cites nothing)."""
    return [h if isinstance(h, Turn) else Turn(str(h[0]), str(h[1])) for h in history]


def retrieval_text(question: str, history: Sequence[Turn]) -> str:
    """What a follow-up is retrieved with: the question and the last earlier question."""
    if not history:
        return question
    return f"{question} {history[-1].question}"


def cited_ids(history: Sequence[Turn]) -> list[str]:
    """The articles earlier answers cited, the latest answer's first."""
    return list(dict.fromkeys(a for t in reversed(history) for a in t.article_ids))


def cited_first(passages: Sequence[Passage], cited: Sequence[Passage], k: int) -> list[Passage]:
    """`cited` (the cited articles' passages, in the order of `cited_ids`) first, then the rest, each
    chunk once, at most `k` (never fewer than the cited ones, so their chunks are all candidates)."""
    seen: set[tuple[str, int]] = set()
    out: list[Passage] = []
    for p in [*cited, *passages]:
        key = (p.article.id, p.chunk.index)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out[: max(k, len(cited))]


def clean_rewrite(text: str, fallback: str) -> str:
    """A model's rewritten question, bounded and on one line; `fallback` when it gave nothing usable."""
    line = " ".join((text or "").split()).strip().strip('"“”')
    if not line or len(line) > MAX_REWRITE_CHARS or not any(ch.isalnum() for ch in line):
        return fallback
    return line
