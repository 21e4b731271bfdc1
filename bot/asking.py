"""Asking, as the Discord layer does it: who may ask now, what they may see, and the answer.

- Admission: a per-user cooldown (`ASK_COOLDOWN_SECONDS`) and a cap on questions answered at once
  (`MAX_QUESTIONS_IN_FLIGHT`, an `asyncio.Semaphore`); a refusal says how long to wait.
- Visibility: a server sees the shipped articles and its own (`scope`), a DM the shipped ones only.
- "The latest": a question asking for the latest/newest/most recent news gets its passages and
  supporting sentences ordered newest first before the answer is written.
- Retrieval (embedding, Chroma, sentence scoring) runs on a small pool of its own, not on the
  default executor: a burst of questions then queues there instead of crowding the event loop's
  thread off the CPU (measured in benchmarks/discord_load.py), and other `to_thread` work (DNS
  lookups, article lists) is not stuck behind it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import os
import re
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace

from knowledge import GLOBAL_SCOPE, Answer, InputError, KnowledgeBase, SearchFilter
from knowledge.base import Retrieved

from .errors import Busy, CoolingDown

_LATEST = re.compile(r"\b(latest|newest|most recent|recent|recently|lately|this week|today|current|currently)\b", re.IGNORECASE)


def wants_latest(question: str) -> bool:
    return bool(_LATEST.search(question))


def prefer_recent(retrieved: Retrieved) -> Retrieved:
    """Passages newest first, and supporting sentences of newer articles before older ones (stable:
    equally dated ones keep their relevance order)."""
    passages = sorted(retrieved.passages, key=lambda p: p.article.published, reverse=True)
    supports = sorted(retrieved.supports, key=lambda s: (s.supports, s.passage.article.published), reverse=True)
    return replace(retrieved, passages=passages, supports=supports)


def scopes_for(guild_id: int | None) -> tuple[str, ...]:
    """What a question may see: shipped articles, plus the server's own when asked in a server."""
    return (GLOBAL_SCOPE,) if guild_id is None else (GLOBAL_SCOPE, str(guild_id))


def parse_since(value: str | None) -> str:
    if not value or not value.strip():
        return ""
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InputError("`since` must be a date written YYYY-MM-DD, e.g. 2025-01-31.") from None


class Asker:
    """Answers questions for the Discord layer; one per bot."""

    def __init__(self, kb: KnowledgeBase, *, cooldown: float, in_flight: int, workers: int | None = None):
        self.kb = kb
        self.cooldown = cooldown
        self.slots = asyncio.Semaphore(in_flight)
        # onnxruntime already spreads one embedding over every core: more threads than half the
        # cores add contention, not speed
        workers = workers or max(1, (os.cpu_count() or 2) // 2)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsbot-retrieve")
        self._last_ask: dict[int, float] = {}
        self._typical_seconds = 5.0  # moving average of answer times, for "try again in N s"

    def retry_after(self, user_id: int) -> float:
        last = self._last_ask.get(user_id)
        return 0.0 if last is None else max(0.0, last + self.cooldown - time.monotonic())

    @asynccontextmanager
    async def turn(self, user_id: int) -> AsyncIterator[None]:
        """Hold one of the answering slots for `user_id`; raises CoolingDown or Busy at once
        (never queues: a person waiting on a silent bot is worse than "try again in 4 s")."""
        wait = self.retry_after(user_id)
        if wait > 0:
            raise CoolingDown(f"You are asking quickly: try again in {math.ceil(wait)} s.")
        if self.slots.locked():
            raise Busy(f"I am busy answering other questions: try again in {math.ceil(self._typical_seconds)} s.")
        await self.slots.acquire()  # not locked, so this returns without waiting
        now = time.monotonic()
        self._last_ask[user_id] = now
        if len(self._last_ask) > 10_000:
            self._forget_old(now)
        try:
            yield
        finally:
            self.slots.release()
            took = time.monotonic() - now
            self._typical_seconds = min(60.0, max(1.0, 0.8 * self._typical_seconds + 0.2 * took))

    def _forget_old(self, now: float) -> None:
        self._last_ask = {u: t for u, t in self._last_ask.items() if t + self.cooldown > now}

    async def outlets(self, guild_id: int | None) -> list[str]:
        arts = await asyncio.to_thread(self.kb.list, scopes_for(guild_id))
        return sorted({a.source for a in arts if a.source}, key=str.lower)

    async def search_filter(self, guild_id: int | None, *, since: str | None = None, outlet: str | None = None) -> SearchFilter:
        """The filter for a question asked in `guild_id` (None: a DM); outlet names match loosely."""
        name = (outlet or "").strip()
        if name:
            known = {o.lower(): o for o in await self.outlets(guild_id)}
            if name.lower() not in known:
                raise InputError(f"No loaded article is from “{name[:80]}”; leave `outlet` empty or pick one from the list.")
            name = known[name.lower()]
        return SearchFilter(scopes=scopes_for(guild_id), since=parse_since(since), outlet=name)

    async def answer(self, question: str, flt: SearchFilter, *, history: Sequence[tuple[str, str]] = ()) -> Answer:
        """The core's answer (what `kb.ask` does, with retrieval on this asker's pool); for
        "the latest …" questions, newer articles first."""
        retrieved = await asyncio.get_running_loop().run_in_executor(self.executor, self.kb.retrieve, question, flt)
        if wants_latest(question):
            retrieved = prefer_recent(retrieved)
        return await self.kb.answer(question, retrieved, history=history)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
