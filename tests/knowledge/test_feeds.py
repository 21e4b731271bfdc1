"""Feeds: subscriptions in the store, conditional polls, new items only, backoff for broken
feeds and items, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from knowledge import FetchFailed, FetchPolicy, InputError, LimitError, NotFoundError
from knowledge.feeds import DEFAULT_INTERVAL, MAX_ITEM_ATTEMPTS, FeedRegistry, backoff, check_feed
from knowledge.store import ArticleStore
from tests.loopback_site import LOOPBACK, rss
from tests.newspages import bbc_available, build_page, load_story

pytestmark = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")
T0 = 1_700_000_000.0


def _publish(site, n: int) -> tuple[str, str]:
    story = load_story("tech", n)
    return story.headline, site.put(f"/news/{n}", build_page(story).html)


LOOPBACK_FETCH = FetchPolicy(allow_hosts=LOOPBACK, timeout=10)


def _poll(reg, kb, now):
    return reg.poll_due(kb, now=now)


def test_subscriptions_are_kept_per_scope_in_the_store(make_kb):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    reg = FeedRegistry(kb.store, max_per_scope=2)
    a = reg.add("https://a.example/feed.xml", "111", now=T0)
    reg.add("https://b.example/rss", "111", now=T0 + 1)
    reg.add("https://a.example/feed.xml", "222", now=T0)
    with pytest.raises(InputError, match="followed already"):
        reg.add(" https://a.example/feed.xml ", "111")
    with pytest.raises(LimitError, match="MAX_FEEDS_PER_SERVER"):
        reg.add("https://c.example/rss", "111")
    with pytest.raises(InputError, match="http"):
        reg.add("file:///etc/passwd", "111")
    assert [f.url for f in reg.list("111")] == ["https://a.example/feed.xml", "https://b.example/rss"]
    # Another registry on a reopened store sees the same feeds: they live in Chroma.
    again = FeedRegistry(ArticleStore.open_local(kb.config.chroma_path, kb.embedder.name))
    assert {f.id for f in again.list()} == {f.id for f in reg.list()} and len(again.list()) == 3
    assert again.remove(a.id, "111").url == a.url
    assert again.remove("https://b.example/rss", "111").id != a.id
    with pytest.raises(NotFoundError):
        again.remove(a.id, "111")
    assert [f.scope for f in reg.list()] == ["222"]


@pytest.mark.server
def test_a_feed_that_gains_an_item_loads_only_the_new_one(site, make_kb):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    items = [(*_publish(site, n), f"2005-02-0{n}") for n in (2, 1)]
    feed_url = site.put("/feed.xml", rss("Tech Wire", items), "application/rss+xml", etag='"v1"')
    reg = FeedRegistry(kb.store)
    feed = reg.add(feed_url, "555", now=T0)

    [first] = _poll(reg, kb, T0)
    assert first.status == "ok" and first.feed.title == "Tech Wire"
    assert sorted(i.status for i in first.items) == ["loaded", "loaded"]
    assert {a.title for a in kb.list(["555"])} == {t for t, _, _ in items}
    assert first.feed.etag == '"v1"' and first.feed.next_poll == T0 + DEFAULT_INTERVAL

    assert _poll(reg, kb, T0 + 600) == []  # not due yet
    t1 = T0 + DEFAULT_INTERVAL
    [unchanged] = _poll(reg, kb, t1)
    assert unchanged.status == "not-modified" and unchanged.items == ()
    assert site.hits("/feed.xml")[-1]["if-none-match"] == '"v1"'
    assert len(site.hits("/news/1")) == len(site.hits("/news/2")) == 1

    new = (*_publish(site, 3), "2005-02-03")
    site.put("/feed.xml", rss("Tech Wire", [new, *items]), "application/rss+xml", etag='"v2"')
    [gained] = _poll(reg, kb, t1 + DEFAULT_INTERVAL)
    assert [(i.link, i.status) for i in gained.items] == [(new[1], "loaded")]
    assert len(site.hits("/news/1")) == 1 and len(site.hits("/news/3")) == 1
    assert gained.feed.etag == '"v2"' and len(kb.list(["555"])) == 3
    assert reg.get(feed.id).seen == gained.feed.seen and len(gained.feed.seen) == 3


@pytest.mark.server
@pytest.mark.parametrize(
    ("body", "ctype", "status", "needle"),
    [
        ("<html>no such feed</html>", "text/html", 404, "404"),
        ("this is not XML at all", "text/plain", 200, "not an RSS or Atom feed"),
        ("<html><body><p>A web page, not a feed.</p></body></html>", "text/html", 200, "not an RSS or Atom feed"),
    ],
)
def test_a_broken_feed_is_reported_and_backs_off(site, make_kb, body, ctype, status, needle):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    reg = FeedRegistry(kb.store)
    reg.add(site.put("/feed", body, ctype, status=status), now=T0)
    [p] = _poll(reg, kb, T0)
    assert p.status == "failed" and needle in p.error and p.feed.failures == 1
    assert p.feed.next_poll == T0 + backoff(1) > T0 + DEFAULT_INTERVAL - 1
    assert _poll(reg, kb, T0 + 60) == [] and len(site.hits("/feed")) == 1  # not retried at once
    [p2] = _poll(reg, kb, p.feed.next_poll)
    assert p2.feed.failures == 2 and p2.feed.next_poll - p.feed.next_poll == backoff(2) == 2 * backoff(1)
    assert reg.list()[0].last_error == p2.error
    assert backoff(30) == 24 * 3600  # capped at a day


@pytest.mark.server
def test_feedparser_is_never_handed_an_address_to_fetch(site, make_kb):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    secret = site.put("/secret", "top secret")
    reg = FeedRegistry(kb.store)
    reg.add(site.put("/feed", secret, "application/xml"), now=T0)
    [p] = _poll(reg, kb, T0)
    assert p.status == "failed" and site.hits("/secret") == []


@pytest.mark.server
def test_an_item_whose_page_fails_is_retried_on_later_polls_then_given_up(site, make_kb):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    good = (*_publish(site, 5), "2005-03-01")
    broken = ("Gone", site.url("/news/missing"), "2005-03-02")
    site.put("/feed", rss("Wire", [broken, good]), "application/rss+xml", etag='"x"')
    reg = FeedRegistry(kb.store)
    reg.add(site.url("/feed"), now=T0)
    now = T0
    for attempt in range(1, MAX_ITEM_ATTEMPTS + 1):
        [p] = _poll(reg, kb, now)
        failed = [i for i in p.items if i.status == "failed"]
        assert [i.link for i in failed] == [broken[1]] and "404" in failed[0].reason
        assert failed[0].gave_up == (attempt == MAX_ITEM_ATTEMPTS)
        assert len(site.hits("/news/missing")) == attempt  # once per poll, no tight loop
        now = p.feed.next_poll
    [p] = _poll(reg, kb, now)
    assert p.items == () and len(site.hits("/news/missing")) == MAX_ITEM_ATTEMPTS
    assert [a.title for a in kb.list()] == [good[0]] and p.feed.pending == {}


@pytest.mark.server
def test_a_poll_with_many_items_stores_them_in_one_batch_with_each_items_outcome(site, make_kb):
    kb = make_kb(fetch=LOOPBACK_FETCH)
    good = [(*_publish(site, n), f"2005-04-{n:02d}") for n in range(10, 18)]
    broken = ("Gone", site.url("/news/missing"), "2005-04-20")
    first = load_story("tech", 10)
    copy = (first.headline, site.put("/copy/10", build_page(first).html), "2005-04-21")  # the same page again
    site.put("/many.xml", rss("Busy Wire", [good[0], broken, *good[1:], copy]), "application/rss+xml")
    reg = FeedRegistry(kb.store)
    reg.add(site.url("/many.xml"), now=T0)
    writes: list[int] = []
    put_many = kb.store.put_many

    def counted(loads, **kw):
        writes.append(len(loads))
        return put_many(loads, **kw)

    kb.store.put_many = counted
    [p] = _poll(reg, kb, T0)
    assert [i.link for i in p.items] == [good[0][1], broken[1], *(g[1] for g in good[1:]), copy[1]]  # feed order
    assert [i.status for i in p.items] == ["loaded", "failed", *["loaded"] * 7, "unchanged"]
    assert "404" in p.items[1].reason and not p.items[1].gave_up
    assert writes[0] == 8  # every new article in the first write, not one write per item
    assert {a.title for a in kb.list()} == {g[0] for g in good}
    assert all(i.article_id and i.title for i in p.items if i.status != "failed")
    assert p.feed.pending == {broken[1]: 1} and set(p.feed.seen) == {g[1] for g in good} | {copy[1]}
    assert reg.get(p.feed.id).pending == {broken[1]: 1}


@pytest.mark.server
def test_feeds_live_on_a_chroma_server_too(chroma_server, embedder):
    host, port = chroma_server
    reg = FeedRegistry(ArticleStore.open_server(host, port, embedder.name))
    feed = reg.add("https://a.example/rss", "9", now=T0)
    assert [f.url for f in FeedRegistry(ArticleStore.open_server(host, port, embedder.name)).list("9")] == [feed.url]
    reg.remove(feed.id, "9")
    assert reg.list("9") == []


@pytest.mark.server
def test_a_feed_longer_than_two_thousand_items_is_never_fetched_again_item_by_item(site, make_kb):
    from dataclasses import replace

    kb = make_kb(fetch=LOOPBACK_FETCH)
    old = [(f"Old {n}", site.url(f"/old/{n}"), "2005-01-01") for n in range(2500)]
    new = (*_publish(site, 7), "2005-02-07")
    site.put("/long.xml", rss("Archive Wire", [new, *old]), "application/rss+xml")
    reg = FeedRegistry(kb.store)
    feed = reg.add(site.url("/long.xml"), now=T0)
    reg._write(replace(feed, seen=dict.fromkeys((link for _, link, _ in old), T0)))  # read on earlier polls
    [p] = _poll(reg, kb, T0 + 1)
    assert [(i.link, i.status) for i in p.items] == [(new[1], "loaded")]
    assert len(reg.get(feed.id).seen) == 2501  # before: cut to the newest 2,000


def test_seen_links_are_forgotten_by_age_once_the_feed_stops_listing_them():
    from knowledge.feeds import SEEN_TTL, forget_old

    now = T0 + 10 * SEEN_TTL
    seen = {"https://x.example/listed": now, "https://x.example/recent": now - SEEN_TTL / 2, "https://x.example/gone": now - SEEN_TTL - 1}
    assert set(forget_old(seen, now)) == {"https://x.example/listed", "https://x.example/recent"}


def test_checking_a_feed_fetches_it_once_and_reports_its_title_and_items(site):
    url = site.put("/check.xml", rss("Harbour  Wire", [("A", "http://x.example/a", "2025-01-02"),
                                                       ("B", "http://x.example/b", "2025-01-01")]), "application/rss+xml")
    found = check_feed(url, FetchPolicy(allow_hosts=LOOPBACK, timeout=10))
    assert (found.title, found.items) == ("Harbour Wire", 2) and len(site.hits("/check.xml")) == 1


@pytest.mark.parametrize("address, allow, needle", [
    ("ftp://files.example/feed.xml", LOOPBACK, "http:// or https://"),
    ("SITE/private.xml", frozenset(), "not port"),  # the fetch policy: no odd ports or loopback unless allowed
    ("SITE/page.html", LOOPBACK, "not an RSS or Atom feed"),
])
def test_a_feed_that_could_never_be_read_is_refused_when_checked(site, address, allow, needle):
    site.put("/private.xml", rss("P", []), "application/rss+xml")
    site.put("/page.html", "<html><body><p>Just a page.</p></body></html>")
    address = address.replace("SITE", site.base)
    with pytest.raises((InputError, FetchFailed)) as err:
        check_feed(address, FetchPolicy(allow_hosts=allow, timeout=10))
    assert needle in err.value.reason
