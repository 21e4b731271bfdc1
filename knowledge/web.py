"""Loading an article from a web address: a safe fetch, then extraction by content type.

`load_url` is blocking; the Discord layer runs it with `asyncio.to_thread`. Every failure -- a
refused or unreachable address, a page too big, a page with no article -- raises `FetchFailed`
(a `KnowledgeError`) whose `reason` is one sentence fit to show the person who gave the link.
Dates come from the document (its markup, JSON-LD or PDF metadata), never from the load time.
"""

from __future__ import annotations

from .errors import ExtractionError, FetchFailed, InputError
from .extraction import decode_bytes, extract_html, extract_pdf
from .fetching import FetchedPage, fetch
from .loading import from_extracted, parse_plain
from .models import GLOBAL_SCOPE, Article

HTML_TYPES = ("text/html", "application/xhtml+xml")
ARTICLE_TYPES = (*HTML_TYPES, "text/plain", "application/pdf")


def fetch_page(
    url: str,
    *,
    allow_hosts: frozenset[str] = frozenset(),
    timeout: float = 15.0,
    max_bytes: int = 5_000_000,
    accept: tuple[str, ...] = ARTICLE_TYPES,
    extra_headers: dict[str, str] | None = None,
) -> FetchedPage:
    """`fetching.fetch` (raises `FetchFailed`)."""
    return fetch(url, allow_hosts=allow_hosts, timeout=timeout, max_bytes=max_bytes, accept=accept, extra_headers=extra_headers)


def load_url(
    url: str,
    *,
    scope: str = GLOBAL_SCOPE,
    allow_hosts: frozenset[str] = frozenset(),
    timeout: float = 15.0,
    max_bytes: int = 5_000_000,
) -> Article:
    """Fetch `url` (no private addresses unless their host is in `allow_hosts`) and return the
    article on it, not yet stored: pass it to `KnowledgeBase.ingest`. Its `url` is the page's
    canonical address (else the address after redirects), so the same story keeps one id.
    Raises `FetchFailed`."""
    page = fetch_page(url.strip(), allow_hosts=allow_hosts, timeout=timeout, max_bytes=max_bytes)
    return article_from_page(page, scope=scope)


def article_from_page(page: FetchedPage, *, scope: str = GLOBAL_SCOPE) -> Article:
    """The article in a fetched HTML page, PDF or plain-text file; raises `FetchFailed`."""
    try:
        if page.content_type in HTML_TYPES:
            ext = extract_html(decode_bytes(page.body, page.charset), url=page.final_url)
        elif page.content_type == "application/pdf":
            ext = extract_pdf(page.body)
        elif page.content_type == "text/plain":
            text = decode_bytes(page.body, page.charset)
            return parse_plain(text, origin=page.url, scope=scope, url=page.final_url)
        else:
            raise FetchFailed(f"The site sent {page.content_type or 'an unnamed type'}, which is not an article page.")
        return from_extracted(ext, origin=page.url, scope=scope, url=page.final_url)
    except (ExtractionError, InputError) as exc:
        raise FetchFailed(exc.reason) from exc
