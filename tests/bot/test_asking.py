"""Admission (cooldown, questions in flight), visibility and "the latest" ordering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.asking import Asker, parse_since, prefer_recent, scopes_for, wants_latest
from bot.errors import Busy, CoolingDown
from knowledge import InputError
from knowledge.base import Retrieved
from knowledge.loading import build_article
from knowledge.models import Chunk, Passage


@dataclass(frozen=True)
class Scored:
    """What prefer_recent reads of a `knowledge.support.Support`."""

    passage: Passage
    supports: bool


@pytest.mark.parametrize("question, latest", [
    ("What is the latest on the strike?", True), ("Any recent news about tariffs?", True),
    ("What's the newest model?", True), ("Who won the election?", False), ("Is the news current?", True),
])
def test_wants_latest(question, latest):
    assert wants_latest(question) is latest


def test_dm_sees_only_shipped_articles_and_a_server_its_own_too():
    assert scopes_for(None) == ("global",)
    assert scopes_for(42) == ("global", "42")


def test_since_must_be_a_date():
    assert parse_since(" 2025-01-31 ") == "2025-01-31"
    assert parse_since(None) == ""
    with pytest.raises(InputError):
        parse_since("yesterday")


def _passage(published: str, title: str) -> Passage:
    art = build_article(title=title, text="Some text.", published=published, scope="1")
    return Passage(Chunk(art.id, 0, 0, 10, "Some text."), art, score=1.0)


def test_prefer_recent_orders_newest_first_and_keeps_unsupported_last():
    old, new, newer = _passage("2023-01-01", "old"), _passage("2025-01-01", "new"), _passage("2025-06-01", "newer")
    supports = [Scored(old, True), Scored(new, True), Scored(newer, False)]  # best first; newer: no support
    out = prefer_recent(Retrieved([old, new, newer], supports))

    assert [p.article.title for p in out.passages] == ["newer", "new", "old"]
    assert [s.passage.article.title for s in out.supports] == ["new", "old", "newer"]


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
    with pytest.raises(CoolingDown, match="try again in 30 s"):
        async with asker.turn(1):
            pass
    async with asker.turn(2):  # a slot is free again and user 2 never got one
        pass
    asker.close()
