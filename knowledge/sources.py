"""What can be loaded, and how it becomes an `Article`: the one way in for every caller.

A source is a web address (`str` starting with http:// or https://), a local file (`Path`), an
uploaded file's bytes (`Upload`) or pasted text (`Pasted`). `read` turns any of them into an
article, not yet stored, under the one fetch policy (`FetchPolicy`, held in `CoreConfig.fetch`),
so the CLI, Discord, feeds and the start-up folder sync never pass fetch settings themselves.
`article_files` is the one rule for which files of a folder are articles.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .loading import SUPPORTED_SUFFIXES, load_file, parse_bytes, parse_plain
from .models import GLOBAL_SCOPE, Article

# Files in a walked folder that describe a corpus rather than being an article of it; a file
# named on its own is always loaded.
NOT_ARTICLES = ("readme*", "license*", "licence*", "copying*", "source.md", "changelog*", "*.jsonl")


@dataclass(frozen=True)
class FetchPolicy:
    """How web addresses are fetched: private addresses only for `allow_hosts`, a total
    `timeout` in seconds, at most `max_bytes` (uploads are held to the same size)."""

    allow_hosts: frozenset[str] = frozenset()
    timeout: float = 15.0
    max_bytes: int = 5_000_000


@dataclass(frozen=True)
class Upload:
    """A file's bytes as given (a Discord attachment); `name`'s suffix picks the format."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Pasted:
    """Pasted text; without `title`, its first short line is the headline."""

    text: str
    title: str = ""
    source: str = ""
    published: str = ""


Source = str | Path | Upload | Pasted


def is_url(text: str) -> bool:
    return text.strip().startswith(("http://", "https://"))


def read(source: Source, *, scope: str = GLOBAL_SCOPE, policy: FetchPolicy | None = None, outlet: str = "") -> Article:
    """The article in `source`, for `scope`, not yet stored (blocking: it may fetch). `outlet`
    names the outlet of a plain-text file that does not say. Raises `KnowledgeError`:
    `FetchFailed` for an address, `InputError` for a file or text."""
    policy = policy or FetchPolicy()
    if isinstance(source, Upload):
        if len(source.data) > policy.max_bytes:
            raise InputError(f"{source.name} is {len(source.data) / 1e6:.1f} MB; files up to {policy.max_bytes / 1e6:.1f} MB are accepted.")
        return parse_bytes(source.data, name=source.name, scope=scope, origin=f"upload:{source.name}")
    if isinstance(source, Pasted):
        text = source.text
        if source.title.strip():
            # parse_plain takes the first paragraph as the headline even when a title is given,
            # and drops it from the body; put the title there so the whole text is kept.
            text = f"{source.title.strip()}\n\n{text}"
        try:
            return parse_plain(text, origin="pasted", scope=scope, title=source.title, source=source.source or outlet,
                               published=source.published)
        except InputError as exc:  # "pasted" is an internal label: the person sees the reason only
            raise InputError(exc.reason.removeprefix("pasted: ")) from exc
    if isinstance(source, Path):
        return load_file(source, scope=scope, source=outlet)
    if not is_url(source):
        raise InputError("That does not look like a link: it should start with http:// or https://.")
    from .web import load_url  # the fetcher and extractors load only when an address is read

    return load_url(source, scope=scope, allow_hosts=policy.allow_hosts, timeout=policy.timeout, max_bytes=policy.max_bytes)


def is_article_file(path: Path) -> bool:
    """Whether a file met while walking a folder is an article (not a README, licence, …)."""
    name = path.name.lower()
    return (path.suffix.lower() in SUPPORTED_SUFFIXES and not name.startswith(".")
            and not any(fnmatch.fnmatch(name, pattern) for pattern in NOT_ARTICLES))


def article_files(folder: str | Path) -> list[Path]:
    """The article files under `folder`, at any depth, in path order."""
    return [p for p in sorted(Path(folder).rglob("*")) if p.is_file() and is_article_file(p)]
