"""The ceiling of the answer decision: how far any answer threshold could go with today's measurements.

Shared by bbc_quality.py and rgb_counterfactual.py. For each question the answer path's own
retrieval and sentence scoring run once (`decision_case`): its answerability confidence, and
whether the sentences an answer would quote hold the expected answer. `sweep` then tries every
threshold, so a missed target can be told apart: a threshold that was set wrongly (some threshold
meets it), confidences that overlap (none does), or a sentence choice that misses (even a perfect
decision, answering exactly the answerable questions, would not show the fact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from knowledge import KnowledgeBase
from knowledge.answerability import model
from knowledge.answering import decide, quoted
from knowledge.retrieval import SearchFilter
from knowledge.support import Support


@dataclass(frozen=True)
class DecisionCase:
    confidence: float  # -1 when no threshold could answer (every article ruled out, or best sentence below the floor)
    held: bool  # the sentences an answer would quote hold the answer
    candidate: bool  # some sentence not ruled out holds it (a better sentence choice could quote it)
    gated: bool  # only sentences of articles ruled out by a missing name hold it


def decision_case(kb: KnowledgeBase, question: str, holds: Callable[[str], bool],
                  flt: SearchFilter | None = None) -> DecisionCase:
    """What the answer path's decision saw for one question, and where the answer was."""
    r = kb.retrieve(question, flt)
    v = decide(r.question, r.supports, max_quotes=kb.config.max_quotes)
    ok = [s for s in r.supports if not s.missing]

    def text(s: Support) -> str:
        return s.passage.article.text[s.sentence.start : s.sentence.end]

    candidate = any(holds(text(s)) for s in ok)
    gated = not candidate and any(holds(text(s)) for s in r.supports if s.missing)
    if not ok:
        return DecisionCase(-1.0, False, False, gated)
    m = model()
    quotes = quoted(ok, max_quotes=kb.config.max_quotes)
    held = any(holds(text(s)) for s in quotes)
    return DecisionCase(v.confidence if ok[0].probability >= m.sentence_min else -1.0, held, candidate, gated)


def sweep(pos: Sequence[DecisionCase], neg: Sequence[DecisionCase]) -> list[tuple[float, float, float, float]]:
    """Every threshold with (threshold, fact in the answer, unanswerable refused, answerable refused)."""
    rows = []
    # thresholds from 0: a question no threshold could answer (confidence -1) is refused at every one
    for t in sorted({c.confidence for c in (*pos, *neg) if c.confidence >= 0} | {0.0, 1.01}):
        fact = sum(1 for c in pos if c.confidence >= t and c.held) / len(pos)
        refused = sum(1 for c in neg if c.confidence < t) / len(neg)
        rows.append((t, fact, refused, sum(1 for c in pos if c.confidence < t) / len(pos)))
    return rows


def summary(pos: Sequence[DecisionCase], neg: Sequence[DecisionCase],
            points: dict[str, Callable[[list[Row]], Row | None]]) -> dict:
    """AUC (the chance that an answerable question's confidence is above an unanswerable one's),
    the shares of answerable questions whose answer a perfect decision would show (`oracle`),
    that some sentence not ruled out holds (`candidates`) and that only ruled-out articles hold
    (`gated`), and the named points of the sweep."""
    rows = sweep(pos, neg)
    n = len(pos)
    auc = sum((p.confidence > q.confidence) + 0.5 * (p.confidence == q.confidence) for p in pos for q in neg) / (n * len(neg))
    return {"auc": round(auc, 3), "oracle": round(sum(c.held for c in pos) / n, 3),
            "candidates": round(sum(c.candidate for c in pos) / n, 3), "gated": round(sum(c.gated for c in pos) / n, 3),
            "points": {k: point(f(rows)) for k, f in points.items()}}


Row = tuple[float, float, float, float]


def point(r: Row | None) -> dict | None:
    if r is None:
        return None
    return {"threshold": round(r[0], 3), "fact": round(r[1], 3), "refused": round(r[2], 3), "wrongful": round(r[3], 3)}


def best(rows: Sequence[Row], keep: Callable[[Row], bool], key: Callable[[Row], tuple]) -> Row | None:
    """The best row by `key` among those `keep` accepts; None when it accepts none."""
    kept = [r for r in rows if keep(r)]
    return max(kept, key=key) if kept else None


def show(summary: dict) -> list[str]:
    """Printable lines for a `summary`."""
    lines = [f"  AUC {summary['auc']}; the answer is in what a perfect decision would quote: {summary['oracle']}; "
             f"in a sentence not ruled out: {summary['candidates']}; only in articles a missing name rules out: {summary['gated']}"]
    for name, c in summary["points"].items():
        lines.append(f"  {name:<44}" + ("none" if c is None else
                     f"threshold {c['threshold']:<6} fact {c['fact']:<6} refused {c['refused']:<6} wrongful {c['wrongful']}"))
    return lines
