"""Fetches a web address taken from a chat message without letting it reach inside the network.

Every hop (the first request and each redirect, followed by hand) is checked before any
connection: http/https only, no user:password, ports 80/443, and the host name is resolved
once with ``socket.getaddrinfo`` and *every* address it gives is checked with ``ipaddress``
(loopback, private, link-local, shared, reserved, multicast, IPv6 forms that embed such an
IPv4 address...). The request then goes to the checked IP itself -- the URL carries the IP,
the Host header and TLS SNI/certificate check carry the name -- so a second DNS answer can
never redirect the connection (no DNS-rebinding window). Bodies are streamed and cut at
``max_bytes``; a total deadline bounds the whole fetch. Failures raise ``FetchFailed`` whose
``reason`` is one sentence for a server admin, never raw exception text.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import httpx

from .errors import FetchFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_ACCEPT = (
    "text/html", "application/xhtml+xml", "text/plain", "application/pdf",
    "application/rss+xml", "application/atom+xml", "application/xml", "text/xml",
)
REDIRECTS = {301, 302, 303, 307, 308}
PRIVATE_REASON = "That address points inside a private network, so it was not fetched."
TIMEOUT_REASON = "The site took too long to answer."


@dataclass(frozen=True)
class FetchedPage:
    url: str  # as asked
    final_url: str  # after redirects
    status: int
    content_type: str  # media type only, lower case, e.g. "text/html"
    charset: str | None
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


# --- addresses --------------------------------------------------------------------------

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
# Old inet_aton spellings browsers and resolvers accept: 2130706433, 0x7f000001, 0177.1 ...
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?$")


def is_public_address(ip: IPAddress) -> bool:
    """True only for a globally routable unicast address, judging embedded IPv4 too."""
    if isinstance(ip, ipaddress.IPv6Address):
        low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.ipv4_mapped is not None:
            return is_public_address(ip.ipv4_mapped)
        if any(ip in net for net in _NAT64):  # NAT64 reaches the IPv4 address it embeds
            return is_public_address(low32)
        if ip in _V4_COMPATIBLE:  # deprecated ::a.b.c.d, and :: / ::1
            return False
        embedded = [ip.sixtofour] if ip.sixtofour else []
        embedded += list(ip.teredo or ())
        if any(not is_public_address(v4) for v4 in embedded):
            return False
        if ip.is_site_local:
            return False
    elif ip in _SHARED:
        return False
    return ip.is_global and not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )


def _literal_ip(host: str) -> IPAddress | None:
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise FetchFailed("That is not a valid web address.") from exc
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError as exc:
            raise FetchFailed("That is not a valid web address.") from exc
    return None


_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="newsbot-dns")


def resolve(host: str, port: int, timeout: float) -> list[IPAddress]:
    """All addresses ``host`` resolves to, in resolver order (one getaddrinfo call)."""

    def lookup() -> list[tuple[int, str]]:  # (family, address)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, str(sockaddr[0])) for family, *_rest, sockaddr in infos]

    try:
        infos = _resolver_pool.submit(lookup).result(timeout=max(timeout, 0.01))
    except FutureTimeout as exc:
        raise FetchFailed(TIMEOUT_REASON) from exc
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise FetchFailed("That site's name could not be found.") from exc
    addresses: list[IPAddress] = []
    for family, address in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
    if not addresses:
        raise FetchFailed("That site's name could not be found.")
    return addresses


# --- one checked hop --------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """A validated request target: the URL as named and the address to connect to."""

    url: httpx.URL
    host: str  # normalized name (IDNA, lower case, no trailing dot) or canonical IP
    port: int
    address: IPAddress
    is_literal: bool


def _normalize_host(name: str) -> str:
    return name.strip().lower().strip("[]").rstrip(".")


def check_url(url: str | httpx.URL, allow_hosts: frozenset[str], timeout: float = 10.0) -> Hop:
    """Validate ``url`` and resolve its host; FetchFailed unless it may be fetched."""
    try:
        parsed = httpx.URL(url)
        raw_host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, TypeError, UnicodeError) as exc:
        raise FetchFailed("That is not a valid web address.") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchFailed("Only http and https addresses are fetched.")
    if parsed.userinfo:
        raise FetchFailed("Addresses with a user name or password are not fetched.")
    host = _normalize_host(raw_host)
    if not host:
        raise FetchFailed("That is not a valid web address.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    allowed = {_normalize_host(h) for h in allow_hosts}
    literal = _literal_ip(host)
    if literal is not None:
        host = str(literal)
    host_allowed = host in allowed
    if port not in (80, 443) and not host_allowed:
        raise FetchFailed(f"Only the standard web ports (80 and 443) are fetched, not port {port}.")
    if literal is not None:
        addresses = [literal]
    elif host == "localhost" or host.endswith(".localhost"):
        addresses = [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: never ask DNS
    else:
        addresses = resolve(host, port, timeout)
    if not host_allowed:
        for ip in addresses:
            if str(ip) not in allowed and not is_public_address(ip):
                raise FetchFailed(PRIVATE_REASON)
    return Hop(parsed, host, port, addresses[0], literal is not None)


def _pinned_request(client: httpx.Client, hop: Hop, headers: dict[str, str], timeout: float) -> httpx.Request:
    default_port = 443 if hop.url.scheme == "https" else 80
    name = f"[{hop.host}]" if ":" in hop.host else hop.host
    headers = {**headers, "Host": name if hop.port == default_port else f"{name}:{hop.port}"}
    extensions = {} if hop.is_literal or hop.url.scheme != "https" else {"sni_hostname": hop.host}
    return client.build_request(
        "GET",
        hop.url.copy_with(host=str(hop.address)),  # connect to the checked IP, nothing else
        headers=headers,
        extensions=extensions,
        timeout=httpx.Timeout(timeout),
    )


def fetch(
    url: str,
    *,
    allow_hosts: frozenset[str] = frozenset(),
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
    user_agent: str = "newsbot/0.1 (+article loader)",
    accept: tuple[str, ...] = DEFAULT_ACCEPT,
    extra_headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> FetchedPage:
    """GET ``url`` safely (see the module docstring). ``transport`` is for tests only."""
    deadline = time.monotonic() + timeout
    ours = {
        "User-Agent": user_agent,
        "Accept": ", ".join(accept) + ", */*;q=0.1",
        "Accept-Encoding": "gzip, deflate",  # no brotli/zstd: keep decompression ratios modest
    }
    reserved = {name.lower() for name in ours} | {"host"}
    extra = {k: v for k, v in (extra_headers or {}).items() if k.lower() not in reserved}
    current, first_host = url, None
    for _hop in range(max_redirects + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchFailed(TIMEOUT_REASON)
        hop = check_url(current, allow_hosts, remaining)
        first_host = first_host or hop.host
        # The caller's headers (cookies, If-None-Match...) never follow a redirect elsewhere.
        headers = {**extra, **ours} if hop.host == first_host else ours
        result = _request(hop, url, headers, transport, accept, max_bytes, deadline)
        if isinstance(result, FetchedPage):
            return result
        current = result
    raise FetchFailed(f"The address redirected more than {max_redirects} times, so it was not followed.")


def _request(
    hop: Hop, asked: str, headers: dict[str, str], transport: httpx.BaseTransport | None,
    accept: tuple[str, ...], max_bytes: int, deadline: float,
) -> FetchedPage | str:
    """One GET to the checked address: the page, or the next URL when it redirects."""
    # A fresh pool per hop: a pooled TLS connection verified for one name must not carry
    # a request for another name that happens to share the IP.
    own = transport or httpx.HTTPTransport(retries=0, trust_env=False)
    client = httpx.Client(transport=own, trust_env=False, follow_redirects=False)
    try:
        request = _pinned_request(client, hop, headers, deadline - time.monotonic())
        response = client.send(request, stream=True)
        try:
            if response.status_code not in REDIRECTS:
                return _read(asked, str(hop.url), response, accept, max_bytes, deadline)
            location = response.headers.get("location")
            if not location:
                raise FetchFailed("The site sent a redirect without saying where to.")
            try:
                return str(hop.url.join(location))  # relative to the name, not the IP
            except httpx.InvalidURL as exc:
                raise FetchFailed("The site redirected to an invalid address.") from exc
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        raise FetchFailed(TIMEOUT_REASON) from exc
    except httpx.HTTPError as exc:
        raise FetchFailed(_network_reason(exc)) from exc
    finally:
        if transport is None:  # an injected transport belongs to the caller
            client.close()


def _network_reason(exc: httpx.HTTPError) -> str:
    text = str(exc)
    if "CERTIFICATE" in text.upper():
        return "The site's security certificate could not be verified."
    if isinstance(exc, httpx.ConnectError):
        return "The site could not be reached."
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
        return "The site sent a broken answer."
    return "The site could not be loaded because of a network problem."


def _read(
    asked: str, final: str, response: httpx.Response, accept: tuple[str, ...],
    max_bytes: int, deadline: float,
) -> FetchedPage:
    status = response.status_code
    if status >= 400:
        raise FetchFailed(f"The site answered with error {status} ({response.reason_phrase or 'no reason given'}).")
    headers = {k.lower(): v for k, v in response.headers.items()}
    media, _, params = headers.get("content-type", "").partition(";")
    media = media.strip().lower()
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    if status == 304:  # a conditional request (If-None-Match) said nothing changed
        return FetchedPage(asked, final, status, media, charset, b"", headers)
    if status >= 300:
        raise FetchFailed(f"The site answered with status {status}, which is not a page.")
    if media not in accept:
        kind = media or "an unnamed type"
        raise FetchFailed(f"The site sent {kind}, which is not a kind of document that is loaded.")
    limit = f"{max_bytes / 1_000_000:g} MB"
    length = headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchFailed(f"The file is larger than the {limit} limit.")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchFailed(f"The file is larger than the {limit} limit.")
        if time.monotonic() > deadline:
            raise FetchFailed(TIMEOUT_REASON)
        chunks.append(chunk)
    return FetchedPage(asked, final, status, media, charset, b"".join(chunks), headers)


async def fetch_async(url: str, **kwargs: Any) -> FetchedPage:  # fetch's own keywords
    """``fetch`` in a worker thread, for the bot's event loop."""
    return await asyncio.to_thread(fetch, url, **kwargs)
