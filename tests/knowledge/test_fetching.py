"""The fetcher against a real HTTP server on 127.0.0.1, and its address checks with no network."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from knowledge import fetching
from knowledge.extraction import decode_bytes, extract_html
from knowledge.fetching import PRIVATE_REASON, TIMEOUT_REASON, FetchFailed, fetch, fetch_async
from tests.newspages import bbc_available, build_page, load_story

_real_getaddrinfo = socket.getaddrinfo
HUGE = 50_000_000


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # close-delimited bodies: the simplest honest streaming
    stats: dict = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, ctype: str, body: bytes, extra: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(OSError):  # the client gave up first (timeout tests)
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = urlparse(self.path)
        query = parse_qs(path.query)
        if path.path.startswith("/article/"):
            _, _, category, number = path.path.split("/")
            page = build_page(load_story(category, int(number)))
            self._send(200, "text/html; charset=utf-8", page.html.encode(), {"ETag": '"v1"'})
        elif path.path == "/host":
            self._send(200, "text/plain", self.headers.get("Host", "").encode())
        elif path.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query["to"][0])
            self.end_headers()
        elif path.path == "/loop":
            n = int(query.get("n", ["0"])[0])
            self.send_response(302)
            self.send_header("Location", f"/loop?n={n + 1}")
            self.end_headers()
        elif path.path == "/png":
            self._send(200, "image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
        elif path.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(HUGE))
            self.end_headers()
            self.wfile.write(b"<html>")
        elif path.path == "/huge":
            self._stream_huge()
        elif path.path == "/slow":
            time.sleep(8)  # far past the 1 s timeout, so a bound below 8 s proves the cut
            self._send(200, "text/html", b"<html>late</html>")
        elif path.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(50):  # bounded: at most ~10 s
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        else:
            self._send(404, "text/html", b"<html>not here</html>")

    def _stream_huge(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        sent = 0
        chunk = b"<p>" + b"a" * 65_529 + b"</p>"
        try:
            while sent < HUGE:
                self.wfile.write(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            self.stats["huge_sent"] = sent
            self.stats["huge_done"].set()


@pytest.fixture(scope="module")
def server():
    _Handler.stats = {"huge_done": threading.Event()}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.server_address[1], _Handler.stats
    httpd.shutdown()
    httpd.server_close()


LOOPBACK = frozenset({"127.0.0.1"})
needs_bbc = pytest.mark.skipif(not bbc_available(), reason="BBC corpus folder is missing")


def _fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Make ``socket.getaddrinfo`` answer names in ``answers`` (one address list per call,
    the last one repeating); other names go to the real resolver. Returns the call log."""
    calls: list[str] = []

    def fake(host, port, *args, **kwargs):
        calls.append(host)
        if host in answers:
            queue = answers[host]
            ip = queue.pop(0) if len(queue) > 1 else queue[0]
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (ip, port))]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return calls


@pytest.mark.server
@needs_bbc
def test_good_page_is_fetched_and_extracted(server):
    base, _, _ = server
    page = fetch(f"{base}/article/business/1", allow_hosts=LOOPBACK)
    assert page.status == 200 and page.content_type == "text/html" and page.charset == "utf-8"
    assert page.etag == '"v1"' and page.final_url == page.url
    story = load_story("business", 1)
    article = extract_html(decode_bytes(page.body, page.charset), page.final_url)
    expected = build_page(story)
    assert article.text.split("\n\n") == list(story.paragraphs)
    assert not [b for b in expected.boilerplate if b in article.text]
    assert article.title == story.headline
    assert (article.published, article.updated) == (expected.published, expected.updated)
    assert article.source == expected.site and article.url == expected.canonical


@pytest.mark.server
async def test_async_wrapper(server):
    base, _, _ = server
    page = await fetch_async(f"{base}/host", allow_hosts=LOOPBACK)
    assert page.body.decode() == base.removeprefix("http://")


@pytest.mark.server
def test_not_found_names_the_status(server):
    base, _, _ = server
    with pytest.raises(FetchFailed) as err:
        fetch(f"{base}/nothing-here", allow_hosts=LOOPBACK)
    assert "404" in err.value.reason


@pytest.mark.server
def test_huge_body_is_cut_while_streaming(server):
    base, _, stats = server
    with pytest.raises(FetchFailed) as err:
        fetch(f"{base}/huge", allow_hosts=LOOPBACK)
    assert "larger than the 5 MB limit" in err.value.reason
    assert stats["huge_done"].wait(10)
    assert stats["huge_sent"] < 20_000_000  # the server was stopped long before 50 MB


@pytest.mark.server
def test_declared_length_over_cap_is_refused_up_front(server):
    base, _, _ = server
    with pytest.raises(FetchFailed, match="larger than the 1 MB limit"):
        fetch(f"{base}/declared-huge", allow_hosts=LOOPBACK, max_bytes=1_000_000)


@pytest.mark.server
def test_wrong_content_type_is_refused(server):
    base, _, _ = server
    with pytest.raises(FetchFailed, match="image/png"):
        fetch(f"{base}/png", allow_hosts=LOOPBACK)


@pytest.mark.server
@pytest.mark.parametrize("path", ["/slow", "/drip"])
def test_slow_server_times_out(server, path):
    base, _, _ = server
    start = time.monotonic()
    with pytest.raises(FetchFailed) as err:
        fetch(f"{base}{path}", allow_hosts=LOOPBACK, timeout=1.0)
    assert err.value.reason == TIMEOUT_REASON
    assert time.monotonic() - start < 6  # /slow answers after 8 s, /drip runs ~10 s


@pytest.mark.server
@pytest.mark.parametrize("target", ["http://127.0.0.1/host", "http://169.254.169.254/latest/meta-data/"])
def test_redirect_into_private_network_is_refused(server, monkeypatch, target):
    """The first hop is allowed by name only; the redirect target is not, so it is refused."""
    _, port, _ = server
    _fake_dns(monkeypatch, {"news.test": ["127.0.0.1"]})
    url = f"http://news.test:{port}/redirect?to={target}"
    with pytest.raises(FetchFailed) as err:
        fetch(url, allow_hosts=frozenset({"news.test"}))
    assert err.value.reason == PRIVATE_REASON


@pytest.mark.server
def test_redirects_are_followed_and_counted(server):
    base, _, _ = server
    page = fetch(f"{base}/redirect?to=/host", allow_hosts=LOOPBACK)
    assert page.final_url == f"{base}/host" and page.url == f"{base}/redirect?to=/host"
    with pytest.raises(FetchFailed, match="more than 3 times"):
        fetch(f"{base}/loop", allow_hosts=LOOPBACK, max_redirects=3)


@pytest.mark.server
def test_real_connection_goes_to_the_checked_address(server, monkeypatch):
    """The name is resolved once by the fetcher; httpx only ever sees the IP, so a second,
    different DNS answer (127.0.0.2, where nothing listens) is never used."""
    _, port, _ = server
    calls = _fake_dns(monkeypatch, {"rebind.test": ["127.0.0.1", "127.0.0.2"]})
    page = fetch(f"http://rebind.test:{port}/host", allow_hosts=frozenset({"rebind.test"}))
    assert page.body.decode() == f"rebind.test:{port}"  # Host header kept the name
    assert calls.count("rebind.test") == 1
    assert set(calls) - {"rebind.test"} <= {"127.0.0.1"}  # httpcore's own lookups: the IP


def _make_certificates(folder) -> tuple[str, str, str]:
    """A throwaway CA and a certificate for ``news.test`` only, made with the openssl CLI."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=newsbot test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=news.test")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:news.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return str(folder / "ca.pem"), str(folder / "leaf.pem"), str(folder / "leaf.key")


@pytest.mark.server
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_checks_the_certificate_for_the_name_not_the_ip(tmp_path, monkeypatch):
    ca, cert, key = _make_certificates(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    try:
        _fake_dns(monkeypatch, {"news.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        trusting = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=ca), retries=0)
        allow = frozenset({"news.test", "other.test"})
        page = fetch(f"https://news.test:{port}/host", allow_hosts=allow, transport=trusting)
        assert page.body.decode() == f"news.test:{port}"  # connected to 127.0.0.1, cert for the name
        with pytest.raises(FetchFailed) as err:  # same IP, but the certificate is not for this name
            fetch(f"https://other.test:{port}/host", allow_hosts=allow, transport=trusting)
        assert err.value.reason == "The site's security certificate could not be verified."
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- no connection at all: mocked transport and DNS --------------------------------------


class _Recorder(httpx.BaseTransport):
    """Stands in for the network: records what would be connected to and answers."""

    def __init__(self, answer=None):
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda request: httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>hi</p>"))

    def handle_request(self, request):
        self.requests.append(request)
        return self.answer(request)


def test_rebinding_cannot_move_the_connection(monkeypatch):
    calls = _fake_dns(monkeypatch, {"rebind.example": ["93.184.216.34", "127.0.0.1"]})

    def answer(request):
        if request.url.path == "/":
            return httpx.Response(302, headers={"Location": "/next"})
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"secret")

    transport = _Recorder(answer)
    with pytest.raises(FetchFailed) as err:
        fetch("https://rebind.example/", transport=transport)
    assert err.value.reason == PRIVATE_REASON
    assert calls == ["rebind.example", "rebind.example"]  # once per hop, re-resolved
    [request] = transport.requests  # the second hop never reached the transport
    assert request.url.host == "93.184.216.34" and request.url.scheme == "https"
    assert request.headers["Host"] == "rebind.example"
    assert request.extensions["sni_hostname"] == "rebind.example"


def test_empty_allow_list_refuses_redirect_to_loopback(monkeypatch):
    _fake_dns(monkeypatch, {"news.example": ["93.184.216.34"]})
    transport = _Recorder(lambda r: httpx.Response(301, headers={"Location": "http://127.0.0.1/admin"}))
    with pytest.raises(FetchFailed, match="private network"):
        fetch("http://news.example/story", transport=transport)
    assert len(transport.requests) == 1


def test_extra_headers_stay_with_the_first_host(monkeypatch):
    _fake_dns(monkeypatch, {"a.example": ["93.184.216.34"], "b.example": ["93.184.216.35"]})

    def answer(request):
        if request.headers["Host"] == "a.example":
            return httpx.Response(302, headers={"Location": "https://b.example/"})
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>ok</p>")

    transport = _Recorder(answer)
    extra = {"Cookie": "session=1", "host": "evil.example", "If-None-Match": '"v1"'}
    page = fetch("https://a.example/", transport=transport, extra_headers=extra)
    first, second = transport.requests
    assert first.headers["Cookie"] == "session=1" and first.headers.get_list("Host") == ["a.example"]
    assert "Cookie" not in second.headers and second.headers["Host"] == "b.example"
    assert second.url.host == "93.184.216.35" and page.final_url == "https://b.example/"


def test_every_resolved_address_is_checked(monkeypatch):
    def fake(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    transport = _Recorder()
    with pytest.raises(FetchFailed, match="private network"):
        fetch("http://mixed.example/", transport=transport)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "Only http and https"),
        ("ftp://example.com/file.txt", "Only http and https"),
        ("http://user:pw@example.com/", "user name or password"),
        ("http://[::ffff:127.0.0.1]/", "private network"),
        ("http://0x7f000001/", "private network"),
        ("http://2130706433/", "private network"),
        ("http://localhost/", "private network"),
        ("http://169.254.169.254/latest/meta-data/", "private network"),
        ("http://[::1]/", "private network"),
        ("http://example.com:8080/", "ports (80 and 443)"),
        ("not a url at all", "Only http and https"),
    ],
)
def test_refused_before_any_connection(monkeypatch, url, reason):
    def no_dns(*args, **kwargs):
        raise AssertionError("nothing should be resolved")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    transport = _Recorder()
    with pytest.raises(FetchFailed) as err:
        fetch(url, transport=transport)
    assert reason in err.value.reason
    assert transport.requests == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True), ("2606:4700::1111", True), ("::ffff:93.184.216.34", True),
        ("64:ff9b::5db8:d822", True),  # NAT64 of a public address
        ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("240.0.0.1", False), ("255.255.255.255", False), ("::1", False), ("::", False),
        ("fe80::1", False), ("fc00::1", False), ("fec0::1", False), ("ff02::1", False),
        ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("::127.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:c0a8:0101::1", False),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo
    ],
)
def test_address_classification(address, public):
    assert fetching.is_public_address(ipaddress.ip_address(address)) is public
