"""Untrusted text as Discord plain text: no masked links, no markdown, no mentions."""

from __future__ import annotations

import re

import pytest

from bot.plaintext import plain

# A masked link Discord would render: `[text](url)` with neither bracket escaped.
LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\s*\(")


@pytest.mark.parametrize(
    "text",
    [
        "[reuters.com](http://evil.example)",
        "see [a\nb](http://evil.example)",
        "\\[x](http://evil.example)",  # a backslash of its own must not escape our escape
        "[http://a.example](http://evil.example)",
        "[x] (http://evil.example)",
        "**[x](http://evil.example)**",
    ],
)
def test_masked_links_are_never_live(text):
    assert not LIVE_LINK.search(plain(text))


@pytest.mark.parametrize(
    ("text", "live"),
    [("@everyone", "@everyone"), ("@here", "@here"), ("<@123>", "<@"), ("<@!123>", "<@"), ("<@&123>", "<@&"),
     ("<#123>", "<#"), ("</ask:123>", "</"), ("<@12345678901234567890>", "<@")],
)
def test_mentions_are_broken_up(text, live):
    # escaped ("\<@…", "@\u200beveryone"): Discord shows it as text; nothing else is changed
    assert not re.search(r"(?<!\\)" + re.escape(live), plain(text))
    assert plain(text).replace("\u200b", "").replace("\\", "") == text


def test_markdown_is_shown_as_typed():
    shown = plain("# Big\n> quoted\n**bold** _it_ ~~x~~ ||spoiler|| `code`")
    assert "\\*\\*bold\\*\\*" in shown and "\\`code\\`" in shown and "\\|\\|spoiler\\|\\|" in shown
    assert shown.startswith("\\# Big") and "\n\\> quoted" in shown
