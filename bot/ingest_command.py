"""Bulk loading for the command line: files, folders, URLs or a file of URLs, with a progress bar
and a summary (loaded / updated / already loaded / duplicate / failed with the reason)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from knowledge import IngestStatus, KnowledgeBase, KnowledgeError
from knowledge.sources import Source, article_files, is_url


def expand(paths: list[str]) -> list[Source]:
    """What to load: web addresses, and files (folders are walked by the core's one rule,
    `sources.article_files`; a `.urls` / `.list` file holds one address a line)."""
    out: list[Source] = []
    for raw in paths:
        if is_url(raw):
            out.append(raw.strip())
            continue
        p = Path(raw)
        if p.is_dir():
            out += article_files(p)
        elif p.suffix.lower() in (".urls", ".list"):
            lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
            out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            out.append(p)
    return out


def summary(counts: Counter[IngestStatus], failed: int) -> str:
    return (f"loaded {counts[IngestStatus.LOADED]}, updated {counts[IngestStatus.UPDATED]}, "
            f"already loaded {counts[IngestStatus.UNCHANGED]}, duplicate {counts[IngestStatus.DUPLICATE]}, failed {failed}")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def printable(text: str) -> str:
    """`text` on one line: a newline or other control character in a file name is shown escaped
    (`\\n`), so it cannot start a line of its own that looks like the summary."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def failure_line(item: Source | str, reason: str) -> str:
    """`failed: NAME: REASON`, the name once (the core's reasons for files already start with it)."""
    name = str(item)
    reason = reason.removeprefix(f"{name}: ")
    return printable(f"failed: {name}: {reason}")


def run_ingest(kb: KnowledgeBase, paths: list[str], *, scope: str, source: str) -> int:
    """Load everything through `kb.load_many`; print a summary; return the exit code (1 if anything
    failed)."""
    failures: list[tuple[Source, str]] = []
    for raw in paths:
        if (m := _SCHEME.match(raw.strip())) and not is_url(raw):
            failures.append((raw.strip(), f"unsupported scheme “{m[1]}”: only http:// and https:// addresses are loaded."))
    items = expand([raw for raw in paths if not _SCHEME.match(raw.strip()) or is_url(raw)])
    counts: Counter[IngestStatus] = Counter()
    # the bar only on a terminal: captured, it is one long line mixed into the output
    bar = tqdm(total=len(items), unit="article", disable=len(items) < 2 or not sys.stderr.isatty(), dynamic_ncols=True)
    # read one by one, stored in batches (`KnowledgeBase.load_many`)
    for item, outcome in kb.load_many(items, scope, outlet=source):
        if isinstance(outcome, KnowledgeError):
            failures.append((item, outcome.reason))
        else:
            counts[outcome.status] += 1
        bar.update(1)
        bar.set_postfix(failed=len(failures), refresh=False)
    bar.close()
    for item, reason in failures:
        click.echo(failure_line(item, reason), err=True)
    click.echo(summary(counts, len(failures)))
    return 1 if failures else 0
