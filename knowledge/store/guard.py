"""Calls to a Chroma server that may go away, and opening a store another process is creating.

A Chroma server that goes away raises `StoreUnavailable` (a one-line reason) after a few retries
with backoff; every call made through `_Guarded` is an idempotent read, upsert or delete by id,
so a retry repeats nothing that matters. The next call tries again, so a long-lived process
recovers by itself. Two processes creating a fresh store at once race in Chroma's own set-up
("table collections already exists"); opening retries that instead of calling the store corrupt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import StoreUnavailable

# Retries of a call to an unreachable server: about 1.75 s in all before StoreUnavailable.
RETRY_DELAYS = (0.25, 0.5, 1.0)
# Opening a fresh store in two processes at once: Chroma's own tables race; retried this often.
OPEN_ATTEMPTS = 8


def _unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the server could not be reached (as opposed to a refused request)."""
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError))


# Once a server was found unreachable, calls in the next few seconds try once, not with the full
# backoff: an `ingest` of 500 files during an outage reports them failed in seconds, not minutes.
_QUIET_SECONDS = 5.0
_down_until = 0.0


def _guarded_call(fn: Callable[..., Any], label: str, /, *args: Any, **kw: Any) -> Any:
    global _down_until
    delays = RETRY_DELAYS if time.monotonic() >= _down_until else ()
    for delay in (*delays, None):
        try:
            out = fn(*args, **kw)
            _down_until = 0.0
            return out
        except Exception as exc:
            if not _unreachable(exc):
                raise
            if delay is None:
                _down_until = time.monotonic() + _QUIET_SECONDS
                raise StoreUnavailable(f"The article store is unreachable right now ({label}: {exc.__class__.__name__}); try again in a minute.") from exc
            time.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


class _Guarded:
    """A Chroma collection whose calls retry an unreachable server with backoff, then raise
    `StoreUnavailable`; every call made through it is a read or an idempotent write by id."""

    def __init__(self, collection: Any, where: str):
        self._collection = collection
        self._where = where

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            return _guarded_call(attr, self._where, *args, **kw)

        return call


def _racing_create(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "locked" in text or "unique constraint" in text


def _open_retrying(make: Callable[[], Any]) -> Any:
    """`make()`, tried again while another process is creating the same fresh store."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            return make()
        except Exception as exc:
            if attempt == OPEN_ATTEMPTS - 1 or not _racing_create(exc):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover
