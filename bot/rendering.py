"""Answers and quotes as Discord embeds, inside Discord's limits, never cutting a quote.

Limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits): content
2,000 characters; per embed a 256-character title, 4,096 description, 25 fields of 256 (name) and
1,024 (value), 2,048 footer; 10 embeds and 6,000 embed characters per message, all embeds counted.

Sources are grouped by article (`bot/sources.py`): one field per article, its numbered quotes
inside. A quote that does not fit whole is left out (and counted in the footer: "Show quotes" lists
them all) rather than shown cut. The answer text is shortened only between lines, and the
extractive answer writes one quote a line, so its quotes stay whole too.

Text taken from an article, a model or a question is untrusted: it goes through `plain()`, so a
masked link, a mention or markdown in it shows as the characters it is. The only links are the
"Read the article" ones made from an article's own http(s) URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import discord

from knowledge import Answer, Article, Citation, Outcome

from .plaintext import plain, plain_short, shorten
from .sources import Source, quoted_in_text, safe_url, sources_of

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
NOT_FOUND_HINT = "Use `/sources` to see which articles are loaded."
LLM_CHECKED = ("Written by a language model. Checked: each quote stands word for word in its article, and each "
               "sentence cites at least one of them [n]. Not checked: that the sentence says what its quotes say.")


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


def source_field(source: Source, answer: Answer) -> tuple[tuple[str, str] | None, int]:
    """(name, value) of one cited article: its numbers, title, outlet and date as the name, then
    each quote not already in the answer text, numbered, then the article's link if it fits.
    Returns (None, n) if not even one quote fits; n counts the quotes left out."""
    tail = f" — {plain(source.meta)}" if source.meta else ""
    lines: list[str] = []
    numbers: list[int] = []
    dropped = 0
    for n, c in source.quotes:
        if not c.metadata and quoted_in_text(answer, c):
            numbers.append(n)
            continue
        shown = f"From the article's {c.metadata_label}: {plain(c.quote)}" if c.metadata else f"“{plain(c.quote)}”"
        line = f"[{n}] " + ("(not checked against the article) " if not c.verified else "") + shown
        if sum(len(x) + 1 for x in lines) + len(line) > FIELD_VALUE:
            dropped += 1
            continue
        lines.append(line)
        numbers.append(n)
    if not numbers:
        return None, dropped
    marks = " ".join(f"[{n}]" for n in numbers) + " "
    name = marks + plain_short(source.title, FIELD_NAME - len(marks) - len(tail)) + tail
    link = f"[Read the article](<{source.url}>)" if source.url else ""
    if link and sum(len(x) + 1 for x in lines) + len(link) <= FIELD_VALUE:
        lines.append(link)
    if not lines:
        lines.append("Quoted in the answer above.")
    return (name[:FIELD_NAME], "\n".join(lines)), dropped


@dataclass(frozen=True)
class RenderedAnswer:
    embeds: list[discord.Embed]
    shown: int  # quotes shown whole (in the answer text or under their source)
    dropped: int  # quotes left out for lack of room


def answer_embeds(answer: Answer, *, question: str) -> RenderedAnswer:
    """The answer as embeds for one message: text first, then one field per cited article holding
    its numbered quotes. Everything taken from the question, the articles or a model is escaped."""
    if answer.outcome is Outcome.NOT_STATED:
        colour, text = COLOUR_NOT_STATED, plain(answer.text)
    elif not answer.answerable:
        colour, text = COLOUR_NOT_FOUND, f"{plain(answer.text)}\n\n{NOT_FOUND_HINT}"
    else:
        colour, text = (COLOUR_FALLBACK if answer.note else COLOUR_ANSWER), answer.cited_text(plain)
    first = discord.Embed(title=plain_short(question, TITLE), description=fit_lines(text, DESCRIPTION), colour=colour)
    footer = [answer.note] if answer.note else []
    if answer.outcome is Outcome.NOT_STATED:
        footer.append(NOT_STATED_FOOTER)
    if answer.answerable:
        footer.append("Quoted straight from the articles." if answer.mode == "extractive" else LLM_CHECKED)
    embeds = [first]
    # room kept for the footer, and for "N more sources…" should any be left out
    budget = EMBED_TOTAL - len(first) - len(" · ".join(footer)) - 80
    shown = dropped = 0
    for source in sources_of(answer):
        field, left_out = source_field(source, answer)
        if field is None or len(field[0]) + len(field[1]) > budget:
            dropped += len(source.quotes)
            continue
        if len(embeds[-1].fields) >= FIELDS_PER_EMBED:
            if len(embeds) >= EMBEDS_PER_MESSAGE:
                dropped += len(source.quotes)
                continue
            embeds.append(discord.Embed(colour=colour))
        embeds[-1].add_field(name=field[0], value=field[1], inline=False)
        budget -= len(field[0]) + len(field[1])
        shown += len(source.quotes) - left_out
        dropped += left_out
    if dropped:
        footer.append(f"{dropped} more quote{'s' if dropped > 1 else ''}: press “Show quotes”.")
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
    before, after = plain(text[lo:start]), plain(text[end:hi].rstrip())
    return f"{'…' if lo > 0 else ''}{before}**{plain(text[start:end])}**{after}{'…' if hi < len(text) else ''}"


def quote_embed(n: int, c: Citation, article: Article | None) -> discord.Embed:
    """One source of an answer with its quote in context, re-checked against the stored article."""
    embed = discord.Embed(title=f"[{n}] " + plain_short(c.title, TITLE - 6), url=safe_url(c.url) or None, colour=COLOUR_ANSWER)
    quote = f"“{plain(c.quote)}”"
    if c.metadata:
        embed.description = f"From the article's {c.metadata_label}: {plain(c.quote)}"
    elif article is None:
        embed.description = f"{quote}\n\nThis article has been removed since."
    elif article.text[c.start : c.end] != c.quote:
        embed.description = f"{quote}\n\nThe article has been revised since; this quote no longer stands in it."
    else:
        embed.description = excerpt(article.text, c.start, c.end)
    meta = [plain(x) for x in (c.source, c.published) if x]
    meta.append("quote checked ✓" if c.verified and article is not None else "quote not checked")
    embed.set_footer(text=" · ".join(meta))
    if len(embed.description) > DESCRIPTION:  # a 1,000-character quote with context still fits
        embed.description = quote[:DESCRIPTION]
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
