"""Reading a model server's reply: any bytes in, a typed draft or a ModelFailure out, never a crash.

A server, or the model behind it, may send anything: a JSON array or `null` instead of a
completion, `"choices": "x"`, content that is a number or a list, an event stream to a plain
request, an empty body, deep nesting, numbers like `1e400`, or megabytes of text. Everything here
takes what it expects by type and skips the rest. The model's JSON object is found by trying
`json.JSONDecoder.raw_decode` at the first few `{` only, so the work is linear in the reply's size
(a regex like `\\{.*\\}` is quadratic: 150,000 `{` took 17.7 s). Callers run `read_reply` in a
worker thread; the body is already capped in size by the transport (see `llm.py`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import ModelFailure

MAX_OBJECT_STARTS = 32  # `{` positions tried; a reply with its JSON further in is not worth reading
MAX_QUOTES_READ = 20
MAX_SENTENCES_READ = 12
MAX_QUOTE_CHARS_READ = 2000  # a longer "quote" is no quote (and would make the near-miss check slow)
MAX_SENTENCE_CHARS = 600
_DECODER = json.JSONDecoder()
_MARKER = re.compile(r"\s*\[(\d{1,3})\]")  # with the space before it: "6 dollars [1]," reads "6 dollars,"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[A-Z0-9\"“‘(])")


UNREADABLE = "The language model's reply was unreadable."
NOT_EXPECTED = "The model's reply was not in the expected form."


@dataclass(frozen=True)
class DraftQuote:
    passage: int | None  # the passage number the model named, None if it named none usable
    text: str


@dataclass(frozen=True)
class DraftSentence:
    text: str
    refs: tuple[int, ...]  # numbers (1-based) of the reply's quotes this sentence cites
    marked: bool  # the model said which quotes back it (a sentence of the old shape may not)


@dataclass(frozen=True)
class Draft:
    """The model's reply, in the shapes we accept, before any of it is checked."""

    answerable: bool
    sentences: tuple[DraftSentence, ...]
    quotes: tuple[DraftQuote, ...]


def completion_content(body: bytes) -> str:
    """The message content of an OpenAI chat completion body; ModelFailure for anything else."""
    if not body.strip():
        raise ModelFailure("The language model returned an empty reply.")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # an event stream, HTML, deep nesting
        raise ModelFailure(UNREADABLE) from exc
    choices = data.get("choices") if isinstance(data, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        content = "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    if not isinstance(content, str):
        raise ModelFailure("The language model returned no answer." if message is not None or first is not None else UNREADABLE)
    return content


def find_object(content: str) -> dict[str, Any]:
    """The first JSON object in `content` (code fences and chatter around it are fine)."""
    start = content.find("{")
    for _ in range(MAX_OBJECT_STARTS):
        if start < 0:
            break
        try:
            obj, _end = _DECODER.raw_decode(content, start)
        except (ValueError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            return obj
        start = content.find("{", start + 1)
    raise ModelFailure(NOT_EXPECTED)


def as_number(value: Any) -> int | None:
    """A small positive whole number from whatever the model wrote (3, 3.0, "3"), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value.strip())
    return value if isinstance(value, int) and 0 < value < 10_000 else None


def _refs(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(dict.fromkeys(n for n in (as_number(v) for v in items[:MAX_QUOTES_READ]) if n is not None))


def _split_old_answer(text: str) -> list[DraftSentence]:
    """The old shape, one string: its sentences, each citing the `[n]` markers it holds."""
    out = []
    for piece in _SENTENCE_END.split(" ".join(text.split())):
        refs = tuple(dict.fromkeys(n for n in (as_number(m) for m in _MARKER.findall(piece)) if n is not None))
        words = " ".join(_MARKER.sub("", piece).split())
        if words:
            out.append(_sentence(words, refs, bool(refs)))
    return out


def _sentence(text: str, refs: tuple[int, ...], marked: bool) -> DraftSentence:
    """A sentence as read; one too long for a short answer is kept (to be counted as left out)
    but cites nothing, so it is never shown, whole or cut."""
    if len(text) > MAX_SENTENCE_CHARS:
        return DraftSentence(text[:MAX_SENTENCE_CHARS], (), marked)
    return DraftSentence(text, refs, marked)


def _sentences(value: Any) -> list[DraftSentence]:
    if isinstance(value, str):
        return _split_old_answer(value[: MAX_SENTENCES_READ * MAX_SENTENCE_CHARS])
    if not isinstance(value, list):
        return []
    out = []
    for item in value[:MAX_SENTENCES_READ]:
        if isinstance(item, str):
            out += _split_old_answer(item[:MAX_SENTENCE_CHARS])
        elif isinstance(item, dict) and isinstance(item.get("sentence"), str):
            text = " ".join(_MARKER.sub("", item["sentence"][: MAX_SENTENCE_CHARS * 4]).split())
            if text:
                out.append(_sentence(text, _refs(item.get("quotes")), True))
    return out


def _quotes(value: Any) -> list[DraftQuote]:
    if not isinstance(value, list):
        raise ModelFailure(NOT_EXPECTED)
    out = []
    for q in value[:MAX_QUOTES_READ]:
        if isinstance(q, dict) and isinstance(q.get("quote"), str):
            out.append(DraftQuote(as_number(q.get("passage")), q["quote"][:MAX_QUOTE_CHARS_READ].strip()))
        else:
            out.append(DraftQuote(None, ""))  # keeps the numbering the answer's sentences cite
    return out


def read_draft(content: str) -> Draft:
    """The model's answer in `content`, in the new shape (sentences with quote numbers) or the old
    one (one string); ModelFailure when it is neither."""
    data = find_object(content)
    answerable = data.get("answerable")
    if answerable is False or (isinstance(answerable, str) and answerable.strip().lower() == "false"):
        return Draft(False, (), ())
    return Draft(True, tuple(_sentences(data.get("answer"))), tuple(_quotes(data.get("quotes", []))))


def read_reply(body: bytes) -> Draft:
    """A completion body straight to a draft answer (blocking; linear in the body's size)."""
    return read_draft(completion_content(body))
