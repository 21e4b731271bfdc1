"""Start-up: command sync target, sharding, intents, and the bot opening its own stores."""

from __future__ import annotations

import logging

from discord.ext import commands

from bot.discord_app import configure_logging, make_bot
from tests.bot.discord_standin import GLOBAL_COMMANDS, MESSAGE_CONTENT_INTENT
from tests.bot.harness import NewsStandin, bot_settings, make_guild, running_bot, shared_kb


async def test_test_guild_setting_syncs_commands_to_that_server_only(tmp_path, embedder):
    guild = make_guild()
    async with running_bot(shared_kb(embedder), tmp_path, guilds=[guild], discord_test_guild_id=guild.id) as h:
        assert {c["name"] for c in h.standin.commands[guild.id]} == {"ask", "sources", "newsbot", "articles"}
        assert not h.standin.find(lambda r: r.is_("PUT", GLOBAL_COMMANDS))
        _, follow = await h.ask()  # the server copy of /ask answers
        assert "Guo Jiakun" in follow.embeds[0]["description"]


async def test_sharded_setting_runs_an_auto_sharded_bot(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path, discord_sharded="true") as h:
        assert isinstance(h.bot, commands.AutoShardedBot)
        assert h.standin.identifies[0]["shard"] == [0, 1]
        _, follow = await h.ask()
        assert "Guo Jiakun" in follow.embeds[0]["description"]


async def test_message_content_intent_follows_the_setting(tmp_path, embedder):
    async with running_bot(shared_kb(embedder), tmp_path) as h:
        assert h.standin.identifies[0]["intents"] & MESSAGE_CONTENT_INTENT
    async with running_bot(shared_kb(embedder), tmp_path, discord_message_content="false") as h:
        assert not h.standin.identifies[0]["intents"] & MESSAGE_CONTENT_INTENT


async def test_bot_opens_and_closes_its_own_stores_from_settings(tmp_path):
    settings = bot_settings(tmp_path, chroma_path=tmp_path / "chroma")
    async with NewsStandin([make_guild()]) as standin:
        bot = make_bot(settings)
        await standin.start_bot(bot)
        assert [a.source for a in bot.kb.list()] == ["Xinhua"]  # shipped articles loaded
        assert (tmp_path / "feedback.sqlite3").exists()
        await standin.stop_bot(bot)
    assert bot.is_closed()


def test_logging_is_configured_once_on_the_root_logger():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging("info")
        configure_logging("warning")
        assert len(root.handlers) == 1 and root.level == logging.WARNING
        assert logging.getLogger("chromadb").level == logging.WARNING
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
