"""Answers and quotes as Discord embeds, inside Discord's limits, never cutting a quote.

Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits): content
2,000 characters; per embed a 256-character title, 4,096 description, 25 fields of 256 (name) and
1,024 (value), 2,048 footer; 10 embeds and 6,000 embed characters per message, all embeds counted.

A source that does not fit whole is left out (and counted in the footer: "Show quotes" lists them
all) rather than shown with its quote cut. The answer text is shortened only between lines, and
the extractive answer writes one quote a line, so its quotes stay whole too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from knowledge import Answer, Article, Citation, Outcome

log = logging.getLogger(__name__)

CONTENT = 2000
TITLE = 256
DESCRIPTION = 4096
FIELD_NAME = 256
FIELD_VALUE = 1024
FIELDS_PER_EMBED = 25
FOOTER = 2048
EMBEDS_PER_MESSAGE = 10
EMBED_TOTAL = 6000

COLOUR_ANSWER = discord.Colour.green()
COLOUR_FALLBACK = discord.Colour.gold()
COLOUR_NOT_FOUND = discord.Colour.light_grey()
COLOUR_NOT_STATED = discord.Colour.orange()
NOT_STATED_FOOTER = "Not stated in the loaded articles: the passages shown are related, not the answer."
EXCERPT_CONTEXT = 240  # characters of article text shown on each side of a quote
NOT_FOUND_HINT = "Use `/articles list` to see which articles are loaded."


def shorten(text: str, limit: int, placeholder: str = "…") -> str:
    """`text` cut to at most `limit` characters at a word boundary, with `placeholder` appended."""
    if len(text) <= limit:
        return text
    room = limit - len(placeholder)
    cut = text.rfind(" ", 0, room + 1)
    return text[: cut if cut > room // 2 else room].rstrip() + placeholder


def fit_lines(text: str, limit: int) -> str:
    """`text` cut to `limit` between lines (whole lines kept); one over-long line is shortened."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for line in text.split("\n"):
        if size + len(line) + 1 > limit - 2:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + "\n…" if kept else shorten(text.split("\n")[0], limit)


def source_field(n: int, c: Citation, *, quoted_above: bool = False) -> tuple[str, str] | None:
    """(name, value) of source number `n`; None if its quote alone would not fit in a field.
    `quoted_above`: the answer text already holds the quote (extractive answers), so the field
    points to it instead of showing it twice."""
    meta = ", ".join(x for x in (c.source, c.published) if x)
    tail = f" — {meta}" if meta else ""
    name = f"[{n}] " + shorten(c.title, FIELD_NAME - len(tail) - 5) + tail
    value = "Quoted above." if quoted_above else f"“{c.quote}”"
    if c.metadata:  # the article's byline or dateline, not a quote of its text
        value = f"From the article's {'byline' if c.metadata in ('author', 'editor') else 'dateline'}: {c.quote}"
    if not c.verified:
        value = "(not checked against the article) " + value
    if len(value) > FIELD_VALUE:
        return None
    if c.url and len(value) + len(c.url) + 20 <= FIELD_VALUE:
        value += f"\n[Read the article]({c.url})"
    return name, value


@dataclass(frozen=True)
class RenderedAnswer:
    embeds: list[discord.Embed]
    shown: int  # sources shown whole
    dropped: int  # sources left out for lack of room


def answer_embeds(answer: Answer, *, question: str) -> RenderedAnswer:
    """The answer as embeds for one message: text first, then numbered sources with their quotes."""
    if answer.outcome is Outcome.NOT_STATED:
        colour, text = COLOUR_NOT_STATED, answer.text
    elif not answer.answerable:
        colour, text = COLOUR_NOT_FOUND, f"{answer.text}\n\n{NOT_FOUND_HINT}"
    else:
        colour, text = (COLOUR_FALLBACK if answer.note else COLOUR_ANSWER), answer.text
    first = discord.Embed(title=shorten(question, TITLE), description=fit_lines(text, DESCRIPTION), colour=colour)
    footer = [answer.note] if answer.note else []
    if answer.outcome is Outcome.NOT_STATED:
        footer.append(NOT_STATED_FOOTER)
    if answer.answerable:
        footer.append("Quoted straight from the articles." if answer.mode == "extractive" else "Written by a language model; quotes checked against the articles.")
    embeds = [first]
    # room kept for the footer, and for "N more sources…" should any be left out
    budget = EMBED_TOTAL - len(first) - len(" · ".join(footer)) - 80
    shown = dropped = 0
    for n, c in enumerate(answer.citations, start=1):
        field = source_field(n, c, quoted_above=answer.mode == "extractive" and f"“{c.quote}" in answer.text)
        if field is None or len(field[0]) + len(field[1]) > budget:
            dropped += 1
            continue
        if len(embeds[-1].fields) >= FIELDS_PER_EMBED:
            if len(embeds) >= EMBEDS_PER_MESSAGE:
                dropped += 1
                continue
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].add_field(name=field[0], value=field[1], inline=False)
        budget -= len(field[0]) + len(field[1])
        shown += 1
    if dropped:
        footer.append(f"{dropped} more source{'s' if dropped > 1 else ''}: press “Show quotes”.")
    if footer:
        embeds[-1].set_footer(text=shorten(" · ".join(footer), FOOTER))
    return RenderedAnswer(embeds, shown, dropped)


_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s+|\n+")


def excerpt(text: str, start: int, end: int, context: int = EXCERPT_CONTEXT) -> str:
    """The quote `text[start:end]` in bold with up to `context` characters either side: whole
    sentences where they fit, else cut at a word."""
    lo = max(0, start - context)
    if lo > 0:
        m = _SENTENCE_END.search(text, lo, start)
        space = text.find(" ", lo, start)
        lo = m.end() if m else (space + 1 if space != -1 else start)
    hi = min(len(text), end + context)
    if hi < len(text):
        ends = [m.start() + 1 for m in _SENTENCE_END.finditer(text, end, hi) if text[m.start()] != "\n"]
        space = text.rfind(" ", end, hi)
        hi = ends[-1] if ends else (space if space != -1 else end)
    before, after = text[lo:start], text[end:hi].rstrip()
    return f"{'…' if lo > 0 else ''}{before}**{text[start:end]}**{after}{'…' if hi < len(text) else ''}"


def quote_embed(n: int, c: Citation, article: Article | None) -> discord.Embed:
    """One source of an answer with its quote in context, re-checked against the stored article."""
    embed = discord.Embed(title=shorten(f"[{n}] {c.title}", TITLE), url=c.url or None, colour=COLOUR_ANSWER)
    if c.metadata:
        embed.description = f"From the article's {'byline' if c.metadata in ('author', 'editor') else 'dateline'}: {c.quote}"
    elif article is None:
        embed.description = f"“{c.quote}”\n\nThis article has been removed since."
    elif article.text[c.start : c.end] != c.quote:
        embed.description = f"“{c.quote}”\n\nThe article has been revised since; this quote no longer stands in it."
    else:
        embed.description = excerpt(article.text, c.start, c.end)
    meta = [x for x in (c.source, c.published) if x]
    meta.append("quote checked ✓" if c.verified and article is not None else "quote not checked")
    embed.set_footer(text=" · ".join(meta))
    if len(embed.description) > DESCRIPTION:  # a 1,000-character quote with context still fits
        embed.description = f"“{c.quote}”"
    return embed


def pack(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    """Embeds grouped into messages of at most 10 embeds and 6,000 characters each."""
    messages: list[list[discord.Embed]] = []
    size = 0
    for e in embeds:
        if not messages or len(messages[-1]) >= EMBEDS_PER_MESSAGE or size + len(e) > EMBED_TOTAL:
            messages.append([])
            size = 0
        messages[-1].append(e)
        size += len(e)
    return messages


def total_chars(embeds: Sequence[discord.Embed]) -> int:
    return sum(len(e) for e in embeds)
