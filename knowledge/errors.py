"""Errors the core raises on purpose; each carries one sentence fit to show a person."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class: `str(error)` is a short, user-facing reason, never a traceback's text."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InputError(KnowledgeError):
    """The question, file or article given is not usable (empty, too long, binary, unsupported)."""


class NotFoundError(KnowledgeError):
    """No article with that id."""


class StoreError(KnowledgeError):
    """The article store cannot be opened or written (read-only, corrupt, server unreachable)."""


class StoreUnavailable(StoreError):
    """The article store (a Chroma server) cannot be reached right now; reads were retried with
    backoff first. The next call tries again, so a process recovers by itself."""


class LimitError(KnowledgeError):
    """A configured limit (article size, articles per server) would be exceeded."""


class FetchFailed(KnowledgeError):
    """A web address or feed could not be fetched (refused, unreachable, too big) or held no
    article; `reason` says which in one sentence."""
