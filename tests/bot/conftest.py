"""Fixtures for the bot's tests: a loopback Discord (see ``discord_standin.py``)."""

from __future__ import annotations

import pytest

from tests.bot.discord_standin import DiscordStandin


@pytest.fixture
async def discord_standin(request: pytest.FixtureRequest):
    """A started ``DiscordStandin`` with discord.py patched to use it; torn down (bots started
    with ``start_bot`` closed, URLs restored) afterwards. Indirect-parametrize with a dict of
    ``DiscordStandin`` keyword arguments to configure it, e.g. ``{"heartbeat_interval_ms": 200}``."""
    standin = DiscordStandin(**getattr(request, "param", {}))
    await standin.start()
    standin.patch()
    try:
        yield standin
    finally:
        await standin.stop()
