"""Turning what an admin gives (`url:`, `file:`, `text:` or the form) into an `Article` for the
server, off the event loop. Nothing is stored here: the caller previews first."""

from __future__ import annotations

import asyncio
import logging

import discord

from knowledge import Article, InputError, KnowledgeBase, NotFoundError
from knowledge.loading import parse_bytes, parse_plain

from ..errors import UserFacingError

log = logging.getLogger(__name__)


async def from_url(url: str, *, scope: str, settings) -> Article:
    url = url.strip()
    if not url.startswith(("http://", "https://")):
        raise InputError("That does not look like a link: it should start with http:// or https://.")
    try:
        from knowledge.web import load_url  # written separately; absent in early versions
    except ImportError:
        raise UserFacingError("Loading from a link is not available yet: upload the file or paste the text instead.") from None
    return await asyncio.to_thread(
        load_url, url, scope=scope, allow_hosts=frozenset(settings.fetch_allow_hosts),
        timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
    )


async def from_attachment(attachment: discord.Attachment, *, scope: str, settings) -> Article:
    limit = settings.fetch_max_bytes
    if attachment.size > limit:
        raise InputError(f"{attachment.filename} is {attachment.size / 1e6:.1f} MB; files up to {limit / 1e6:.1f} MB are accepted.")
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        log.warning("could not download attachment %s: %s", attachment.id, exc.status)
        raise UserFacingError("I could not download that file from Discord; please try again.") from exc
    return await asyncio.to_thread(parse_bytes, data, name=attachment.filename, scope=scope, origin=f"upload:{attachment.filename}")


async def from_text(text: str, *, scope: str, title: str = "", source: str = "", published: str = "") -> Article:
    """Pasted text; without `title` its first short line is the headline."""
    if title.strip():
        # parse_plain takes the first paragraph as the headline even when a title is given, and
        # drops it from the body; put the title there so the whole text is kept.
        text = f"{title.strip()}\n\n{text}"
    return await asyncio.to_thread(parse_plain, text, origin="pasted", scope=scope, title=title, source=source, published=published)


async def status_of(kb: KnowledgeBase, article: Article) -> str:
    """"new", "update" or "unchanged": what storing `article` would do."""

    def work() -> str:
        try:
            stored = kb.get(article.id)
        except NotFoundError:
            return "new"
        return "unchanged" if stored.version == article.version and stored.scope == article.scope else "update"

    return await asyncio.to_thread(work)
