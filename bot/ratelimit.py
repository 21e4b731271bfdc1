"""Per-user token buckets for questions: a burst of quick questions is fine, a stream is not.

A fixed pause after every question (the old 5 s cooldown) refused a normal second question: a
typo fixed, a quick follow-up. A bucket holds `burst` tokens; each question takes one; tokens come
back one every `refill_seconds`. With burst 3 and 10 s that is three questions at once and then
one every 10 s: 3 per 30 s in the steady state. A refusal says exactly when the next question is
allowed. Each call may pass its own `refill_seconds` (a server's `/newsbot settings` cooldown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Admission:
    allowed: bool
    retry_after: float  # seconds until the next question is allowed (0 when allowed)
    left: int  # questions still allowed right now, after this one


class TokenBuckets:
    """One bucket per key (a user id). Not thread-safe: used from the event loop only."""

    def __init__(self, *, burst: int, refill_seconds: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[int, _Bucket] = {}

    def _level(self, bucket: _Bucket, now: float, refill: float) -> float:
        if refill <= 0:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + (now - bucket.updated) / refill)

    def take(self, key: int, *, refill_seconds: float | None = None) -> Admission:
        """Take a token for `key` if one is there; else say how long until one is."""
        refill = self.refill_seconds if refill_seconds is None else refill_seconds
        now = self.clock()
        bucket = self._buckets.get(key)
        tokens = float(self.burst) if bucket is None else self._level(bucket, now, refill)
        if tokens >= 1:
            self._buckets[key] = _Bucket(tokens - 1, now)
            if len(self._buckets) > self.max_keys:
                self._forget_full(now, refill)
            return Admission(True, 0.0, int(tokens - 1))
        return Admission(False, (1 - tokens) * refill, 0)

    def _forget_full(self, now: float, refill: float) -> None:
        """Drop buckets that have refilled completely: they are the same as no bucket."""
        self._buckets = {k: b for k, b in self._buckets.items() if self._level(b, now, refill) < self.burst}
