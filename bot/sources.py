"""An answer's citations grouped by article: one source line (title, outlet, date, link) with its
numbered quotes, in the order the articles are first cited.

Discord's embeds and the command line's text both render these groups, so three quotes from one
article show one title line, not three. Numbers stay those of the answer text (`[1]`, `[3]`).
Links come only from the article's own URL metadata, and only http(s) ones are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from knowledge import Answer, Citation


@dataclass(frozen=True)
class Source:
    """One cited article and its quotes, each with its number in the answer."""

    article_id: str
    title: str
    outlet: str
    published: str
    url: str  # "" unless the article's own URL is an http(s) address
    quotes: tuple[tuple[int, Citation], ...]

    @property
    def meta(self) -> str:
        """"Outlet, YYYY-MM-DD", either part left out when unknown."""
        return ", ".join(x for x in (self.outlet, self.published) if x)


def safe_url(url: str) -> str:
    """`url` if it is an http(s) address with a host and nothing that could break out of a link."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ch in "<>()[]\\`" for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


def quoted_in_text(answer: Answer, c: Citation) -> bool:
    """True when the answer text already holds the quote (extractive answers write it inline)."""
    return answer.mode == "extractive" and f"“{c.quote}" in answer.text


def sources_of(answer: Answer) -> list[Source]:
    """The answer's citations grouped by article, in order of first citation."""
    order: list[str] = []
    groups: dict[str, list[tuple[int, Citation]]] = {}
    for n, c in enumerate(answer.citations, start=1):
        if c.article_id not in groups:
            order.append(c.article_id)
            groups[c.article_id] = []
        groups[c.article_id].append((n, c))
    out = []
    for article_id in order:
        first = groups[article_id][0][1]
        out.append(Source(article_id, first.title, first.source, first.published, safe_url(first.url),
                          tuple(groups[article_id])))
    return out
