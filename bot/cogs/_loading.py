"""Turning what an admin gives (`url:`, `file:`, `text:` or the form) into an `Article` for the
server, off the event loop, through the core's one way in (`KnowledgeBase.read`), and saying
what storing it will do (`KnowledgeBase.plan`) and did (`KnowledgeBase.ingest`). Nothing is
stored here: the caller previews first."""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

import discord

from knowledge import Article, IngestResult, IngestStatus, InputError, KnowledgeBase, Pasted, Upload

from ..errors import UserFacingError
from ..rendering import plain, shorten

log = logging.getLogger(__name__)


async def from_url(kb: KnowledgeBase, url: str, *, scope: str) -> Article:
    return await asyncio.to_thread(kb.read, url.strip(), scope)


async def from_attachment(kb: KnowledgeBase, attachment: discord.Attachment, *, scope: str) -> Article:
    limit = kb.config.fetch.max_bytes
    if attachment.size > limit:  # refused before it is downloaded; `read` checks the bytes again
        raise InputError(f"{attachment.filename} is {attachment.size / 1e6:.1f} MB; files up to {limit / 1e6:.1f} MB are accepted.")
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        log.warning("could not download attachment %s: %s", attachment.id, exc.status)
        raise UserFacingError("I could not download that file from Discord; please try again.") from exc
    return await asyncio.to_thread(kb.read, Upload(attachment.filename, data), scope)


async def from_text(kb: KnowledgeBase, text: str, *, scope: str, title: str = "", source: str = "", published: str = "") -> Article:
    """Pasted text; without `title` its first short line is the headline."""
    return await asyncio.to_thread(kb.read, Pasted(text, title=title, source=source, published=published), scope)


def _never(status: NoReturn) -> NoReturn:
    raise AssertionError(f"unhandled ingest status {status!r}")


def preview_text(plan: IngestResult) -> str:
    """What Confirm will do, from `kb.plan`."""
    match plan.status:
        case IngestStatus.LOADED:
            return "New: it will be added to this server."
        case IngestStatus.UPDATED:
            return "Revised: it will replace the stored version."
        case IngestStatus.UNCHANGED:
            return "Already loaded, unchanged: nothing will change."
        case IngestStatus.DUPLICATE if plan.replaced:
            return ("The same story is already loaded from another copy; this copy will take its place, with every "
                    "copy's outlets (one copy per story is kept, the same whichever is loaded first).")
        case IngestStatus.DUPLICATE:
            twin = f"Duplicate of “{plain(shorten(plan.article.title, 150))}”, already loaded: no copy will be stored"
            if plan.added_outlet:
                return f"{twin}; {plain(shorten(plan.added_outlet, 80))} will be added to its outlets."
            return f"{twin}, and nothing will change."
    _never(plan.status)


def done_text(result: IngestResult, given: Article) -> str:
    """What Confirm did, from `kb.ingest`."""
    match result.status:
        case IngestStatus.LOADED:
            return f"Added “{plain(shorten(given.title, 200))}” ({given.word_count:,} words). Ask about it with `/ask`."
        case IngestStatus.UPDATED:
            return f"Updated “{plain(shorten(given.title, 200))}” ({given.word_count:,} words)."
        case IngestStatus.UNCHANGED:
            return f"“{plain(shorten(given.title, 200))}” was already loaded; nothing changed."
        case IngestStatus.DUPLICATE if result.replaced:
            outlets = plain(shorten(", ".join(result.article.outlets), 200))
            return f"Stored “{plain(shorten(result.article.title, 200))}” in place of its other copy (the same story); outlets: {outlets}."
        case IngestStatus.DUPLICATE:
            twin = f"“{plain(shorten(result.article.title, 200))}” was already loaded"
            if result.added_outlet:
                return f"{twin} (the same story); {plain(shorten(result.added_outlet, 80))} was added to its outlets."
            return f"{twin} (the same story); nothing changed."
    _never(result.status)
