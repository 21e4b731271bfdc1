"""RSS and Atom feeds whose new articles are loaded by themselves, followed per scope (server).

Subscriptions live in the Chroma store itself (collection `newsbot-feeds`, one record per feed
with a dummy 1-d vector), so they work with the embedded store and a Chroma server alike.

`FeedRegistry.poll_due` is blocking; the Discord layer calls it from a `discord.ext.tasks` loop
every FEED_POLL_MINUTES through `asyncio.to_thread`. Each due feed gets a conditional GET through
the safe fetcher (If-None-Match / If-Modified-Since), its bytes are parsed by feedparser (which is
never handed a URL, so it fetches nothing itself), and each new item's link is read with
`KnowledgeBase.read`; the poll's articles are then stored together with
`KnowledgeBase.ingest_many`, the same all-or-nothing path as any load (one batch of writes).

A feed that fails (unreachable, 404, not a feed) is tried again after 15 min × 2^failures, at
most a day later. An item whose page fails is reported and tried again on later polls, at most
`MAX_ITEM_ATTEMPTS` times in all, never in a tight loop.
"""

from __future__ import annotations

import builtins  # `list` is also a method name in this module's classes
import hashlib
import io
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .errors import FetchFailed, InputError, KnowledgeError, LimitError, NotFoundError
from .ingesting import INGEST_BATCH
from .models import GLOBAL_SCOPE, Article
from .sources import FetchPolicy
from .store import ArticleStore, Record
from .web import fetch_page

if TYPE_CHECKING:
    from .base import KnowledgeBase

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
# An item link is remembered while the feed lists it and for SEEN_TTL after it last did, so a
# feed of any length is never fetched again item by item (a count cap of 2,000 made a longer
# feed's older items new on every poll). MAX_SEEN only bounds the record's size.
SEEN_TTL = 30 * 24 * 3600.0
MAX_SEEN = 50_000
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
    seen: Mapping[str, float] = field(default_factory=dict)  # item link done with (stored or given up) -> when last listed
    pending: Mapping[str, int] = field(default_factory=dict)  # item link -> failed attempts

    def to_dict(self) -> dict[str, object]:
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
    return max(interval, min(BACKOFF_BASE * 2.0 ** min(failures, 20), BACKOFF_CAP))


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


@dataclass(frozen=True)
class FeedCheck:
    """What one fetch of a feed address found, before it is followed."""

    url: str  # the address after redirects
    title: str
    items: int  # items with an http(s) link


def check_feed(url: str, policy: FetchPolicy) -> FeedCheck:
    """Fetch the feed at `url` once, under the same fetch policy as polling (no private
    addresses unless allowed, size and time limits), and parse it. Raises InputError for an
    address that is not http(s), FetchFailed (with a reason for people) for one that cannot be
    fetched or is not a feed; so a feed that could never be read is refused when it is added,
    not found failing later in the feed list."""
    url = _feed_address(url)
    page = fetch_page(url, accept=FEED_TYPES, allow_hosts=policy.allow_hosts, timeout=policy.timeout,
                      max_bytes=policy.max_bytes)
    title, items = parse_feed(page.body, base_url=page.final_url, content_type=page.content_type)
    return FeedCheck(page.final_url, " ".join(title.split())[:300], len(items))


def _feed_address(url: str) -> str:
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise InputError("A feed address starts with http:// or https://.")
    return url


class FeedRegistry:
    """The feeds followed in one article store; thread-safe."""

    def __init__(self, store: ArticleStore, *, max_per_scope: int = 20):
        self._records = store.records(FEEDS)
        self._lock = threading.RLock()
        self.max_per_scope = max_per_scope

    # -- the subscriptions -----------------------------------------------------------------

    def follow(self, url: str, scope: str = GLOBAL_SCOPE, *, policy: FetchPolicy) -> tuple[Feed, FeedCheck]:
        """Check the address (followed already? too many feeds?), fetch and parse the feed once
        under `policy` (`check_feed`), and only then follow it, with the title it gave. Raises
        before anything is stored; what the CLI's and Discord's `feeds add` call."""
        url = _feed_address(url)
        self._refuse_to_add(url, scope)
        found = check_feed(url, policy)
        return self.add(url, scope, title=found.title), found

    def _refuse_to_add(self, url: str, scope: str) -> None:
        followed = self.list(scope)
        if any(f.url == url for f in followed):
            raise InputError(f"That feed is followed already (id {feed_id(url, scope)}).")
        if scope != GLOBAL_SCOPE and len(followed) >= self.max_per_scope:
            raise LimitError(f"This server already follows {len(followed)} feeds, the most allowed (MAX_FEEDS_PER_SERVER). Remove one first.")

    def add(self, url: str, scope: str = GLOBAL_SCOPE, *, now: float | None = None, title: str = "") -> Feed:
        """Follow the feed at `url` in `scope` without fetching it (`follow` checks it first);
        it is due at once. InputError if it is not an http(s) address or is followed already,
        LimitError past `max_per_scope`."""
        url = _feed_address(url)
        with self._lock:
            self._refuse_to_add(url, scope)
            feed = Feed(id=feed_id(url, scope), url=url, scope=scope, title=title, added=time.time() if now is None else now)
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

    def due(self, now: float | None = None) -> builtins.list[Feed]:
        now = time.time() if now is None else now
        return [f for f in self.list() if f.next_poll <= now + SLACK]

    def _write(self, feed: Feed, *, only_if_present: bool = False) -> None:
        with self._lock:
            if only_if_present and not self._records.has(feed.id):
                return  # removed while it was being polled: do not bring it back
            meta = {k: getattr(feed, k) for k in _META}
            doc = json.dumps({"seen": dict(feed.seen), "pending": dict(feed.pending)})
            self._records.put(Record(feed.id, doc, meta))

    # -- polling ---------------------------------------------------------------------------

    def poll_due(
        self, kb: KnowledgeBase, now: float | None = None, *, force: bool = False,
        interval: float = DEFAULT_INTERVAL, max_items: int = MAX_ITEMS_PER_POLL,
    ) -> builtins.list[FeedPoll]:
        """Poll every feed that is due (every feed with `force`), one after the other; options
        as for `poll`. Blocking; never raises for a feed's or an item's trouble."""
        now = time.time() if now is None else now
        return [self.poll(kb, f, now=now, interval=interval, max_items=max_items) for f in (self.list() if force else self.due(now))]

    def poll(
        self, kb: KnowledgeBase, feed: Feed, *, now: float | None = None, interval: float = DEFAULT_INTERVAL,
        max_items: int = MAX_ITEMS_PER_POLL,
    ) -> FeedPoll:
        """Fetch `feed` if changed (under `kb`'s fetch policy) and load its new items into `kb`
        in the feed's scope, the way every article is loaded (`kb.read`, then `kb.ingest_many`)."""
        now = time.time() if now is None else now
        policy = kb.config.fetch
        headers = {k: v for k, v in (("If-None-Match", feed.etag), ("If-Modified-Since", feed.last_modified)) if v}
        title, found = feed.title, builtins.list[tuple[str, str]]()
        try:
            page = fetch_page(feed.url, accept=FEED_TYPES, extra_headers=headers, allow_hosts=policy.allow_hosts,
                              timeout=policy.timeout, max_bytes=policy.max_bytes)
            if page.status != 304:
                title, found = parse_feed(page.body, base_url=page.final_url, content_type=page.content_type)
        except FetchFailed as exc:
            failures = feed.failures + 1
            feed = replace(feed, last_polled=now, failures=failures, last_error=exc.reason, next_poll=now + backoff(failures, interval))
            self._write(feed, only_if_present=True)
            log.info("feed %s failed (%d in a row): %s", feed.url, failures, exc.reason)
            return FeedPoll(feed, "failed", error=exc.reason)
        seen, pending = dict(feed.seen), dict(feed.pending)
        dates = dict(found)
        for link, _ in found:
            if link in seen:
                seen[link] = now  # still listed: remembered for another SEEN_TTL
            elif link not in pending:
                pending[link] = 0
        if page.status != 304:
            feed = replace(feed, etag=page.etag or "", last_modified=page.last_modified or "")
        feed = replace(feed, title=title or feed.title, last_polled=now, next_poll=now + interval, failures=0, last_error="")
        # Saved before the items load: the feed shows as read (and is not due again) at once,
        # and items found now are remembered as pending even if this process dies mid-way.
        self._write(replace(feed, pending=dict(pending)), only_if_present=True)
        items = self._load_items(kb, feed.scope, pending, seen, dates, max_items, now)
        if page.status != 304:  # a 304 lists nothing, so it cannot say what is still listed
            seen = forget_old(seen, now)
        feed = replace(feed, seen=seen, pending=pending)
        self._write(feed, only_if_present=True)
        return FeedPoll(feed, "not-modified" if page.status == 304 else "ok", tuple(items))

    def _load_items(self, kb: KnowledgeBase, scope: str, pending: dict[str, int], seen: dict[str, float], dates: dict[str, str], max_items: int, now: float) -> builtins.list[FeedItem]:
        """Load up to `max_items` pending links, moving each to `seen` once stored or given up.

        Every page is read first, then the articles are stored through `ingest_many` in batches
        of `INGEST_BATCH`: a poll's new items make one batch of Chroma writes, not one per item,
        and each item is still decided and stored all or nothing, with its own outcome."""
        items: dict[str, FeedItem] = {}
        read: list[tuple[str, Article]] = []
        links = list(pending)[:max_items]
        for link in links:
            try:
                article = kb.read(link, scope)
            except KnowledgeError as exc:
                items[link] = self._failed(link, exc, pending, seen, now)
                continue
            if not article.published and dates.get(link):
                article = replace(article, published=dates[link])  # the feed's date, not today's
            read.append((link, article))
        for start in range(0, len(read), INGEST_BATCH):
            part = read[start : start + INGEST_BATCH]
            for (link, _), result in zip(part, kb.ingest_many([a for _, a in part]), strict=True):
                if isinstance(result, KnowledgeError):
                    items[link] = self._failed(link, result, pending, seen, now)
                    continue
                del pending[link]
                seen[link] = now
                items[link] = FeedItem(link, result.status, result.article.id, result.article.title)
        return [items[link] for link in links]  # in feed order, as the items were tried

    @staticmethod
    def _failed(link: str, exc: KnowledgeError, pending: dict[str, int], seen: dict[str, float], now: float) -> FeedItem:
        """An item that failed this time: tried again on a later poll, or given up after
        `MAX_ITEM_ATTEMPTS` (then remembered as seen)."""
        pending[link] += 1
        gave_up = pending[link] >= MAX_ITEM_ATTEMPTS
        if gave_up:
            del pending[link]
            seen[link] = now
        return FeedItem(link, "failed", reason=exc.reason, gave_up=gave_up)


def _feed_from(record: Record) -> Feed:
    state = json.loads(record.text or "{}")
    # The fields as `_write` stored them from a Feed: each has its Feed field's type.
    values: dict[str, Any] = {k: record.fields[k] for k in _META if k in record.fields}
    seen = state.get("seen", {})
    if isinstance(seen, list):  # the record of an older newsbot: links only, oldest first
        seen = dict.fromkeys(seen, float(values.get("last_polled") or time.time()))
    return Feed(id=record.id, seen={str(k): float(v) for k, v in seen.items()}, pending=dict(state.get("pending", {})), **values)


def forget_old(seen: Mapping[str, float], now: float) -> dict[str, float]:
    """The seen links listed within SEEN_TTL, at most MAX_SEEN of them (the latest)."""
    kept = {k: t for k, t in seen.items() if t >= now - SEEN_TTL}
    if len(kept) > MAX_SEEN:
        kept = dict(sorted(kept.items(), key=lambda kv: kv[1])[-MAX_SEEN:])
    return kept
