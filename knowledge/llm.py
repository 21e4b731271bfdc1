"""Answers written by a language model through any OpenAI-compatible server, quotes checked.

The model sees numbered passages marked as untrusted data and must reply with JSON naming the
passage and the exact words of each quote. Every quote is located in the stored article; a near
miss is repaired to the real sentence, an invention is dropped. Whatever goes wrong (timeout,
429, 5xx, a reply that is not the expected JSON, no checkable quote) the caller gets the
extractive answer with a short note, never an exception.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .answering import citation, not_stated
from .errors import ModelFailure
from .models import Answer, Citation, Passage, Span
from .quotes import NormalisedText, locate

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

log = logging.getLogger(__name__)

PROMPT = (Path(__file__).parent / "prompts" / "answer.md").read_text(encoding="utf-8")
REWRITE_PROMPT = (Path(__file__).parent / "prompts" / "rewrite.md").read_text(encoding="utf-8")
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
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
    timeout: float = 30.0
    max_retries: int = 2
    json_mode: bool = True
    temperature: float = 0.1
    max_tokens: int = 600


def render_passages(passages: Sequence[Passage]) -> str:
    blocks = []
    for n, p in enumerate(passages, start=1):
        a = p.article
        head = f'<passage number="{n}" title="{a.title}" source="{a.source}" published="{a.published or "unknown"}">'
        blocks.append(f"{head}\n{p.chunk.text}\n</passage>")
    return "\n\n".join(blocks)


def parse_reply(content: str) -> dict:
    """The JSON object in a model's reply (tolerating code fences and chatter around it)."""
    m = _JSON_OBJECT.search(content or "")
    if not m:
        raise ModelFailure("The model's reply was not in the expected form.")
    try:
        data = json.loads(m.group())
    except json.JSONDecodeError as exc:
        raise ModelFailure("The model's reply was not in the expected form.") from exc
    if not isinstance(data, dict) or not isinstance(data.get("quotes", []), list):
        raise ModelFailure("The model's reply was not in the expected form.")
    return data


def check_quotes(data: dict, passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int) -> list[Citation]:
    """The reply's quotes that stand in the stored text (repaired if nearly right); others dropped."""
    cites: list[Citation] = []
    norms: dict[str, NormalisedText] = {}
    for q in data.get("quotes", []):
        if len(cites) >= max_quotes:
            break
        if not isinstance(q, dict):
            continue
        text = str(q.get("quote", "")).strip()
        try:
            n = int(q.get("passage", 0))
        except (TypeError, ValueError):
            n = 0
        if not text:
            continue
        # A wrong passage number is forgiven if the words stand in another passage.
        order = ([passages[n - 1]] if 1 <= n <= len(passages) else []) + list(passages)
        for p in order:
            norm = norms.setdefault(p.article.id, NormalisedText(p.article.text))
            found = locate(text, p.article.text, p.sentences, within=Span(p.chunk.start, p.chunk.end), norm=norm)
            if found:
                c = citation(p.article, Span(found.start, found.end), max_chars=max_quote_chars)
                if all((c.article_id, c.start) != (d.article_id, d.start) for d in cites):
                    cites.append(c)
                if found.repaired:
                    log.info("repaired a model quote to the stored sentence in %s", p.article.id)
                break
        else:
            log.info("dropped a model quote not found in the passages: %.80r", text)
    return cites


class LLMAnswerer:
    def __init__(self, config: LLMConfig):
        from openai import AsyncOpenAI

        self.config = config
        self.client = AsyncOpenAI(
            api_key=config.api_key or "not-needed", base_url=config.base_url,
            timeout=config.timeout, max_retries=config.max_retries,
        )

    async def close(self) -> None:
        await self.client.close()

    async def complete(self, question: str, passages: Sequence[Passage], history: Sequence[tuple[str, str]] = ()) -> str:
        import openai

        messages = [{"role": "system", "content": PROMPT}]
        for q, a in history:
            messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": f"Passages:\n\n{render_passages(passages)}\n\nQuestion: {question}"})
        kwargs = {}
        if self.config.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            resp = await self.client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=self.config.temperature,
                max_tokens=self.config.max_tokens, **kwargs,
            )
        except openai.APITimeoutError as exc:
            raise ModelFailure("The language model took too long to answer.") from exc
        except openai.RateLimitError as exc:
            raise ModelFailure("The language model is rate-limited right now.") from exc
        except openai.APIStatusError as exc:
            log.warning("language model answered HTTP %s", exc.status_code)
            raise ModelFailure(f"The language model failed (HTTP {exc.status_code}).") from exc
        except openai.APIConnectionError as exc:
            raise ModelFailure("The language model could not be reached.") from exc
        except (openai.APIError, ValueError) as exc:  # e.g. a body that is not JSON
            raise ModelFailure("The language model's reply was unreadable.") from exc
        if not resp.choices or resp.choices[0].message is None:
            raise ModelFailure("The language model returned no answer.")
        return resp.choices[0].message.content or ""

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
            resp = await self.client.chat.completions.create(
                model=self.config.model, messages=messages, temperature=0.0, max_tokens=120,
            )
        except (openai.APIError, ValueError) as exc:
            raise ModelFailure("The language model could not rewrite the question.") from exc
        if not resp.choices or resp.choices[0].message is None:
            raise ModelFailure("The language model returned no question.")
        return resp.choices[0].message.content or ""

    async def answer(
        self, question: str, passages: Sequence[Passage], *, max_quotes: int, max_quote_chars: int,
        history: Sequence[tuple[str, str]] = (),
    ) -> Answer:
        """The model's answer with checked quotes; raises ModelFailure when it is unusable."""
        data = parse_reply(await self.complete(question, passages, history))
        text = " ".join(str(data.get("answer", "")).split())
        if data.get("answerable") is False or _NOT_IN_PASSAGES.search(text):
            from .question import analyse

            return not_stated(passages, (analyse(question).focus_phrase,), (), mode="llm")
        cites = check_quotes(data, passages, max_quotes=max_quotes, max_quote_chars=max_quote_chars)
        if not cites:
            raise ModelFailure("The model's quotes could not be found in the articles.")
        if not text:
            raise ModelFailure("The model's reply was not in the expected form.")
        return Answer(text=text[:1500], answerable=True, mode="llm", citations=tuple(cites), passages=tuple(passages))
