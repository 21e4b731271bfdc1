"""Loading articles from web addresses: extraction, revisions, syndication and the SSRF guard,
against a real HTTP server on 127.0.0.1 serving realistic news pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from knowledge import KnowledgeError
from knowledge.answering import citation
from knowledge.dedup import rank_key
from knowledge.errors import FetchFailed
from knowledge.fetching import PRIVATE_REASON
from knowledge.integrity import violations
from knowledge.models import Span
from knowledge.web import load_url
from tests.loopback_site import LOOPBACK
from tests.newspages import bbc_available, build_page, empty_page, load_story, read_bbc_bytes

pytestmark = [pytest.mark.server, pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")]


def _load(kb, url):
    return kb.ingest(load_url(url, allow_hosts=LOOPBACK))


def _without_modified_date(page_html: str) -> str:
    page_html = re.sub(r'<meta property="article:modified_time"[^>]*>\n?', "", page_html)
    return re.sub(r', "dateModified": "[^"]*"', "", page_html)


@pytest.mark.parametrize("variant", [0, 3, 5])
def test_a_page_becomes_an_article_with_its_own_title_outlet_and_dates(site, make_kb, variant):
    story = load_story("business", 3)
    page = build_page(story, variant)
    url = site.put("/news/3", page.html)
    art = load_url(url, allow_hosts=LOOPBACK)
    assert art.title == story.headline and art.source == page.site and art.author == page.author
    assert (art.published, art.updated) == (page.published, page.updated)  # from the page, not today
    assert art.url == page.canonical and art.text.split("\n\n") == list(story.paragraphs)
    kb = make_kb()
    result = kb.ingest(art)
    assert result.status == "loaded" and kb.get(art.id).text == art.text


def test_the_same_page_twice_is_already_loaded(site, make_kb):
    url = site.put("/news/4", build_page(load_story("tech", 4)).html)
    kb = make_kb()
    assert _load(kb, url).status == "loaded"
    chunks = kb.store.chunk_count()
    again = _load(kb, url)
    assert again.status == "unchanged" and kb.store.chunk_count() == chunks and len(kb.list()) == 1


@pytest.mark.parametrize("page_dates_it", [True, False])
def test_changed_text_at_the_same_address_replaces_the_old_version(site, make_kb, page_dates_it):
    story = load_story("politics", 5)
    page = build_page(story)
    url = site.put("/news/5", page.html)
    kb = make_kb()
    first = _load(kb, url).article
    old_para = story.paragraphs[1]
    new_para = "The minister later withdrew the remarks and apologised to the committee in writing."
    revised = page.html.replace(old_para, new_para)
    revised = revised.replace(page.updated + "T17:40", "2005-12-24T17:40") if page_dates_it else _without_modified_date(revised)
    site.put("/news/5", revised)

    result = _load(kb, url)
    assert result.status == "updated" and result.article.id == first.id
    stored = kb.get(first.id)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert stored.updated == ("2005-12-24" if page_dates_it else today)
    assert stored.published == first.published == page.published
    assert new_para in stored.text and old_para not in stored.text and len(kb.list()) == 1
    old_words = " ".join(old_para.split()[:12])
    for p in kb.retriever.search(old_words, 8):
        assert old_para not in p.chunk.text and p.article.version == stored.version
    # Every chunk left in Chroma is the new version's: the old ones were deleted.
    assert kb.store.chunk_count() == len(list(kb.store.iter_chunks()))
    cite = citation(stored, Span(0, 40), max_chars=300)
    assert cite.updated == stored.updated and cite.to_dict()["updated"] == stored.updated


def test_a_syndicated_copy_is_stored_once_with_both_outlets(site, make_kb):
    story = load_story("business", 10)
    a, b = build_page(story, 0), build_page(story, 1)  # two outlets, two layouts, two addresses
    assert a.site != b.site and a.canonical != b.canonical
    kb = make_kb()
    urls = [site.put("/a/10", a.html), site.put("/b/10", b.html)]
    copies = [load_url(u, allow_hosts=LOOPBACK) for u in urls]
    first = _load(kb, urls[0])
    copy = _load(kb, urls[1])
    assert (first.status, copy.status) == ("loaded", "duplicate")
    # The copy that ranks first (earliest date, then smallest id) is the one kept, whichever came first.
    kept = min(copies, key=rank_key)
    assert [x.id for x in kb.list()] == [kept.id] == [copy.article.id]
    assert kb.get(kept.id).outlets == (kept.source, *sorted({a.site, b.site} - {kept.source}))
    assert violations(kb.store) == []  # the other copy's chunks are gone, if it was stored
    # A lightly edited copy (one sentence reworded by a third outlet) is the same story too.
    third = build_page(story, 2)
    edited = third.html.replace(story.paragraphs[-1], "A spokesman declined to comment further.")
    assert _load(kb, site.put("/c/10", edited)).status == "duplicate"
    assert len(kb.list()) == 1 and set(kb.list()[0].outlets) == {a.site, b.site, third.site}
    # A different story is not mistaken for one.
    assert _load(kb, site.put("/a/11", build_page(load_story("business", 11)).html)).status == "loaded"


def test_plain_text_is_loaded_as_a_pasted_article(site):
    url = site.put("/story.txt", read_bbc_bytes("sport", 7), "text/plain; charset=utf-8")
    art = load_url(url, allow_hosts=LOOPBACK)
    story = load_story("sport", 7)
    assert art.title == story.headline and art.url == url and story.paragraphs[0] in art.text


@pytest.mark.parametrize(
    ("path", "body", "ctype", "status", "needle"),
    [
        ("/index", empty_page(), "text/html", 200, "No article text"),
        ("/gone", "<html>gone</html>", "text/html", 404, "404"),
        ("/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", 200, "image/png"),
        ("/feed.xml", "<rss version='2.0'><channel><title>x</title></channel></rss>", "application/rss+xml", 200, "application/rss+xml"),
    ],
)
def test_pages_without_an_article_fail_with_a_reason(site, path, body, ctype, status, needle):
    url = site.put(path, body, ctype, status=status)
    with pytest.raises(FetchFailed) as err:
        load_url(url, allow_hosts=LOOPBACK)
    assert isinstance(err.value, KnowledgeError) and needle in err.value.reason


@pytest.mark.parametrize(
    ("make_url", "needle"),
    [
        (lambda site: site.url("/news/1"), "standard web ports"),  # loopback on its own port
        (lambda site: "http://127.0.0.1/news/1", PRIVATE_REASON),
        (lambda site: "http://localhost/news/1", PRIVATE_REASON),
        (lambda site: "http://[::1]/news/1", PRIVATE_REASON),
        (lambda site: "file:///etc/passwd", "Only http and https"),
    ],
)
def test_internal_addresses_are_refused_without_an_allow_list(site, make_url, needle):
    site.put("/news/1", build_page(load_story("business", 1)).html)
    with pytest.raises(FetchFailed) as err:
        load_url(make_url(site))  # the default: nothing private is allowed
    assert needle in err.value.reason
    assert site.requests == []  # refused before any connection
