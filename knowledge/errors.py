"""Errors the core raises on purpose; each carries one sentence fit to show a person.

There is one such type, `KnowledgeError`, with its `reason`; the subclasses exist only where a
caller needs to tell kinds apart (the CLI maps `FilterError` to a usage error, exit 2; the answer
path falls back to quoting when a `ModelFailure` is raised; a fetch failure and a file that
cannot be read are worded differently).
"""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base class: `reason` (and `str(error)`) is a short, user-facing sentence, never a
    traceback's text."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InputError(KnowledgeError):
    """The question, file or article given is not usable (empty, too long, binary, unsupported)."""


class FilterError(InputError):
    """A search filter option is invalid (`option` names it: "since" or "outlet")."""

    def __init__(self, reason: str, *, option: str):
        super().__init__(reason)
        self.option = option


class ExtractionError(InputError):
    """No article could be taken from a document's bytes (not text, no article on the page,
    an unreadable PDF)."""


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


class ModelFailure(KnowledgeError):
    """The language model gave nothing usable; the answer path falls back to quoting, and
    `reason` says why in a few words for the user."""
