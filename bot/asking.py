"""Admission for the Discord layer: who may ask now, and what a question may see.

- Admission: a per-user token bucket (`ASK_BURST` questions at once, then one every
  `ASK_COOLDOWN_SECONDS`, or the server's own cooldown) and a cap on questions answered at once
  (`MAX_QUESTIONS_IN_FLIGHT`, an `asyncio.Semaphore`); a refusal says when to come back.
- Visibility: a server sees the shipped articles and its own (`scope`), a DM the shipped ones only.
- Retrieval runs on a small pool of its own (`Asker.executor`, handed to `KnowledgeBase.ask`), not
  on the default executor: a burst of questions then queues there instead of crowding the event
  loop's thread off the CPU (measured in benchmarks/discord_load.py), and other `to_thread` work
  (DNS lookups, article lists) is not stuck behind it.

Everything else about answering (checking the question, retrieval, "the latest" ordering,
support, the answer) is the core's: `KnowledgeBase.ask`.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from knowledge import GLOBAL_SCOPE, KnowledgeBase, SearchFilter

from .errors import Busy, CoolingDown
from .ratelimit import TokenBuckets


def scopes_for(guild_id: int | None) -> tuple[str, ...]:
    """What a question may see: shipped articles, plus the server's own when asked in a server."""
    return (GLOBAL_SCOPE,) if guild_id is None else (GLOBAL_SCOPE, str(guild_id))


class Asker:
    """Admits questions for the Discord layer; one per bot."""

    def __init__(self, kb: KnowledgeBase, *, cooldown: float, in_flight: int, burst: int = 1, workers: int | None = None):
        self.kb = kb
        self.buckets = TokenBuckets(burst=burst, refill_seconds=cooldown)
        self.slots = asyncio.Semaphore(in_flight)
        # onnxruntime already spreads one embedding over every core: more threads than half the
        # cores add contention, not speed
        workers = workers or max(1, (os.cpu_count() or 2) // 2)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsbot-retrieve")
        self._typical_seconds = 5.0  # moving average of answer times, for "try again in N s"

    @asynccontextmanager
    async def turn(self, user_id: int, *, cooldown: float | None = None) -> AsyncIterator[None]:
        """Hold one of the answering slots for `user_id`; raises CoolingDown or Busy at once
        (never queues: a person waiting on a silent bot is worse than "try again in 4 s").
        `cooldown`: this server's seconds per question (`/newsbot settings`), else the default."""
        if self.slots.locked():  # checked first: a busy refusal costs the user no question
            raise Busy(f"I am busy answering other questions: try again in {math.ceil(self._typical_seconds)} s.")
        admitted = self.buckets.take(user_id, refill_seconds=cooldown)
        if not admitted.allowed:
            burst = self.buckets.burst
            quickly = f"You have asked {burst} questions in a short time" if burst > 1 else "You asked a moment ago"
            raise CoolingDown(f"{quickly}: your next question is allowed in {math.ceil(admitted.retry_after)} s.")
        await self.slots.acquire()  # not locked, so this returns without waiting
        now = time.monotonic()
        try:
            yield
        finally:
            self.slots.release()
            took = time.monotonic() - now
            self._typical_seconds = min(60.0, max(1.0, 0.8 * self._typical_seconds + 0.2 * took))

    async def outlets(self, guild_id: int | None) -> list[str]:
        return await asyncio.to_thread(self.kb.outlets, scopes_for(guild_id))

    async def search_filter(self, guild_id: int | None, *, since: str | None = None, outlet: str | None = None) -> SearchFilter:
        """The checked filter for a question asked in `guild_id` (None: a DM); see `kb.search_filter`."""
        return await asyncio.to_thread(self.kb.search_filter, scopes_for(guild_id), since=since, outlet=outlet)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
