"""Evaluating a knowledge base on a file of questions with known answers.

The file is JSON Lines, one question per line, in the format of the BBC dev set:
``{"id", "question", "answerable": true, "article", "answer", "evidence"}`` for answerable
questions (``article`` names the article by id, URL, or the end of the path it was loaded from;
``answer`` is text the answer must contain) and ``{"id", "question", "answerable": false}`` for
questions the articles cannot answer. Every question goes through the same path a Discord
question takes (`KnowledgeBase.ask`), and the rank of the right article is read from the passages
that answer was written from (`Answer.passages`, at most TOP_K of them, after the recency
ordering), so the figures measure exactly what users get.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .base import KnowledgeBase
from .errors import InputError, NotFoundError
from .models import Answer, ArticleInfo
from .retrieval import SearchFilter


@dataclass
class QuestionResult:
    id: str
    question: str
    answerable: bool
    answered: bool
    article: str  # the reference to the right article, if the file names one
    rank: int | None  # rank of the right article among the answer's passages (1-based), if named
    correct: bool | None  # expected answer text in the answer (answerable questions)
    quotes: int
    quotes_verified: int
    in_context: bool | None  # expected answer text in the passages a model would be sent (answerable questions)
    seconds: float
    answer: str
    outcome: str = ""  # "answered", "not_stated" or "not_covered"


@dataclass
class Report:
    results: list[QuestionResult] = field(default_factory=list)

    def summary(self) -> dict[str, int | float | None]:
        r = self.results
        ranked = [x for x in r if x.answerable and x.article]
        pos = [x for x in r if x.answerable]
        neg = [x for x in r if not x.answerable]
        quotes = sum(x.quotes for x in r)
        secs = sorted(x.seconds for x in r)

        def share(n: int, d: int) -> float | None:
            return round(n / d, 4) if d else None

        return {
            "questions": len(r),
            "answerable": len(pos),
            "unanswerable": len(neg),
            "hit@1": share(sum(1 for x in ranked if x.rank == 1), len(ranked)),
            "hit@5": share(sum(1 for x in ranked if x.rank is not None and x.rank <= 5), len(ranked)),
            "mrr@10": round(sum(1 / x.rank for x in ranked if x.rank and x.rank <= 10) / len(ranked), 4) if ranked else None,
            "answer_accuracy": share(sum(1 for x in pos if x.correct), len(pos)),
            "quote_verification": share(sum(x.quotes_verified for x in r), quotes),
            "context_recall": share(sum(1 for x in pos if x.in_context), sum(1 for x in pos if x.in_context is not None)),
            "refusal_accuracy": share(sum(1 for x in neg if not x.answered), len(neg)),
            "wrongful_refusals": share(sum(1 for x in pos if not x.answered), len(pos)),
            "latency_ms_p50": round(statistics.median(secs) * 1000, 1) if secs else None,
            "latency_ms_p95": round(secs[min(len(secs) - 1, int(0.95 * len(secs)))] * 1000, 1) if secs else None,
        }

    def to_json(self) -> dict[str, object]:
        return {"summary": self.summary(), "results": [asdict(x) for x in self.results]}


def load_questions(path: str | Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {n}: not valid JSON.") from exc
        if not isinstance(q, dict) or not isinstance(q.get("question"), str) or not q["question"].strip():
            raise InputError(f"{path}, line {n}: each line needs a \"question\".")
        if problem := _field_problem(q):
            raise InputError(f"{path}, line {n}: {problem}")
        out.append(q)
    return out


# the fields `evaluate` reads, with the JSON types they must have; others are ignored
_FIELD_TYPES: dict[str, tuple[type, ...]] = {"answerable": (bool,), "id": (str, int), "article": (str,), "answer": (str,)}
_JSON_NAMES = {bool: "true or false", str: "a string", int: "a number"}


def _field_problem(q: dict[str, object]) -> str:
    """Why a question line's fields cannot be used as they are ("" if they can): "answerable":
    "false" (a string) would otherwise count as answerable."""
    for name, types in _FIELD_TYPES.items():
        if name not in q or q[name] is None:
            continue
        value = q[name]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            expected = " or ".join(_JSON_NAMES[t] for t in types)
            return f"\"{name}\" must be {expected}, not {json.dumps(value)[:40]}."
    return ""


def matches(article: ArticleInfo, ref: str) -> bool:
    ref = ref.strip()
    return bool(ref) and (article.id == ref or article.url == ref or article.origin.replace("\\", "/").endswith("/" + ref.lstrip("/")) or article.origin == ref)


def verified_quotes(kb: KnowledgeBase, answer: Answer) -> int:
    ok = 0
    for c in answer.citations:
        with contextlib.suppress(NotFoundError):  # a citation of an article that is gone is unverified
            article = kb.get(c.article_id)
            if c.metadata:  # a byline or dateline: the metadata fact itself must match
                ok += int(c.verified and bool(getattr(article, c.metadata, "")) and c.quote.endswith(str(getattr(article, c.metadata))))
            else:
                ok += int(c.verified and article.text[c.start : c.end] == c.quote)
    return ok


async def evaluate(kb: KnowledgeBase, questions: list[dict[str, object]], flt: SearchFilter | None = None) -> Report:
    report = Report()
    for q in questions:
        started = time.perf_counter()
        answer = await kb.ask(str(q["question"]), flt)  # checked by load_questions
        seconds = time.perf_counter() - started
        ref = str(q.get("article", "") or "")
        rank = None
        if ref:
            rank = next((i for i, p in enumerate(answer.passages, start=1) if matches(p.article, ref)), None)
        expected = str(q.get("answer", "") or "")
        answerable = bool(q.get("answerable", True))
        report.results.append(QuestionResult(
            id=str(q.get("id", len(report.results) + 1)), question=str(q["question"]), answerable=answerable,
            answered=answer.answerable, article=ref, rank=rank,
            # a refusal never counts, though "not stated" shows related passages that may hold the text
            correct=(answer.answerable and expected.lower() in answer.text.lower()) if answerable and expected else None,
            quotes=len(answer.citations), quotes_verified=verified_quotes(kb, answer), seconds=seconds,
            in_context=any(expected.lower() in p.chunk.text.lower() for p in answer.passages) if answerable and expected else None,
            answer=answer.text, outcome=answer.outcome.value if answer.outcome else "",
        ))
    return report
