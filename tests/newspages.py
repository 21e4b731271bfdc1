"""Builds realistic news-site pages around BBC article texts, for the tests and the benchmark.

The BBC corpus (``/work/shared/bench/bbc/<category>/<NNN>.txt``: headline, blank line,
paragraphs) is read at run time and never copied into the repository. Each page wraps the
story's ``<article>`` in the clutter a real news site has: cookie banner, header, navigation,
scripts, related links, comments and a footer, plus the metadata a loader should read
(og:site_name, article:published_time/modified_time, JSON-LD NewsArticle, canonical link).
Every piece of clutter text is recorded in ``NewsPage.boilerplate`` so a caller can check
that none of it leaked into the extracted text.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

BBC_DIR = Path(os.environ.get("NEWSBOT_BBC_DIR", "/work/shared/bench/bbc"))
CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
VARIANTS = 7


@dataclass(frozen=True)
class Story:
    category: str
    number: int
    headline: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class NewsPage:
    story: Story
    html: str
    site: str
    author: str
    published: str  # YYYY-MM-DD
    updated: str  # YYYY-MM-DD
    canonical: str
    boilerplate: tuple[str, ...]


def bbc_available() -> bool:
    return (BBC_DIR / "business" / "001.txt").is_file()


def read_bbc_bytes(category: str, number: int) -> bytes:
    return (BBC_DIR / category / f"{number:03d}.txt").read_bytes()


def load_story(category: str, number: int) -> Story:
    raw = read_bbc_bytes(category, number)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # sport/199.txt is Latin-1
        text = raw.decode("latin-1")
    # A few files carry HTML entities (&#163; for the pound sign): show readers the character.
    lines = [html.unescape(line).strip() for line in text.splitlines()]
    headline = lines[0]
    paragraphs = tuple(line for line in lines[1:] if line)
    return Story(category, number, headline, paragraphs)


_SITES = ("The Daily Ledger", "Northern Courier", "Metro Wire", "Harbour Gazette", "Evening Dispatch")
_AUTHORS = ("Alice Mbeki", "Tom Ferreira", "Priya Natarajan", "Jonas Lindqvist", "Maria Okafor")
_RELATED = (
    "Regional train timetable overhaul confirmed for spring",
    "Ten recipes for a quick weeknight supper",
    "Our columnists pick the gadgets worth buying",
    "Weather warning: gales expected along the coast",
)
_COMMENTS = (
    ("grumpy_reader42", "Absolutely disgraceful, I am cancelling my subscription tomorrow."),
    ("JaneInLeeds", "Great piece, thanks for keeping us informed as always!"),
    ("anon_commenter", "Nobody asked for this, first comment wins a prize I suppose."),
)


def _date_for(story: Story) -> tuple[str, str]:
    # Deterministic, distinct dates within the corpus' 2004-2005 span.
    day = story.number % 27 + 1
    month = story.number % 12 + 1
    published = f"2005-{month:02d}-{day:02d}"
    updated = f"2005-{month:02d}-{day + 1:02d}"
    return published, updated


def build_page(story: Story, variant: int = 0) -> NewsPage:
    """Return a full news page for ``story``; ``variant`` picks one of the layouts: 0 plain,
    1 ad slot + newsletter box, 2 share bar + captioned figure, 3 dates only in JSON-LD,
    4 ticker + most-read list, 5 legacy <br><br> paragraphs, 6 read-more/podcast/tweet
    clutter inside the article body."""
    v = variant % VARIANTS
    site = _SITES[(story.number + v) % len(_SITES)]
    author = _AUTHORS[(story.number + v) % len(_AUTHORS)]
    published, updated = _date_for(story)
    slug = re.sub(r"[^a-z0-9]+", "-", story.headline.lower()).strip("-")[:60]
    host = site.lower().replace(" ", "") + ".example"
    canonical = f"https://www.{host}/news/{story.category}/{story.number}-{slug}"
    e = html.escape
    boiler: list[str] = []

    def clutter(text: str) -> str:
        boiler.append(text)
        return e(text)

    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": story.headline,
        "datePublished": f"{published}T08:15:00+00:00",
        "dateModified": f"{updated}T17:40:00+00:00",
        "author": {"@type": "Person", "name": author},
        "publisher": {"@type": "Organization", "name": site},
        "mainEntityOfPage": canonical,
    }
    meta_dates = (
        ""  # variant 3 carries its dates only in JSON-LD
        if v == 3
        else f'<meta property="article:published_time" content="{published}T08:15:00Z">\n'
        f'<meta property="article:modified_time" content="{updated}T17:40:00Z">\n'
    )
    head = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<title>{e(story.headline)} | {e(site)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{e(story.paragraphs[0][:150])}">
<meta property="og:site_name" content="{e(site)}">
<meta property="og:title" content="{e(story.headline)}">
<meta property="og:type" content="article">
<meta property="og:url" content="{canonical}">
{meta_dates}<meta name="author" content="{e(author)}">
<link rel="canonical" href="{canonical}">
<link rel="stylesheet" href="/static/site.css">
<script type="application/ld+json">{json.dumps(ld)}</script>
<script>window.dataLayer = window.dataLayer || []; function trackPageView(p) {{ dataLayer.push({{event: "pageview", page: p}}); }} trackPageView("{story.category}");</script>
<style>.cookie-consent {{ position: fixed; bottom: 0; }} .ad-slot {{ min-height: 250px; }}</style>
</head>
<body>
"""
    cookie = f"""<div id="cookie-banner" class="cookie-consent" role="dialog">
<p>{clutter("We use cookies to personalise content and ads and to analyse our traffic.")}</p>
<button>{clutter("Accept all cookies")}</button> <a href="/privacy">{clutter("Manage preferences")}</a>
</div>
"""
    ticker = (
        f'<div class="breaking-ticker"><strong>{clutter("Breaking:")}</strong> '
        f'{clutter("Live coverage of the harbour festival continues all weekend")}</div>\n'
        if v == 4
        else ""
    )
    nav_items = ["Home", "UK", "World", "Business", "Politics", "Tech", "Sport", "Culture"]
    nav = "".join(f'<li><a href="/{n.lower()}">{e(n)}</a></li>' for n in nav_items)
    header = f"""<header class="site-header">
<a class="logo" href="/">{e(site)}</a>
<p class="tagline">{clutter("Independent local reporting since 1887")}</p>
<nav class="main-nav" aria-label="Sections"><ul>{nav}</ul></nav>
<form class="search" action="/search"><input name="q" placeholder="Search the archive"><button>Go</button></form>
</header>
"""
    body_parts: list[str] = []
    for i, para in enumerate(story.paragraphs):
        if v == 5:  # a legacy CMS: one block, paragraphs separated by <br><br>
            body_parts.append(e(para) + ("<br><br>" if i < len(story.paragraphs) - 1 else ""))
            continue
        body_parts.append(f"<p>{e(para)}</p>")
        if v == 6 and i == 0:
            body_parts.append(
                f'<p class="read-more"><strong>{clutter("Read more:")}</strong> '
                f'<a href="/news/99">{clutter("Why the markets are nervous this week")}</a></p>'
            )
        if v == 6 and i == 1:
            body_parts.append(
                f'<div class="podcast-promo"><p>{clutter("Listen to The Briefing podcast, wherever you get your podcasts.")}</p></div>'
            )
        if v == 6 and i == 2:
            body_parts.append(
                f'<blockquote class="twitter-tweet"><p>{clutter("Cannot believe this news, what a day #breaking")}</p>'
                f"&mdash; {clutter('@someone_online')}</blockquote>"
            )
        if v == 1 and i == 0:
            body_parts.append(
                f'<div class="ad-slot"><span class="ad-label">{clutter("Advertisement")}</span></div>'
            )
        if v == 1 and i == 1:
            body_parts.append(
                f'<aside class="newsletter-signup"><h3>{clutter("Get the morning briefing")}</h3>'
                f"<p>{clutter('Sign up to our free newsletter for the top stories every day.')}</p>"
                '<form><input type="email" placeholder="Email address"><button>Subscribe</button></form></aside>'
            )
        if v == 2 and i == 0:
            body_parts.append(
                f'<figure class="lead-image"><img src="/img/{story.number}.jpg" alt="">'
                f"<figcaption>{clutter('Photograph: agency picture desk')}</figcaption></figure>"
            )
    share = (
        f'<div class="share-bar"><a href="#">{clutter("Share on Facebook")}</a> '
        f'<a href="#">{clutter("Share on Twitter")}</a> <a href="#">{clutter("Email this story")}</a></div>'
        if v == 2
        else ""
    )
    story_header = (
        f'<h1>{e(story.headline)}</h1>\n<p class="byline">By {e(author)}, {published}</p>'
        if v == 5
        else f"""<header class="story-header">
<p class="kicker"><a href="/{story.category}">{e(story.category.title())}</a></p>
<h1 class="headline">{e(story.headline)}</h1>
<p class="byline">By <span class="author">{e(author)}</span></p>
<time datetime="{published}T08:15:00Z">{published}</time>
</header>"""
    )
    article = f"""<main id="content">
<article class="story">
{story_header}
{share}
<div class="article-body">
{chr(10).join(body_parts)}
</div>
</article>
"""
    related = "".join(
        f'<li><a href="/news/{k}">{clutter(t)}</a></li>' for k, t in enumerate(_RELATED)
    )
    aside = f"""<aside class="related-stories">
<h2>{clutter("More on this story")}</h2>
<ul>{related}</ul>
</aside>
"""
    if v == 4:
        aside += f'<aside class="most-read"><h2>{clutter("Most read")}</h2><ol><li><a href="/m/1">{clutter("Council tax bills to rise again")}</a></li><li><a href="/m/2">{clutter("Puzzle answers for the weekend")}</a></li></ol></aside>\n'
    comments = "".join(
        f'<div class="comment"><p class="comment-author">{clutter(who)}</p><p class="comment-text">{clutter(what)}</p></div>'
        for who, what in _COMMENTS
    )
    comments_html = f"""<section id="comments" class="comments">
<h2>{clutter("Reader comments")}</h2>
{comments}
</section>
</main>
"""
    footer = f"""<footer class="site-footer">
<p>{clutter(f"Copyright 2005 {site}. All rights reserved.")}</p>
<ul><li><a href="/contact">{clutter("Contact us")}</a></li><li><a href="/privacy">{clutter("Privacy policy")}</a></li><li><a href="/terms">{clutter("Terms of use")}</a></li></ul>
</footer>
<script src="/static/app.js" async></script>
<script>document.querySelector("#cookie-banner button").onclick = function () {{ this.parentNode.remove(); }};</script>
</body>
</html>
"""
    page = head + cookie + ticker + header + article + aside + comments_html + footer
    return NewsPage(story, page, site, author, published, updated, canonical, tuple(boiler))


def empty_page() -> str:
    """A page with navigation and footer but no article text at all."""
    return """<!DOCTYPE html><html><head><title>Section index | Metro Wire</title></head>
<body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li></ul></nav></header>
<main><h1>Sport</h1><ul><li><a href="/a/1">Cup draw made</a></li><li><a href="/a/2">Late winner</a></li></ul></main>
<footer><p>Copyright 2005 Metro Wire.</p></footer></body></html>"""
