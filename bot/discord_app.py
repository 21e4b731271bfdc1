"""The Discord bot: the `commands.Bot` subclass, its start-up and shutdown, and `run_bot`.

`setup_hook` opens the knowledge base in a worker thread (loading the embedding model and Chroma
must not stall the gateway), loads the shipped articles, opens the feedback store and the
per-server settings beside it, loads the cogs
and syncs the slash commands: to one server when `DISCORD_TEST_GUILD_ID` is set (instant, for
development), else globally. `DISCORD_SHARDED=true` runs the same bot as an `AutoShardedBot`.
No message the bot sends may mention anyone (`AllowedMentions.none()`, set here and on each send).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import discord
from discord.ext import commands

from knowledge import KnowledgeBase, KnowledgeError

from .errors import NewsTree
from .feedback import FeedbackStore
from .logs import quiet_libraries
from .server_settings import ServerSettingsStore, path_beside
from .settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.cogs.feedback", "bot.cogs.ask", "bot.cogs.sources", "bot.cogs.newsbot", "bot.cogs.articles", "bot.cogs.feeds")
def intents_for(settings: Settings) -> discord.Intents:
    """Only what the bot uses: servers and channels, messages (mentions, DMs) and, if enabled,
    the privileged message content (needed to read follow-ups in threads that do not mention it)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.dm_messages = True
    intents.message_content = settings.discord_message_content
    return intents


class NewsBot(commands.Bot):
    """newsbot. `kb` and `feedback` may be passed in (tests, benchmarks); else they are opened in
    `setup_hook` from the settings, and closed in `close()`."""

    def __init__(self, settings: Settings, *, kb: KnowledgeBase | None = None, feedback: FeedbackStore | None = None):
        super().__init__(
            command_prefix=commands.when_mentioned,  # unused: no prefix commands, see on_message
            intents=intents_for(settings),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=NewsTree,
            chunk_guilds_at_startup=False,
            member_cache_flags=discord.MemberCacheFlags.none(),
        )
        self.settings = settings
        self.kb: KnowledgeBase = kb  # type: ignore[assignment]  # set in setup_hook when None
        self.feedback: FeedbackStore = feedback  # type: ignore[assignment]
        self.server_settings: ServerSettingsStore = None  # type: ignore[assignment]  # opened in setup_hook
        self._owns_kb = kb is None
        self._owns_feedback = feedback is None

    async def setup_hook(self) -> None:
        if self.kb is None:
            log.info("opening the knowledge base")
            self.kb = await asyncio.to_thread(KnowledgeBase, self.settings.core())
        results = await asyncio.to_thread(self.kb.sync_folder)
        changed = sum(r.status != "unchanged" for r in results)
        log.info("shipped articles: %d (%d loaded or updated now)", len(results), changed)
        if self.feedback is None:
            self.feedback = await FeedbackStore.open(self.settings.feedback_db, retention_days=self.settings.feedback_retention_days)
        self.server_settings = await ServerSettingsStore.open(path_beside(self.settings.feedback_db))
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        guild_id = self.settings.discord_test_guild_id
        try:
            if guild_id:
                guild = discord.Object(guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to test server %s", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d commands globally (new ones can take a while to show)", len(synced))
        except discord.HTTPException as exc:
            # e.g. 403 when the bot is not in DISCORD_TEST_GUILD_ID or lacks applications.commands
            log.error("could not sync slash commands (HTTP %s): %s; check the invite scopes and DISCORD_TEST_GUILD_ID", exc.status, exc.text)

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: messages are handled by the Ask cog's listener only."""

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s) in %d servers", self.user, self.user.id if self.user else "?", len(self.guilds))

    async def close(self) -> None:
        for extension in list(self.extensions):  # stops background work (the feed poller) first
            try:
                await self.unload_extension(extension)
            except Exception:
                log.exception("unloading %s failed", extension)
        try:
            await super().close()
        finally:
            if self._owns_kb and self.kb is not None:
                await self.kb.aclose()
            if self._owns_feedback and self.feedback is not None:
                await self.feedback.aclose()
            if self.server_settings is not None:
                await self.server_settings.aclose()


class ShardedNewsBot(NewsBot, commands.AutoShardedBot):
    """newsbot on discord.py's `AutoShardedBot` (one process, Discord's recommended shard count)."""


def make_bot(settings: Settings, **kwargs) -> NewsBot:
    cls = ShardedNewsBot if settings.discord_sharded else NewsBot
    return cls(settings, **kwargs)


def configure_logging(level: str) -> None:
    """discord.py's log format on the root logger (replacing any earlier set-up), libraries quieter."""
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    discord.utils.setup_logging(level=getattr(logging, level.upper()), root=True)
    quiet_libraries()


def run_bot(settings: Settings) -> None:
    """Run the bot until interrupted; a start-up failure is one logged line and exit code 1."""
    configure_logging(settings.log_level)
    bot = make_bot(settings)
    try:
        bot.run(settings.discord_token, log_handler=None)
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN: reset the token in the developer portal (Bot → Reset Token) and update .env.")
        sys.exit(1)
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the Message Content intent: enable it in the developer portal (Bot → Privileged "
                  "Gateway Intents) or set DISCORD_MESSAGE_CONTENT=false.")
        sys.exit(1)
    except KnowledgeError as exc:
        log.error("cannot start: %s", exc.reason)
        sys.exit(1)
