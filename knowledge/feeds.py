"""RSS and Atom feeds whose new articles are loaded by themselves, followed per scope (server).

Subscriptions live in the Chroma store itself (collection `newsbot-feeds`, one record per feed
with a dummy 1-d vector), so they work with the embedded store and a Chroma server alike.

`FeedRegistry.poll_due` is blocking; the Discord layer calls it from a `discord.ext.tasks` loop
every FEED_POLL_MINUTES through `asyncio.to_thread`. Each due feed gets a conditional GET through
the safe fetcher (If-None-Match / If-Modified-Since), its bytes are parsed by feedparser (which is
never handed a URL, so it fetches nothing itself), and each new item's link is loaded with
`web.load_url` and stored with `KnowledgeBase.ingest`, the same all-or-nothing path as any load.

A feed that fails (unreachable, 404, not a feed) is tried again after 15 min × 2^failures, at
most a day later. An item whose page fails is reported and tried again on later polls, at most
`MAX_ITEM_ATTEMPTS` times in all, never in a tight loop.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .errors import FetchFailed, InputError, KnowledgeError, LimitError, NotFoundError
from .models import GLOBAL_SCOPE
from .store import Record
from .web import fetch_page

log = logging.getLogger(__name__)

FEEDS = "newsbot-feeds"
FEED_TYPES = (
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml",
    "text/xml", "application/x-rss+xml", "text/html", "text/plain",  # some servers mislabel feeds
)
DEFAULT_INTERVAL = 30 * 60.0
BACKOFF_BASE = 15 * 60.0
BACKOFF_CAP = 24 * 3600.0
SLACK = 60.0  # a feed due within a minute is polled now, so a timer firing early misses nothing
MAX_ITEM_ATTEMPTS = 3
MAX_ITEMS_PER_POLL = 25
MAX_SEEN = 2000
_META = ("url", "scope", "title", "etag", "last_modified", "added", "last_polled", "next_poll", "failures", "last_error")


@dataclass(frozen=True)
class Feed:
    """A followed feed and the state of its polling (times are Unix seconds)."""

    id: str
    url: str
    scope: str = GLOBAL_SCOPE
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    added: float = 0.0
    last_polled: float = 0.0  # 0: never
    next_poll: float = 0.0
    failures: int = 0  # failed polls in a row
    last_error: str = ""
    seen: tuple[str, ...] = ()  # item links done with (stored, or given up), oldest first
    pending: Mapping[str, int] = field(default_factory=dict)  # item link -> failed attempts

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in _META if k not in ("etag", "last_modified")}
        return out | {"id": self.id, "items_seen": len(self.seen), "items_pending": len(self.pending)}


@dataclass(frozen=True)
class FeedItem:
    """What became of one item: an ingest status ("loaded", "updated", "unchanged",
    "duplicate") or "failed" with the reason (`gave_up`: it will not be tried again)."""

    link: str
    status: str
    article_id: str = ""
    title: str = ""
    reason: str = ""
    gave_up: bool = False


@dataclass(frozen=True)
class FeedPoll:
    """One poll of one feed: "ok", "not-modified" (HTTP 304) or "failed" (see `error`)."""

    feed: Feed  # as saved after the poll
    status: str
    items: tuple[FeedItem, ...] = ()
    error: str = ""

    def counts(self) -> Counter[str]:
        return Counter(i.status for i in self.items)


def feed_id(url: str, scope: str) -> str:
    return hashlib.sha256(f"{scope}|{url}".encode()).hexdigest()[:10]


def backoff(failures: int, interval: float = DEFAULT_INTERVAL) -> float:
    """Seconds to wait after `failures` failed polls in a row: 15 min × 2^failures, at most a
    day, and never sooner than the normal interval."""
    return max(interval, min(BACKOFF_BASE * 2 ** min(failures, 20), BACKOFF_CAP))


def parse_feed(body: bytes, *, base_url: str, content_type: str = "") -> tuple[str, list[tuple[str, str]]]:
    """The feed's title and its items as (link, published YYYY-MM-DD or ""), in feed order."""
    import feedparser

    # A file object, never bytes or a str: feedparser opens URLs and file names it is given.
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-location": base_url, "content-type": content_type or "application/xml"})
    if not parsed.get("version") and not parsed.entries:
        raise FetchFailed("That address is not an RSS or Atom feed.")
    items = []
    for entry in parsed.entries:
        link = (entry.get("link") or "").strip()
        if link.startswith(("http://", "https://")):
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            items.append((link, time.strftime("%Y-%m-%d", stamp) if stamp else ""))
    return parsed.feed.get("title", "") or "", items


class FeedRegistry:
    """The feeds followed in one article store; thread-safe."""

    def __init__(self, store, *, max_per_scope: int = 20):
        self._records = store.records(FEEDS)
        self._lock = threading.RLock()
        self.max_per_scope = max_per_scope

    # -- the subscriptions -----------------------------------------------------------------

    def add(self, url: str, scope: str = GLOBAL_SCOPE, *, now: float | None = None) -> Feed:
        """Follow the feed at `url` in `scope`; it is due at once. InputError if it is not an
        http(s) address or is followed already, LimitError past `max_per_scope`."""
        url = url.strip()
        if not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise InputError("A feed address starts with http:// or https://.")
        with self._lock:
            followed = self.list(scope)
            if any(f.url == url for f in followed):
                raise InputError(f"That feed is followed already (id {feed_id(url, scope)}).")
            if scope != GLOBAL_SCOPE and len(followed) >= self.max_per_scope:
                raise LimitError(f"This server already follows {len(followed)} feeds, the most allowed (MAX_FEEDS_PER_SERVER). Remove one first.")
            feed = Feed(id=feed_id(url, scope), url=url, scope=scope, added=time.time() if now is None else now)
            self._write(feed)
            return feed

    def list(self, scope: str | None = None) -> list[Feed]:
        """The feeds followed in `scope` (every scope when None), oldest first."""
        feeds = [_feed_from(r) for r in self._records.all()]
        return sorted((f for f in feeds if scope is None or f.scope == scope), key=lambda f: (f.added, f.url))

    def get(self, id_: str) -> Feed:
        record = self._records.get(id_)
        if record is None:
            raise NotFoundError(f"No followed feed has the id {id_!r}.")
        return _feed_from(record)

    def remove(self, url_or_id: str, scope: str = GLOBAL_SCOPE) -> Feed:
        """Stop following a feed of `scope`, named by id or address; its articles stay."""
        key = url_or_id.strip()
        with self._lock:
            for f in self.list(scope):
                if key in (f.id, f.url):
                    self._records.delete(f.id)
                    return f
        raise NotFoundError(f"No followed feed matches {key!r}; the feed list shows the ids.")

    def due(self, now: float | None = None) -> list[Feed]:
        now = time.time() if now is None else now
        return [f for f in self.list() if f.next_poll <= now + SLACK]

    def _write(self, feed: Feed, *, only_if_present: bool = False) -> None:
        with self._lock:
            if only_if_present and not self._records.has(feed.id):
                return  # removed while it was being polled: do not bring it back
            meta = {k: getattr(feed, k) for k in _META}
            doc = json.dumps({"seen": list(feed.seen[-MAX_SEEN:]), "pending": dict(feed.pending)})
            self._records.put(Record(feed.id, doc, meta))

    # -- polling ---------------------------------------------------------------------------

    def poll_due(self, kb, now: float | None = None, *, force: bool = False, **options) -> list[FeedPoll]:
        """Poll every feed that is due (every feed with `force`), one after the other; options
        as for `poll`. Blocking; never raises for a feed's or an item's trouble."""
        now = time.time() if now is None else now
        return [self.poll(kb, f, now=now, **options) for f in (self.list() if force else self.due(now))]

    def poll(
        self, kb, feed: Feed, *, now: float | None = None, interval: float = DEFAULT_INTERVAL,
        max_items: int = MAX_ITEMS_PER_POLL,
    ) -> FeedPoll:
        """Fetch `feed` if changed (under `kb`'s fetch policy) and load its new items into `kb`
        in the feed's scope, the way every article is loaded (`kb.read`, then `kb.ingest`)."""
        now = time.time() if now is None else now
        policy = kb.config.fetch
        fetch = {"allow_hosts": policy.allow_hosts, "timeout": policy.timeout, "max_bytes": policy.max_bytes}
        headers = {k: v for k, v in (("If-None-Match", feed.etag), ("If-Modified-Since", feed.last_modified)) if v}
        title, found = feed.title, []
        try:
            page = fetch_page(feed.url, accept=FEED_TYPES, extra_headers=headers, **fetch)
            if page.status != 304:
                title, found = parse_feed(page.body, base_url=page.final_url, content_type=page.content_type)
        except FetchFailed as exc:
            failures = feed.failures + 1
            feed = replace(feed, last_polled=now, failures=failures, last_error=exc.reason, next_poll=now + backoff(failures, interval))
            self._write(feed, only_if_present=True)
            log.info("feed %s failed (%d in a row): %s", feed.url, failures, exc.reason)
            return FeedPoll(feed, "failed", error=exc.reason)
        seen, pending = list(feed.seen), dict(feed.pending)
        dates = dict(found)
        known = set(seen)
        for link, _ in found:
            if link not in known and link not in pending:
                pending[link] = 0
        if page.status != 304:
            feed = replace(feed, etag=page.etag or "", last_modified=page.last_modified or "")
        feed = replace(feed, title=title or feed.title, last_polled=now, next_poll=now + interval, failures=0, last_error="")
        # Saved before the items load: the feed shows as read (and is not due again) at once,
        # and items found now are remembered as pending even if this process dies mid-way.
        self._write(replace(feed, pending=dict(pending)), only_if_present=True)
        items = self._load_items(kb, feed.scope, pending, seen, dates, max_items)
        feed = replace(feed, seen=tuple(seen[-MAX_SEEN:]), pending=pending)
        self._write(feed, only_if_present=True)
        return FeedPoll(feed, "not-modified" if page.status == 304 else "ok", tuple(items))

    def _load_items(self, kb, scope: str, pending: dict[str, int], seen: list[str], dates: dict[str, str], max_items: int) -> list[FeedItem]:
        """Load up to `max_items` pending links, moving each to `seen` once stored or given up."""
        items: list[FeedItem] = []
        for link in list(pending)[:max_items]:
            try:
                article = kb.read(link, scope)
                if not article.published and dates.get(link):
                    article = replace(article, published=dates[link])  # the feed's date, not today's
                result = kb.ingest(article)
            except KnowledgeError as exc:
                pending[link] += 1
                gave_up = pending[link] >= MAX_ITEM_ATTEMPTS
                if gave_up:
                    del pending[link]
                    seen.append(link)
                items.append(FeedItem(link, "failed", reason=exc.reason, gave_up=gave_up))
                continue
            del pending[link]
            seen.append(link)
            items.append(FeedItem(link, result.status, result.article.id, result.article.title))
        return items


def _feed_from(record: Record) -> Feed:
    state = json.loads(record.text or "{}")
    values = {k: record.fields[k] for k in _META if k in record.fields}
    return Feed(id=record.id, seen=tuple(state.get("seen", ())), pending=dict(state.get("pending", {})), **values)
