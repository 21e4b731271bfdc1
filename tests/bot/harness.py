"""newsbot running against the loopback Discord stand-in: for the bot's tests and the benchmark.

- `NewsStandin` adds the one route the stand-in lacks and the bot uses: reading a channel's
  recent messages (`GET /channels/{id}/messages`), for follow-ups in threads.
- `shared_kb(embedder)` is one knowledge base (seed article loaded) for the whole test session;
  tests keep out of each other's way by using fresh server ids (`make_guild`), so articles they
  add, scoped to their server, are invisible to every other test.
- `running_bot(...)` starts the real `NewsBot` (settings, cogs, command sync) on the stand-in and
  yields a `Harness` with helpers to send commands and wait for what the bot sent back.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.discord_app import NewsBot, make_bot
from bot.settings import Settings
from knowledge import CoreConfig, FetchPolicy, KnowledgeBase
from knowledge.llm import LLMConfig
from tests.bot.discord_standin import (
    CALLBACK,
    CHANNEL_MESSAGES,
    FOLLOWUP,
    ChannelSpec,
    DiscordStandin,
    GuildSpec,
    MemberSpec,
    RecordedRequest,
    snowflake,
)

QUESTION = "Who is the Chinese Foreign Ministry spokesperson quoted in the article?"


class NewsStandin(DiscordStandin):
    """The stand-in plus channel history (newest first, honouring limit/before/after)."""

    def _route_table(self):
        return [*super()._route_table(), ("GET", CHANNEL_MESSAGES, self._history)]

    def _history(self, req: RecordedRequest) -> tuple[int, list[dict]]:
        channel = req.params["channel_id"]
        before = int(req.query.get("before") or 2**63)
        after = int(req.query.get("after") or 0)
        limit = int(req.query.get("limit") or 50)
        found = [m for m in self.messages.values() if m["channel_id"] == channel and after < int(m["id"]) < before]
        found.sort(key=lambda m: int(m["id"]), reverse=True)
        return 200, found[:limit]


def make_guild(name: str = "Guild", *, extra_members: int = 0) -> GuildSpec:
    """A server with fresh ids: owner `alice` (every permission), member `bob` (none special), and
    `extra_members` more plain members (for load tests, each their own cooldown)."""
    members = [MemberSpec(snowflake(), "alice"), MemberSpec(snowflake(), "bob")]
    members += [MemberSpec(snowflake(), f"user{i}") for i in range(extra_members)]
    return GuildSpec(id=snowflake(), name=name, owner_id=members[0].id, members=members,
                     channels=[ChannelSpec(snowflake(), "general")])


_shared: dict[int, KnowledgeBase] = {}


def shared_kb(embedder) -> KnowledgeBase:
    """One knowledge base (temporary Chroma folder, the shipped seed article) for the session."""
    kb = _shared.get(id(embedder))
    if kb is None:
        folder = tempfile.mkdtemp(prefix="newsbot-bot-tests-")
        atexit.register(shutil.rmtree, folder, True)
        kb = KnowledgeBase(CoreConfig(chroma_path=folder), embedder=embedder)
        kb.sync_folder()
        _shared[id(embedder)] = kb
    return kb


def llm_kb(shared: KnowledgeBase, base_url: str, *, timeout: float = 5.0, max_retries: int = 0) -> KnowledgeBase:
    """A knowledge base over the same store whose answers come from the model at `base_url`."""
    llm = LLMConfig(model="standin-model", api_key="test", base_url=base_url, timeout=timeout, max_retries=max_retries)
    config = CoreConfig(chroma_path=shared.config.chroma_path, llm=llm)
    return KnowledgeBase(config, store=shared.store, embedder=shared.embedder)


def loopback_kb(shared: KnowledgeBase) -> KnowledgeBase:
    """A knowledge base over the same store that may fetch from 127.0.0.1 (the test sites)."""
    config = replace(shared.config, fetch=FetchPolicy(allow_hosts=frozenset({"127.0.0.1"}), timeout=10))
    return KnowledgeBase(config, store=shared.store, embedder=shared.embedder)


def bot_settings(tmp_path: Path, **overrides: Any) -> Settings:
    env = {"ASK_COOLDOWN_SECONDS": "0", "FEEDBACK_DB": str(tmp_path / "feedback.sqlite3"), "LOG_LEVEL": "debug"}
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return Settings.load(environ=env, dotenv_path=None)


def opt(name: str, value: Any, type_: int = 3) -> dict:
    return {"name": name, "type": type_, "value": value}


@dataclass
class Harness:
    standin: NewsStandin
    bot: NewsBot
    kb: KnowledgeBase
    guild: GuildSpec

    @property
    def channel_id(self) -> int:
        return self.guild.channels[0].id

    @property
    def admin(self) -> int:
        return self.guild.members[0].id

    @property
    def member(self) -> int:
        return self.guild.members[1].id

    @property
    def mark(self) -> int:
        """Pass as `since=` to wait only for requests made from now on."""
        return len(self.standin.requests)

    async def slash(self, name: str, options: list[dict] | None = None, *, user: int | None = None,
                    guild: GuildSpec | None = None) -> dict:
        guild = guild or self.guild
        return await self.standin.send_slash(guild.id, guild.channels[0].id, user or guild.members[0].id, name, options)

    async def callback(self, payload: dict, *, timeout: float = 10.0) -> RecordedRequest:
        """The bot's first response (callback) to the interaction `payload`."""
        return await self.standin.wait_for(lambda r: r.route == CALLBACK and r.params["interaction_id"] == payload["id"], timeout)

    async def followup(self, payload: dict, *, timeout: float = 10.0, since: int = 0) -> RecordedRequest:
        """The bot's first follow-up message to the interaction `payload` (after `since`)."""
        return await self.standin.wait_for(
            lambda r: r.is_("POST", FOLLOWUP) and r.params["token"] == payload["token"], timeout, since=since)

    async def ask(self, question: str = QUESTION, *, user: int | None = None, guild: GuildSpec | None = None,
                  **options: str) -> tuple[RecordedRequest, RecordedRequest]:
        """/ask; returns (the defer callback, the follow-up holding the answer)."""
        payload = await self.slash("ask", [opt("question", question)] + [opt(k, v) for k, v in options.items()],
                                   user=user, guild=guild)
        return await self.callback(payload), await self.followup(payload)

    async def click(self, custom_id: str, message: dict | int, *, user: int | None = None) -> dict:
        return await self.standin.send_component(self.guild.id, self.channel_id, user or self.admin, custom_id, message=message)


async def eventually(condition, *, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `condition()` holds, checking every 50 ms (for work that sends no request)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def custom_ids(request: RecordedRequest) -> list[str]:
    return [c["custom_id"] for row in request.components for c in row.get("components", []) if "custom_id" in c]


@asynccontextmanager
async def running_bot(kb: KnowledgeBase, tmp_path: Path, *, guilds: list[GuildSpec] | None = None,
                      **settings: Any) -> AsyncIterator[Harness]:
    """The real bot, started on a fresh stand-in holding `guilds` (default: one new server)."""
    guilds = guilds or [make_guild()]
    standin = NewsStandin(guilds)
    await standin.start()
    standin.patch()
    bot = make_bot(bot_settings(tmp_path, **settings), kb=kb)
    try:
        await standin.start_bot(bot)
        yield Harness(standin, bot, kb, standin.guilds[guilds[0].id])
    finally:
        await standin.stop()
