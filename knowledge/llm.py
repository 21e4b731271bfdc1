"""Answers written by a language model through any OpenAI-compatible server, every claim checked.

The model sees the passages as data, one JSON object per passage (its text, title and source as
escaped JSON strings, so an article cannot forge the prompt's structure), and must reply with JSON:
its answer sentence by sentence, each naming the quotes that back it, and the quotes with their
passage numbers. Every quote is located in the stored article and must be a whole unit of it
(`quotes.whole_unit`); a near miss is repaired to the real sentence, an invention is dropped. A
sentence left without a verified quote is dropped (`claims.tie`).

Whatever the server does (timeout, a trickle of bytes, 429, 5xx, a body of any shape or size)
the caller gets the extractive answer with a short note, never an exception: `LLM_TIMEOUT` bounds
the whole call, retries included; the body is cut at MAX_REPLY_BYTES as it arrives; the reply is
read in linear time in a worker thread (`replies.py`).
"""

from __future__ import annotations

import asyncio
import html
import importlib
import json
import logging
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .answering import citation, not_stated
from .chunking import split_sentences
from .claims import tie
from .errors import ModelFailure
from .models import Answer, Article, Citation, Claim, Passage, Span
from .quotes import NormalisedText, locate, whole_unit
from .replies import UNREADABLE, Draft, DraftQuote, completion_content, read_reply

__all__ = ["LLMAnswerer", "LLMConfig", "ModelFailure", "check_quotes", "render_passages"]

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

log = logging.getLogger(__name__)

PROMPT = (Path(__file__).parent / "prompts" / "answer.md").read_text(encoding="utf-8")
# A well-formed completion of 600 tokens is about 3 KB; 256 KiB leaves room for verbose servers
# while a 5 MB reply stops being read at once.
MAX_REPLY_BYTES = 256 * 1024
TOO_LARGE = "The language model's reply was too large."
REWRITE_PROMPT = (Path(__file__).parent / "prompts" / "rewrite.md").read_text(encoding="utf-8")
# A reply whose answer says the passages do not hold it ("The passages do not say …").
_NOT_IN_PASSAGES = re.compile(
    r"\b(passages?|articles?|context|sources?|texts?|documents?)\b[^.]{0,60}\b(do|does|did)\s*(not|n't)\s+"
    r"(say|state|mention|specify|give|include|contain|provide|answer)|\b(not|never)\s+(stated|mentioned|specified|given)\b"
    r"[^.]{0,40}\b(passages?|articles?|context|sources?)\b|\binsufficient information\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LLMConfig:
    model: str = "gpt-4o-mini"
    api_key: str | None = None
    base_url: str | None = None
    timeout: float = 30.0  # the whole call, retries included
    max_retries: int = 2
    json_mode: bool = True
    temperature: float = 0.1
    max_tokens: int = 600


def render_passages(passages: Sequence[Passage]) -> str:
    """One JSON object per line and passage; every article field is an escaped JSON string."""
    lines = []
    for n, p in enumerate(passages, start=1):
        a = p.article
        lines.append(json.dumps({"number": n, "title": a.title, "source": a.source or "unknown",
                                 "published": a.published or "unknown", "text": p.chunk.text}, ensure_ascii=False))
    return "\n".join(lines)


def user_message(question: str, passages: Sequence[Passage]) -> str:
    return (f"Passages, one JSON object per line:\n{render_passages(passages)}\n\n"
            f"Question, as a JSON string: {json.dumps(question, ensure_ascii=False)}")


# -- checking ------------------------------------------------------------------------------


class _Sentences:
    """Sentence spans of each article, from the passages first, split only when needed."""

    def __init__(self, passages: Sequence[Passage]):
        self._known: dict[str, tuple[Span, ...]] = {}
        for p in passages:
            self._known[p.article.id] = tuple(sorted({*self._known.get(p.article.id, ()), *p.sentences}, key=lambda s: s.start))
        self._split: set[str] = set()

    def around(self, article: Article, span: Span) -> tuple[Span, ...]:
        spans = self._known.get(article.id, ())
        covered = any(s.start <= span.start < s.end for s in spans) and any(s.start < span.end <= s.end for s in spans)
        if not covered and article.id not in self._split:
            self._split.add(article.id)
            spans = self._known[article.id] = tuple(split_sentences(article.text))
        return spans


def check_quotes(
    quotes: Sequence[DraftQuote], passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int,
) -> tuple[list[Citation], dict[int, int]]:
    """The reply's quotes that stand in the stored text as whole units (repaired if nearly
    right); others dropped. Also returns, for each kept quote's number in the reply (1-based),
    the number of its citation."""
    cites: list[Citation] = []
    ref_to_cite: dict[int, int] = {}
    norms: dict[str, NormalisedText] = {}
    sentences = _Sentences(passages)
    for ref, q in enumerate(quotes, start=1):
        if not q.text:
            continue
        # A wrong passage number is forgiven if the words stand in another passage.
        n = q.passage or 0
        order = ([passages[n - 1]] if 1 <= n <= len(passages) else []) + list(passages)
        for p in order:
            norm = norms.setdefault(p.article.id, NormalisedText(p.article.text))
            found = locate(q.text, p.article.text, p.sentences, within=Span(p.chunk.start, p.chunk.end), norm=norm)
            if not found:
                continue
            span = Span(found.start, found.end)
            unit = whole_unit(p.article.text, span, sentences.around(p.article, span), max_quote_chars)
            if unit is None:
                log.info("dropped a model quote that is not a whole unit of %s: %.80r", p.article.id, q.text)
                break
            if unit != span:
                log.info("widened a model quote to its sentence in %s", p.article.id)
            c = citation(p.article, unit, max_chars=max_quote_chars)
            same = next((i for i, d in enumerate(cites, start=1) if (d.article_id, d.start) == (c.article_id, c.start)), None)
            if same is None and len(cites) < max_quotes:
                cites.append(c)
                same = len(cites)
            if same is not None:
                ref_to_cite[ref] = same
            if found.repaired:
                log.info("repaired a model quote to the stored sentence in %s", p.article.id)
            break
        else:
            log.info("dropped a model quote not found in the passages: %.80r", q.text)
    return cites, ref_to_cite


def checked_answer(draft: Draft, passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int,
                   question: str = "") -> Answer:
    """The draft with its quotes checked and each sentence tied to them; ModelFailure when nothing
    of it can be shown. A model that says the passages do not hold the answer gives "not stated"."""
    if not draft.answerable or _NOT_IN_PASSAGES.search(" ".join(s.text for s in draft.sentences)):
        from .question import analyse

        return not_stated(passages, (analyse(question).focus_phrase,), (), mode="llm")
    cites, ref_to_cite = check_quotes(draft.quotes, passages, max_quotes=max_quotes, max_quote_chars=max_quote_chars)
    if not cites:
        raise ModelFailure("The model's quotes could not be found in the articles.")
    tied = tie(draft.sentences, ref_to_cite, cites)
    if not tied.claims:
        if draft.sentences and tied.unmarked == len(draft.sentences):
            raise ModelFailure("The model's answer did not say which quote backs each sentence.")
        raise ModelFailure("No sentence of the model's answer rests on a quote found in the articles.")
    # Only the quotes some kept sentence cites are shown, renumbered in order.
    used = sorted({n for c in tied.claims for n in c.quotes})
    renumber = {old: new for new, old in enumerate(used, start=1)}
    claims = tuple(Claim(c.text, tuple(renumber[n] for n in c.quotes)) for c in tied.claims)
    note = ""
    if tied.dropped:
        note = (f"{tied.dropped} sentence{'s' * (tied.dropped != 1)} of the model's answer "
                f"{'were' if tied.dropped != 1 else 'was'} left out: no quote found in the articles backs "
                f"{'them' if tied.dropped != 1 else 'it'}.")
    return Answer(text=" ".join(c.text for c in claims), answerable=True, mode="llm", note=note,
                  citations=tuple(cites[n - 1] for n in used), passages=tuple(passages), claims=claims)


# -- transport -----------------------------------------------------------------------------


def _httpx() -> Any:
    """The httpx flavour the installed openai client is built on (httpx, or httpx2 in newer ones)."""
    import openai

    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
    return importlib.import_module(base.__module__.split(".")[0])


def _capped_http_client(max_bytes: int) -> Any:
    """An HTTP client for the openai library whose response bodies stop at `max_bytes`: past it,
    reading raises ReplyTooLarge, which the openai client passes on without retrying."""
    import openai

    httpx = _httpx()

    class ReplyTooLarge(openai.OpenAIError):
        pass

    class Capped(httpx.AsyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any):
            self.inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            seen = 0
            async for chunk in self.inner:
                seen += len(chunk)
                if seen > max_bytes:
                    raise ReplyTooLarge(TOO_LARGE)
                yield chunk

        async def aclose(self) -> None:
            await self.inner.aclose()

    class CappedTransport(httpx.AsyncHTTPTransport):  # type: ignore[misc, name-defined]
        async def handle_async_request(self, request: Any) -> Any:
            response = await super().handle_async_request(request)
            response.stream = Capped(response.stream)
            return response

    client: Any = openai.DefaultAsyncHttpxClient(transport=CappedTransport())
    client.reply_too_large = ReplyTooLarge
    return client


class LLMAnswerer:
    def __init__(self, config: LLMConfig, *, max_reply_bytes: int = MAX_REPLY_BYTES):
        from openai import AsyncOpenAI

        self.config = config
        self.http = _capped_http_client(max_reply_bytes)
        self.client = AsyncOpenAI(
            api_key=config.api_key or "not-needed", base_url=config.base_url,
            timeout=config.timeout, max_retries=config.max_retries, http_client=self.http,
        )

    async def close(self) -> None:
        await self.client.close()

    def messages(self, question: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": PROMPT}]
        for q, a in history:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": user_message(question, passages)})
        return messages

    async def _post(self, messages: list[dict[str, str]]) -> bytes:
        import openai

        kwargs: dict[str, Any] = {}
        if self.config.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            # The raw body: its shape is checked by replies.py, not trusted to the client's models.
            raw = await self.client.chat.completions.with_raw_response.create(
                model=self.config.model, messages=messages, temperature=self.config.temperature,  # type: ignore[arg-type]
                max_tokens=self.config.max_tokens, **kwargs,
            )
            return bytes(raw.http_response.content)
        except self.http.reply_too_large as exc:
            raise ModelFailure(TOO_LARGE) from exc
        except openai.APITimeoutError as exc:
            raise ModelFailure("The language model took too long to answer.") from exc
        except openai.RateLimitError as exc:
            raise ModelFailure("The language model is rate-limited right now.") from exc
        except openai.APIStatusError as exc:
            log.warning("language model answered HTTP %s", exc.status_code)
            raise ModelFailure(f"The language model failed (HTTP {exc.status_code}).") from exc
        except openai.APIConnectionError as exc:
            raise ModelFailure("The language model could not be reached.") from exc
        except (openai.OpenAIError, ValueError) as exc:
            raise ModelFailure(UNREADABLE) from exc

    async def fetch(self, messages: list[dict[str, str]]) -> bytes:
        """The completion body; LLM_TIMEOUT bounds it all, retries and slow bodies included."""
        try:
            return await asyncio.wait_for(self._post(messages), self.config.timeout)
        except asyncio.TimeoutError as exc:
            raise ModelFailure("The language model took too long to answer.") from exc

    async def complete(self, question: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]] = ()) -> str:
        """The model's message text, unchecked (for diagnostics and tests)."""
        body = await self.fetch(self.messages(question, passages, history))
        return await asyncio.to_thread(completion_content, body)

    async def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """The follow-up `question` rewritten by the model to stand on its own (for retrieval);
        raises ModelFailure when the model gives nothing."""
        import openai

        esc = html.escape  # the conversation is data: no tags of its own
        turns = "\n".join(f"<question>{esc(q)}</question>\n<answer>{esc(a)}</answer>" for q, a in history)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": REWRITE_PROMPT},
            {"role": "user", "content": f"Conversation:\n{turns}\n\nFollow-up question: {esc(question)}"},
        ]
        try:
            # LLM_TIMEOUT bounds the whole call, retries included, as for answers
            resp = await asyncio.wait_for(self.client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=0.0, max_tokens=120,
            ), self.config.timeout)
        except (openai.OpenAIError, ValueError, TypeError, asyncio.TimeoutError) as exc:
            raise ModelFailure("The language model could not rewrite the question.") from exc
        choices = getattr(resp, "choices", None)
        message = getattr(choices[0], "message", None) if isinstance(choices, list) and choices else None
        content = getattr(message, "content", None)
        if not isinstance(content, str) or not content.strip():
            raise ModelFailure("The language model returned no question.")
        return " ".join(content.split())[:1000]  # a rewritten question is one line, never a flood

    async def answer(
        self, question: str, passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """The model's answer, each sentence tied to checked quotes; raises ModelFailure when
        nothing usable came back."""
        body = await self.fetch(self.messages(question, passages, history))

        def check() -> Answer:  # parsing and the near-miss search are CPU work: off the event loop
            return checked_answer(read_reply(body), passages, question=question, max_quotes=max_quotes, max_quote_chars=max_quote_chars)

        return await asyncio.to_thread(check)
