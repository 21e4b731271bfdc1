"""`python -m bot feeds add|list|remove|poll`: follow RSS/Atom feeds from the command line.

The same subscriptions the Discord bot polls every FEED_POLL_MINUTES (they live in the article
store); `--scope` picks a Discord server's feeds, the global ones by default.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

import click

from knowledge.models import GLOBAL_SCOPE

if TYPE_CHECKING:  # knowledge.feeds brings in the page extractor: imported when a command runs
    from knowledge.feeds import Feed, FeedPoll

    from .cli import App

scope_option = click.option("--scope", default=GLOBAL_SCOPE, show_default=True, help="Whose feeds: a Discord server id, or global.")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if ts else "never"


@click.group()
def feeds() -> None:
    """Follow RSS/Atom feeds: their new articles are loaded by `feeds poll` and by the bot."""


@feeds.command("add")
@click.argument("url")
@scope_option
@click.pass_obj
def add(app: App, url: str, scope: str) -> None:
    """Follow the feed at URL: it is fetched once now (under the FETCH_* settings) and refused if
    it cannot be read; its items are loaded at the next `feeds poll`."""
    feed, found = app.kb.feeds.follow(url, scope, policy=app.kb.config.fetch)
    click.echo(f"Following “{found.title or 'untitled feed'}” ({found.items} item{'s' if found.items != 1 else ''}) "
               f"at {feed.url} (id {feed.id}).")


@feeds.command("list")
@scope_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_(app: App, scope: str, as_json: bool) -> None:
    """List the followed feeds with when they were polled and their last error."""
    followed = app.kb.feeds.list(scope)
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in followed], ensure_ascii=False))
        return
    if not followed:
        click.echo("No feeds followed.")
    for f in followed:
        state = f"failed {f.failures}× ({f.last_error})" if f.failures else "ok"
        click.echo(f"{f.id}  {f.title or f.url}\n    {f.url}\n    polled {_when(f.last_polled)}, next {_when(f.next_poll)}, {state}")


@feeds.command("remove")
@click.argument("feed")
@scope_option
@click.pass_obj
def remove(app: App, feed: str, scope: str) -> None:
    """Stop following FEED (its id or address); articles already loaded stay."""
    gone = app.kb.feeds.remove(feed, scope)
    click.echo(f"Stopped following {gone.url} ({gone.id}).")


@feeds.command("poll")
@click.option("--all", "every", is_flag=True, help="Poll every feed, not only those that are due.")
@click.pass_obj
def poll(app: App, every: bool) -> None:
    """Poll the feeds that are due now (all scopes) and load their new articles. Exits with 1
    if a feed or an article failed."""
    s = app.settings
    polls = app.kb.poll_feeds(force=every, interval=s.feed_poll_minutes * 60.0)
    for p in polls:
        click.echo(describe(p))
        for item in p.items:
            if item.status == "failed":
                click.echo(f"    failed: {item.link}: {item.reason}" + (" (gave up)" if item.gave_up else ""), err=True)
    failed = sum(p.status == "failed" for p in polls) + sum(p.counts()["failed"] for p in polls)
    click.echo(f"{len(polls)} feed(s) polled." if polls else "No feeds are due.")
    sys.exit(1 if failed else 0)


def describe(p: FeedPoll) -> str:
    """One line for a poll: the feed and what became of its items."""
    name = _name(p.feed)
    if p.status == "failed":
        return f"{name}: failed: {p.error} Next try {_when(p.feed.next_poll)}."
    c = p.counts()
    if p.status == "not-modified" and not p.items:
        return f"{name}: unchanged since the last poll."
    return (f"{name}: loaded {c['loaded']}, updated {c['updated']}, already loaded {c['unchanged']}, "
            f"duplicate {c['duplicate']}, failed {c['failed']}")


def _name(f: Feed) -> str:
    return f"{f.title} ({f.id})" if f.title else f"{f.url} ({f.id})"
