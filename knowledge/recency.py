"""Recency: questions that ask for "the latest" news get newer articles first.

A post-processing step after retrieval (as llama_index's node-recency postprocessor is): the
passages and their supporting sentences are reordered, newest first, before an answer is written.
Every answer path (`KnowledgeBase.ask`, and so the CLI, Discord and `eval`) goes through it.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .retrieval import Retrieved

_LATEST = re.compile(r"\b(latest|newest|most recent|recent|recently|lately|this week|today|current|currently)\b", re.IGNORECASE)


def wants_latest(question: str) -> bool:
    """Whether the question asks for the newest news ("the latest on …", "recently", "today")."""
    return bool(_LATEST.search(question))


def prefer_recent(retrieved: Retrieved) -> Retrieved:
    """Passages newest first, and supporting sentences of newer articles before older ones (stable:
    equally dated ones keep their relevance order)."""
    passages = sorted(retrieved.passages, key=lambda p: p.article.published, reverse=True)
    supports = sorted(retrieved.supports, key=lambda s: (s.supports, s.passage.article.published), reverse=True)
    return replace(retrieved, passages=passages, supports=supports)


def rerank_for_recency(question: str, retrieved: Retrieved) -> Retrieved:
    """`retrieved` reordered newest first when the question asks for the latest, else as it is."""
    return prefer_recent(retrieved) if wants_latest(question) else retrieved
