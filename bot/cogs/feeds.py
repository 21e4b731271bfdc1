"""Feeds: polling the servers' followed RSS/Atom feeds in the background.

The feeds themselves belong to the core (`KnowledgeBase.feeds`): the `/articles feeds …` commands
(in the Articles cog) follow, list and unfollow through it. This cog only polls: every
`FEED_POLL_MINUTES`, and at once when a feed is followed (the `feed_followed` event the Articles
cog dispatches), `KnowledgeBase.poll_feeds` runs in a worker thread and loads new items into the
scope of the server that follows the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from knowledge.feeds import Feed, FeedPoll

    from ..discord_app import NewsBot

log = logging.getLogger(__name__)


class Feeds(commands.Cog):
    """Polls the followed feeds."""

    def __init__(self, bot: NewsBot):
        self.bot = bot
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._poll_forever(), name="newsbot-feed-poller")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @commands.Cog.listener()
    async def on_feed_followed(self, feed: Feed) -> None:
        self._wake.set()  # a new feed is due at once: poll it now, not in FEED_POLL_MINUTES

    async def poll_now(self) -> list[FeedPoll]:
        interval = self.bot.settings.feed_poll_minutes * 60.0
        return await asyncio.to_thread(self.bot.kb.poll_feeds, interval=interval)

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
    await asyncio.to_thread(lambda: bot.kb.feeds)  # open the feed records off the event loop
    await bot.add_cog(Feeds(bot))
