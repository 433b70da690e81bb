"""Fetching the preview card of a link, without letting a posted link reach into our own network.

Whoever can post a message can make the server fetch a URL (server-side request forgery), so:
- only http and https, on their default ports (80 and 443): other ports are where internal
  services listen, and public pages rarely use them;
- the host is resolved here, once, and refused when any of its addresses is not public (private,
  loopback, link-local, multicast, reserved, unspecified, shared, or one of those inside an IPv6
  address: IPv4-mapped, 6to4, NAT64);
- the connection goes to those vetted addresses while the Host header and TLS SNI (and certificate
  check) name the host: a DNS answer that changes between the check and the connection (rebinding)
  changes nothing;
- every redirect (at most LINK_PREVIEW_MAX_REDIRECTS) is a new URL checked the same way;
- one deadline (LINK_PREVIEW_TIMEOUT) covers the whole fetch, DNS look-ups and redirects included,
  enforced by shutting the socket when it passes (a look-up that outlives it is abandoned; its thread
  ends when the system resolver gives up); at most LINK_PREVIEW_MAX_BYTES are read (a bigger page is
  refused, reading stops there); only uncompressed text/html is parsed.
LINK_PREVIEW_ALLOWED_HOSTS ("host:port", for tests) skips the address and port refusals only.
"""

import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
URL_MAX_CHARS = 2048
CHUNK_BYTES = 64 * 1024
USER_AGENT = "Mozilla/5.0 (compatible; ParleyLinkPreview/1.0)"
TITLE_MAX_CHARS, DESCRIPTION_MAX_CHARS, SITE_NAME_MAX_CHARS = 300, 1000, 200


class Refused(Exception):
    """No card for this link; the message says why (for the log, never shown to people)."""


@dataclass(frozen=True)
class Card:
    title: str
    description: str
    image_url: str
    site_name: str


# Links in a message body

_LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\")]}>*_~"
_HOST = re.compile(r"[a-z0-9_.-]+")
# What may stay unquoted in a path and a query (RFC 3986 characters, and % for what is quoted already).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def first_url(body: str) -> str | None:
    """The first http(s) link of a message body, normalized; None when it has none that is well formed."""
    if "://" not in body:  # Most messages: no regular expression at all.
        return None
    for match in _LINK.finditer(body):
        url = normalize(_trim(match.group()))
        if url is not None:
            return url
    return None


def _trim(link: str) -> str:
    # "(see https://x.example/a)." ends the link before ")." but keeps the ")" of .../Foo_(bar).
    while link and link[-1] in _TRAILING:
        if link[-1] == ")" and link.count("(") >= link.count(")"):
            break
        link = link[:-1]
    return link


def normalize(url: str) -> str | None:
    """One spelling per URL (the cache key): scheme and host lower-case, IDNA host, default port and
    fragment dropped, path and query percent-encoded. None for anything but a well-formed http(s) URL
    without credentials.
    """
    if len(url) > URL_MAX_CHARS:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        host = host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or parts.username is not None or not _valid_host(host):
        return None
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path, query = quote(parts.path or "/", safe=_PATH_SAFE), quote(parts.query, safe=_QUERY_SAFE)
    normalized = urlunsplit((scheme, netloc, path, query, ""))
    return normalized if len(normalized) <= URL_MAX_CHARS else None


def _valid_host(host: str) -> bool:
    if ":" in host:
        return _ip(host) is not None
    return bool(host) and _HOST.fullmatch(host) is not None


# Addresses

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # An IPv6 answer may carry a zone ("%eth0").
    except ValueError:
        return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet (not ours, not anyone's private network)."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.is_site_local:
            return False
    refused = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )
    return address.is_global and not refused


def _allowed(host: str, port: int) -> bool:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" in settings.LINK_PREVIEW_ALLOWED_HOSTS


# getaddrinfo cannot be given a timeout: it runs here, and the fetch waits for it only until its deadline.
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="link-preview-dns")


def vetted_addresses(host: str, port: int, *, deadline: float) -> list[str]:
    """The addresses to connect to for host:port, resolved once; Refused when it may not be fetched."""
    allowed = _allowed(host, port)
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = lookup.result(timeout=_left(deadline))
    except FuturesTimeout as error:
        raise Refused(f"resolving {host} took longer than LINK_PREVIEW_TIMEOUT") from error
    except (OSError, UnicodeError) as error:
        raise Refused(f"{host} does not resolve: {error}") from error
    addresses = [_ip(sockaddr[0]) for *_, sockaddr in answers]
    if not addresses or None in addresses:
        raise Refused(f"{host} resolves to no usable address")
    # Every answer is checked, not only the first: a name may mix a public address with a private one.
    if not allowed and not all(is_public(address) for address in addresses):
        raise Refused(f"{host} resolves to a private or reserved address")
    if port not in DEFAULT_PORTS.values() and not allowed:
        raise Refused(f"port {port} is not fetched")
    return list(dict.fromkeys(str(address) for address in addresses))


# Fetching


def fetch(url: str) -> Card:
    """The card of a normalized URL (see the module's rules); Refused when there is none."""
    deadline = time.monotonic() + settings.LINK_PREVIEW_TIMEOUT
    for _ in range(settings.LINK_PREVIEW_MAX_REDIRECTS + 1):
        with _get(url, deadline) as response:
            if response.status in REDIRECTS:
                url = _redirect_target(url, response.getheader("Location"))
                continue
            if response.status != 200:
                raise Refused(f"HTTP {response.status}")
            html = _read_html(response, deadline)
        return parse(html, url=url)
    raise Refused(f"more than {settings.LINK_PREVIEW_MAX_REDIRECTS} redirects")


def _redirect_target(url: str, location: str | None) -> str:
    target = normalize(urljoin(url, location)) if location else None
    if target is None:
        raise Refused("a redirect to no http(s) URL")
    return target


@contextmanager
def _get(url: str, deadline: float):
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    addresses = vetted_addresses(host, port, deadline=deadline)
    opened: list[socket.socket] = []
    connection = _pinned_connection(parts.scheme, host, port, addresses, opened=opened, deadline=deadline)
    # Socket timeouts bound each wait, not their sum (a server can trickle a byte at a time): at the
    # deadline the socket is shut, which ends whatever read is in progress.
    watchdog = threading.Timer(_left(deadline), _shut, args=(opened,))
    watchdog.daemon = True
    watchdog.start()
    response = None
    try:
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        connection.request("GET", path, headers=_HEADERS)
        response = connection.getresponse()
        yield response
    except (OSError, http.client.HTTPException) as error:
        raise Refused(_late(deadline) or f"fetch failed: {error!r}") from error
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        connection.close()
        for sock in opened:
            sock.close()


def _pinned_connection(
    scheme: str, host: str, port: int, addresses: list[str], *, opened: list, deadline: float
) -> http.client.HTTPConnection:
    """An HTTP(S) connection to `host` whose socket goes to the first of `addresses` that answers."""
    if scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(host, port, timeout=_left(deadline), context=context)
    else:
        connection = http.client.HTTPConnection(host, port, timeout=_left(deadline))

    def connect(_where, _timeout, source_address=None):
        error = None
        for address in addresses:  # In the resolver's order, as socket.create_connection would.
            try:
                sock = socket.create_connection((address, port), _left(deadline))
            except OSError as failure:
                error = failure
                continue
            # A second handle on the same socket: http.client drops its own once the answer has no
            # length, and TLS replaces it; this one still reaches the socket when the deadline comes.
            opened.append(sock.dup())
            return sock
        raise error

    # http.client opens its socket through this hook (HTTPS wraps it afterwards, with SNI and the
    # certificate check for `host`): the connection goes to a vetted address, never resolved again.
    connection._create_connection = connect
    return connection


# Uncompressed: the size cap counts the bytes parsed, and no compression bomb can grow past it.
_HEADERS = {"User-Agent": USER_AGENT, "Accept": "text/html", "Accept-Encoding": "identity"}


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise Refused("took longer than LINK_PREVIEW_TIMEOUT")
    return left


def _late(deadline: float) -> str | None:
    return "took longer than LINK_PREVIEW_TIMEOUT" if time.monotonic() >= deadline else None


def _shut(opened: list[socket.socket]) -> None:
    for sock in opened:
        with suppress(OSError):  # Closed already: the fetch ended as the deadline came.
            sock.shutdown(socket.SHUT_RDWR)


def _read_html(response: http.client.HTTPResponse, deadline: float) -> str:
    kind, _, parameters = (response.getheader("Content-Type") or "").partition(";")
    if kind.strip().lower() != "text/html":
        raise Refused(f"not HTML: {kind.strip() or 'no Content-Type'}")
    if (response.getheader("Content-Encoding") or "identity").strip().lower() != "identity":
        raise Refused("a compressed answer to a request for identity")
    limit = settings.LINK_PREVIEW_MAX_BYTES
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(f"{declared} bytes, more than LINK_PREVIEW_MAX_BYTES")
    chunks, size = [], 0
    while chunk := response.read1(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise Refused("more than LINK_PREVIEW_MAX_BYTES")
        chunks.append(chunk)
    # A read cut short by the watchdog looks like the end of the page: the clock says otherwise.
    if late := _late(deadline):
        raise Refused(late)
    return _decoded(b"".join(chunks), parameters)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)


def _decoded(raw: bytes, content_type_parameters: str) -> str:
    charset = None
    for parameter in content_type_parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'")
    if charset is None and (found := _META_CHARSET.search(raw[:4096])):
        charset = found.group(1).decode("ascii")
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


# Parsing

_CARD_KEYS = frozenset(
    {
        "og:title",
        "og:description",
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "og:site_name",
        "twitter:title",
        "twitter:description",
        "twitter:image",
        "twitter:image:src",
        "description",
    }
)


class _HeadParser(HTMLParser):
    """Collects <title> and the card's <meta> tags; done at </head> or <body>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: list[str] = []
        self.in_title = False
        self.done = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.done = True
        elif tag == "title" and not self.done and not self.title:
            self.in_title = True
        elif tag == "meta" and not self.done:
            attributes = dict(attrs)
            key = (attributes.get("property") or attributes.get("name") or "").strip().lower()
            content = attributes.get("content")
            if key in _CARD_KEYS and content and content.strip():
                self.meta.setdefault(key, content)

    def handle_endtag(self, tag):
        if tag == "title":
            self.in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data):
        if self.in_title:
            self.title.append(data)


def parse(html: str, *, url: str) -> Card:
    """The card a page describes: OpenGraph first, then Twitter's tags, then <title> and meta description."""
    parser = _HeadParser()
    for start in range(0, len(html), CHUNK_BYTES):  # Fed in pieces: most pages' heads end early.
        parser.feed(html[start : start + CHUNK_BYTES])
        if parser.done:
            break
    meta = parser.meta
    title = _first(meta, "og:title", "twitter:title") or "".join(parser.title)
    description = _first(meta, "og:description", "twitter:description", "description")
    image = _first(meta, "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
    title, description = _clip(title, TITLE_MAX_CHARS), _clip(description, DESCRIPTION_MAX_CHARS)
    if not title and not description:
        raise Refused("the page has neither a title nor a description")
    site_name = _clip(_first(meta, "og:site_name"), SITE_NAME_MAX_CHARS) or urlsplit(url).hostname
    return Card(title=title, description=description, image_url=image_url(image, page=url), site_name=site_name)


def image_url(image: str, *, page: str) -> str:
    """The card image's absolute http(s) URL, or "" (a javascript: or data: URL, or an address of a
    private network that the readers' browsers would load, is dropped)."""
    url = normalize(urljoin(page, image.strip())) if image else None
    if url is None:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if _public_name(host) or _allowed(host, parts.port or DEFAULT_PORTS[parts.scheme]):
        return url
    return ""


# Names that only resolve inside someone's own network (RFC 6761, 6762, 8375 and common practice).
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet", ".corp")


def _public_name(host: str) -> bool:
    """Whether a readers' browser would look the host up on the public internet. The server never
    fetches the image, so it cannot resolve it: what it can tell from the name alone is judged here."""
    address = _ip(host)
    if address is not None:
        return is_public(address)
    return "." in host and host != "localhost" and not f".{host}".endswith(_LOCAL_SUFFIXES)


def _first(meta: dict[str, str], *keys: str) -> str:
    return next((meta[key] for key in keys if key in meta), "")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
