"""Feeds: the servers' followed RSS/Atom feeds, polled in the background.

Every `FEED_POLL_MINUTES` (and right after a feed is added) the due feeds are polled through
`knowledge.feeds.FeedRegistry.poll_due` in a worker thread; new items are loaded into the scope of
the server that follows the feed. The `/articles feeds …` commands (in the Articles cog) call
`follow`, `followed` and `unfollow` here. Without `knowledge.feeds` this cog is not loaded and
those commands say feeds are not available yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from knowledge.feeds import Feed, FeedPoll, FeedRegistry

    from ..discord_app import NewsBot

log = logging.getLogger(__name__)


class Feeds(commands.Cog):
    """Follows feeds per server and polls them."""

    def __init__(self, bot: NewsBot, registry: FeedRegistry):
        self.bot = bot
        self.registry = registry
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._poll_forever(), name="newsbot-feed-poller")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- the subscriptions -----------------------------------------------------------------

    async def follow(self, url: str, scope: str) -> Feed:
        feed = await asyncio.to_thread(self.registry.add, url, scope)
        self._wake.set()  # a new feed is due at once: poll it now, not in FEED_POLL_MINUTES
        return feed

    async def followed(self, scope: str) -> list[Feed]:
        return await asyncio.to_thread(self.registry.list, scope)

    async def unfollow(self, url_or_id: str, scope: str) -> Feed:
        return await asyncio.to_thread(self.registry.remove, url_or_id, scope)

    # -- polling ---------------------------------------------------------------------------

    async def poll_now(self) -> list[FeedPoll]:
        s = self.bot.settings
        return await asyncio.to_thread(
            self.registry.poll_due, self.bot.kb, interval=s.feed_poll_minutes * 60.0,
        )

    async def _poll_forever(self) -> None:
        await self.bot.wait_until_ready()
        interval = self.bot.settings.feed_poll_minutes * 60.0
        while True:
            self._wake.clear()
            try:
                for poll in await self.poll_now():
                    counts = poll.counts()
                    log.info("feed %s (scope %s): %s, %d loaded, %d failed%s", poll.feed.url, poll.feed.scope, poll.status,
                             counts["loaded"] + counts["updated"], counts["failed"], f": {poll.error}" if poll.error else "")
            except Exception:
                log.exception("polling the feeds failed; trying again in %.0f min", interval / 60)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)


async def setup(bot: NewsBot) -> None:
    try:
        from knowledge.feeds import FeedRegistry
    except ImportError:
        log.info("knowledge.feeds is not installed: the /articles feeds commands will say so")
        return
    registry = await asyncio.to_thread(FeedRegistry, bot.kb.store, max_per_scope=bot.settings.max_feeds_per_server)
    await bot.add_cog(Feeds(bot, registry))
