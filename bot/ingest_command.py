"""Bulk loading for the command line: files, folders, URLs or a file of URLs, with a progress bar
and a summary (loaded / updated / already loaded / duplicate / failed with the reason)."""

from __future__ import annotations

import fnmatch
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from knowledge import KnowledgeBase, KnowledgeError
from knowledge.loading import SUPPORTED_SUFFIXES, load_file

from .settings import Settings

# Files in a walked folder that describe a corpus rather than being an article of it; a file
# named on the command line is always loaded.
NOT_ARTICLES = ("readme*", "license*", "licence*", "copying*", "source.md", "changelog*", "*.jsonl")


def is_article_file(path: Path) -> bool:
    name = path.name.lower()
    return (path.suffix.lower() in SUPPORTED_SUFFIXES and not name.startswith(".")
            and not any(fnmatch.fnmatch(name, pattern) for pattern in NOT_ARTICLES))


def expand(paths: list[str]) -> list[str]:
    """Files and URLs to load: folders are walked; a `.urls` / `.list` file holds one URL a line."""
    out: list[str] = []
    for raw in paths:
        if raw.startswith(("http://", "https://")):
            out.append(raw)
            continue
        p = Path(raw)
        if p.is_dir():
            out += [str(f) for f in sorted(p.rglob("*")) if f.is_file() and is_article_file(f)]
        elif p.suffix.lower() in (".urls", ".list"):
            lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
            out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            out.append(raw)
    return out


def load_one(kb: KnowledgeBase, item: str, *, scope: str, source: str, settings: Settings) -> str:
    if item.startswith(("http://", "https://")):
        from knowledge.web import load_url

        article = load_url(item, scope=scope, allow_hosts=frozenset(settings.fetch_allow_hosts),
                           timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes)
    else:
        article = load_file(item, scope=scope, source=source)
    return kb.ingest(article).status


def summary(counts: Counter[str], failed: int) -> str:
    return (f"loaded {counts['loaded']}, updated {counts['updated']}, already loaded {counts['unchanged']}, "
            f"duplicate {counts['duplicate']}, failed {failed}")


def run_ingest(kb: KnowledgeBase, paths: list[str], *, scope: str, source: str, settings: Settings) -> int:
    """Load everything; print a summary; return the exit code (1 if anything failed)."""
    items = expand(paths)
    counts: Counter[str] = Counter()
    failures: list[tuple[str, str]] = []
    bar = tqdm(items, unit="article", disable=len(items) < 2, dynamic_ncols=True)
    for item in bar:
        try:
            counts[load_one(kb, item, scope=scope, source=source, settings=settings)] += 1
        except KnowledgeError as exc:
            failures.append((item, exc.reason))
        bar.set_postfix(failed=len(failures), refresh=False)
    bar.close()
    for item, reason in failures:
        click.echo(f"failed: {item}: {reason}", err=True)
    click.echo(summary(counts, len(failures)))
    return 1 if failures else 0
