"""Untrusted text (from articles and models) as Discord plain text: no markdown, links or mentions.

Every character Discord's markdown reads (emphasis, code, spoilers, quotes, the brackets of a
masked link `[text](url)`, the angle brackets of a mention `<@id>`, `<@&id>`, `<#id>`) is
backslash-escaped, headings and list markers at a line start too, and bare `scheme://` addresses
are unlinked, so the text reads exactly as written and the only links shown are the ones the
rendering makes from an article's own URL metadata. Messages also go out with
`AllowedMentions.none()`: this makes the text read as what it is, not only not ping.
"""

from __future__ import annotations

import re

from discord.utils import escape_mentions


def shorten(text: str, limit: int, placeholder: str = "…") -> str:
    """`text` cut to at most `limit` characters at a word boundary, with `placeholder` appended."""
    if len(text) <= limit:
        return text
    room = limit - len(placeholder)
    cut = text.rfind(" ", 0, room + 1)
    return text[: cut if cut > room // 2 else room].rstrip() + placeholder


_MARKDOWN = re.compile(r"([\\*_~`|\[\]<>])")
_LINE_START = re.compile(r"^([ \t]*)([#+-])", re.MULTILINE)
_LINE_NUMBER = re.compile(r"^([ \t]*\d+)\.", re.MULTILINE)
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")


def plain(text: str) -> str:
    """Untrusted text (an article's or a model's) shown in Discord exactly as written: markdown,
    masked links, mentions (`<@&id>`), headings and lists escaped, and bare addresses unlinked, so
    the only links shown are the ones `bot/rendering.py` makes from an article's URL metadata."""
    text = _MARKDOWN.sub(r"\\\1", text)
    text = _LINE_START.sub(r"\1\\\2", text)
    text = _LINE_NUMBER.sub(r"\1\\.", text)
    text = _SCHEME.sub(r"\1\\:", text)
    # @everyone, @here and raw user/role ids get a zero-width space: they read as text, never ping
    return escape_mentions(text)


def plain_short(text: str, limit: int) -> str:
    """`plain(text)` within `limit` characters, the text shortened at a word before escaping."""
    out = plain(text)
    room = limit
    while len(out) > limit and room > 1:
        room -= max(1, len(out) - limit)
        out = plain(shorten(text, room))
    return out[:limit]
