"""A small news site on 127.0.0.1 whose pages a test sets and changes while it runs.

``Site.put(path, body, ...)`` publishes a page; every request is recorded (path and headers) so a
test can check what was fetched and with which conditional headers. A page given an ETag is
answered with 304 when the request's If-None-Match matches it, as real servers do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import html
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = frozenset({"127.0.0.1"})


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str = ""


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def put(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8", *, status: int = 200, etag: str = "") -> str:
        """Publish `body` at `path`; returns its full URL."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route(data, content_type, status, etag)
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of every request made for `path`, in order."""
        return [headers for p, headers in self.requests if p == path]


def _handler(site: Site):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 (http.server's naming)
            headers = {k.lower(): v for k, v in self.headers.items()}
            site.requests.append((self.path, headers))
            route = site.routes.get(self.path)
            if route is None:
                route = Route(b"<html><body>not here</body></html>", status=404)
            if route.etag and headers.get("if-none-match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(route.body)))
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(route.body)

    return Handler


@contextlib.contextmanager
def serve_site():
    site = Site()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()


def rss(title: str, items: list[tuple[str, str, str]]) -> str:
    """An RSS 2.0 document; items are (title, link, published YYYY-MM-DD), newest first."""
    e = html.escape

    def rfc822(day: str) -> str:
        return email.utils.format_datetime(dt.datetime.fromisoformat(day).replace(hour=9, tzinfo=dt.timezone.utc))

    entries = "".join(
        f"<item><title>{e(t)}</title><link>{e(link)}</link><guid>{e(link)}</guid><pubDate>{rfc822(day)}</pubDate></item>"
        for t, link, day in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>{e(title)}</title>'
            f"<link>http://example.invalid/</link><description>news</description>{entries}</channel></rss>")
