"""Admission (cooldown, questions in flight) and visibility."""

from __future__ import annotations

import asyncio

import pytest

from bot.asking import Asker, scopes_for
from bot.errors import Busy, CoolingDown


def test_dm_sees_only_shipped_articles_and_a_server_its_own_too():
    assert scopes_for(None) == ("global",)
    assert scopes_for(42) == ("global", "42")


async def test_a_busy_refusal_costs_no_question_and_a_burst_passes_before_the_bucket_refuses():
    asker = Asker(kb=None, cooldown=10, in_flight=1, burst=3)  # type: ignore[arg-type]
    for _ in range(3):
        async with asker.turn(1):
            pass
    with pytest.raises(CoolingDown, match=r"^You have asked 3 questions in a short time: your next question is allowed in (9|10) s\.$"):
        async with asker.turn(1):
            pass
    async with asker.turn(1, cooldown=0):  # a server that set no pause
        pass
    asker.close()


async def test_turn_refuses_during_cooldown_and_when_all_slots_are_taken():
    asker = Asker(kb=None, cooldown=30, in_flight=1)  # type: ignore[arg-type]
    entered, leave = asyncio.Event(), asyncio.Event()

    async def hold():
        async with asker.turn(1):
            entered.set()
            await leave.wait()

    task = asyncio.create_task(hold())
    await entered.wait()
    with pytest.raises(Busy, match=r"try again in \d+ s"):
        async with asker.turn(2):
            pass
    leave.set()
    await task
    with pytest.raises(CoolingDown, match="your next question is allowed in 30 s"):
        async with asker.turn(1):
            pass
    async with asker.turn(2):  # a slot is free again and user 2 never got one
        pass
    asker.close()
