"""Untrusted text (from articles and models) as Discord plain text: no markdown, links or mentions.

`discord.utils.escape_markdown` escapes emphasis, code, spoilers, headings, quotes and the `[` of
a masked link `[text](url)`; the `]` before `(` is escaped as well, so no client can read a link
there. `discord.utils.escape_mentions` misses channel mentions and short ids, so every `<@…>`,
`<#…>` and `</…>` gets a zero-width space after its `<`. Messages also go out with
`AllowedMentions.none()`; this makes the text read as what it is, not only not ping.
"""

from __future__ import annotations

import re

from discord.utils import escape_markdown, escape_mentions

_ANGLE = re.compile(r"<(?=[@#/]|a?:\w)")
_LINK_JOIN = re.compile(r"\](?=\s*\()")


def plain(text: str) -> str:
    """`text` to show as it is in a Discord message or embed."""
    text = escape_markdown(text)
    text = _LINK_JOIN.sub(r"\\]", text)
    text = escape_mentions(text)
    return _ANGLE.sub("<\u200b", text)
