"""The typed values that cross the core's boundary: articles, passages, citations and answers."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

#: Articles shipped in ``knowledge/articles`` (and loaded from the command line without a
#: server) are visible everywhere; a Discord server's own articles carry its id as scope.
GLOBAL_SCOPE = "global"


@dataclass(frozen=True, slots=True)  # slots: 51,800 of them in every process at 25x the BBC corpus
class ArticleInfo:
    """What is known about a stored article without its text: every fact but the body.

    This is what a process keeps of every article (`ArticleStore.committed()`, `list()`): at
    25x the BBC corpus the texts of 52,000 articles were about 120 MB in each process. An
    `Article` is an `ArticleInfo` with its text, read by id when it is needed (`get()`, the
    passages of an answer, duplicate candidates), so code that needs the text asks for an
    `Article` and the type checker refuses an `ArticleInfo` there."""

    id: str
    title: str
    source: str = ""  # the outlet, e.g. "Xinhua"
    published: str = ""  # ISO date (YYYY-MM-DD) or "" when unknown
    updated: str = ""
    url: str = ""
    language: str = "en"
    author: str = ""
    editor: str = ""
    scope: str = GLOBAL_SCOPE
    version: str = ""  # content hash of title + text; changes when the article is revised
    origin: str = ""  # where it was loaded from (file path or URL), for people, not for ids
    outlets: tuple[str, ...] = ()  # every outlet known to carry this same story
    words: int = 0  # words in the text (`len(text.split())`), kept so listing needs no text

    @property
    def word_count(self) -> int:
        return self.words

    @property
    def info(self) -> ArticleInfo:
        """These facts alone (an `Article` without its text)."""
        if type(self) is ArticleInfo:
            return self
        return ArticleInfo(**{f.name: getattr(self, f.name) for f in fields(ArticleInfo)})

    def with_text(self, text: str) -> Article:
        """The full article: these facts and `text` (its word count is counted from it)."""
        return Article(**{f.name: getattr(self, f.name) for f in fields(ArticleInfo)}, text=text)


@dataclass(frozen=True, slots=True)
class Article(ArticleInfo):
    """One news article as stored: its verbatim body text and the facts about it. `words` is
    always counted from `text`."""

    text: str = field(kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", len(self.text.split()))


@dataclass(frozen=True)
class Span:
    """Character offsets ``[start, end)`` in an article's stored text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of an article, with its character offsets in ``Article.text``."""

    article_id: str
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the article it belongs to and how it ranked."""

    chunk: Chunk
    article: Article  # with its text: quotes are cut from it and checked against it
    score: float  # fused score; larger is better
    dense_rank: int | None = None
    lexical_rank: int | None = None
    sentences: tuple[Span, ...] = ()  # the chunk's sentences, offsets in the article text


@dataclass(frozen=True)
class Citation:
    """A quote shown to a user: where it stands in the stored article and whether it was checked."""

    article_id: str
    title: str
    source: str
    published: str
    url: str
    quote: str
    start: int
    end: int
    verified: bool
    updated: str = ""  # when the article was last revised (YYYY-MM-DD), "" if never or unknown
    # A fact from the article's metadata ("author", "editor", "published", "source") cited as its
    # byline or dateline: `quote` then holds that fact, and `start` = `end` = 0. "" for a quote.
    metadata: str = ""

    @property
    def metadata_label(self) -> str:
        """Where a metadata citation's fact stands: the article's "byline" or "dateline"."""
        return "byline" if self.metadata in ("author", "editor") else "dateline"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "published": self.published,
            "url": self.url,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
            "verified": self.verified,
            "updated": self.updated,
        }
        if self.metadata:
            out["metadata"] = self.metadata
        return out


@dataclass(frozen=True)
class Claim:
    """One sentence of a model's answer and the numbers (1-based, into ``Answer.citations``) of
    the verified quotes it rests on."""

    text: str
    quotes: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {"text": self.text, "quotes": list(self.quotes)}


Mode = Literal["extractive", "llm"]


class Outcome(enum.Enum):
    """What became of a question."""

    ANSWERED = "answered"  # the asked-for fact was found and is quoted
    NOT_STATED = "not_stated"  # the articles cover the subject but do not state the asked-for thing
    NOT_COVERED = "not_covered"  # the articles are about something else


@dataclass(frozen=True)
class Answer:
    """What the core returns for a question; the CLI and the Discord layer only render it."""

    text: str
    answerable: bool
    mode: Mode
    citations: tuple[Citation, ...] = ()
    note: str = ""  # e.g. why the model was not used this time
    passages: tuple[Passage, ...] = field(default=(), compare=False, repr=False)
    claims: tuple[Claim, ...] = ()  # a model's answer, sentence by sentence; `text` joins them

    # None: derived from `answerable` (answered, or not covered); `answerable` is always
    # `outcome is Outcome.ANSWERED`.
    outcome: Outcome | None = None
    missing: tuple[str, ...] = ()  # what was asked and not found ("the date", a part of the question)
    related: tuple[Citation, ...] = ()  # "not stated": the closest passages, shown as related, not as the answer

    def __post_init__(self) -> None:
        if self.outcome is None:
            object.__setattr__(self, "outcome", Outcome.ANSWERED if self.answerable else Outcome.NOT_COVERED)
        elif self.answerable != (self.outcome is Outcome.ANSWERED):
            raise ValueError(f"answerable={self.answerable} contradicts outcome={self.outcome.value}")

    def cited_text(self, escape: Callable[[str], str] = str) -> str:
        """The answer with each claim followed by the numbers of its quotes ("… [1][2]"), each
        claim's words passed through `escape` (the text as it is when there are no claims)."""
        if not self.claims:
            return escape(self.text)
        return " ".join(f"{escape(c.text)} " + "".join(f"[{n}]" for n in c.quotes) for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        assert self.outcome is not None
        out: dict[str, Any] = {
            "answer": self.text,
            "answerable": self.answerable,
            "outcome": self.outcome.value,
            "mode": self.mode,
            "citations": [c.to_dict() for c in self.citations],
            "claims": [c.to_dict() for c in self.claims],
        }
        if self.missing:
            out["missing"] = list(self.missing)
        if self.related:
            out["related"] = [c.to_dict() for c in self.related]
        if self.note:
            out["note"] = self.note
        return out
