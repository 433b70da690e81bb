"""The link-preview fetcher against a real local web server, and what it refuses to reach."""

import ipaddress
import socket
import time

import pytest

from chat import link_previews
from chat.link_previews import Refused, fetch, first_url, normalize
from tests.chat.web import Site, card_page, page, redirect, silent, slow, tls_server_context

# Reading links


@pytest.mark.parametrize(
    ("body", "url"),
    [
        ("look https://Example.COM/a?b=1#top please", "https://example.com/a?b=1"),
        ("(see http://example.com/page).", "http://example.com/page"),
        ("https://en.wikipedia.org/wiki/Foo_(bar), yes", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("http://example.com:80 and https://example.com:443/x", "http://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("http://user:secret@example.com/ then https://example.org/", "https://example.org/"),
        ("javascript:alert(1) or ftp://example.com/", None),
        ("no link here", None),
        ("https://[::1]:8000/x", "https://[::1]:8000/x"),
    ],
)
def test_the_first_well_formed_http_link_of_a_body_is_taken_normalized(body, url):
    assert first_url(body) == url


def test_a_url_longer_than_2048_characters_is_no_link():
    assert normalize("https://example.com/" + "a" * 2048) is None


# Reading pages


def test_a_page_s_opengraph_card_is_read(site):
    site.routes["/article"] = page(card_page(title="Fish &amp; chips", image="/img/card.png"))
    card = fetch(site.url("/article"))
    assert card.title == "Fish & chips"
    assert card.description == "What the page is about"
    assert card.image_url == site.url("/img/card.png")
    assert card.site_name == "Example"


def test_without_opengraph_twitter_tags_then_title_and_meta_description_are_read(site):
    site.routes["/twitter"] = page(
        '<head><meta name="twitter:title" content="Tweet title"><meta name="twitter:image" content="https://cdn.example/x.png">'
        '<meta name="description" content="Plain description"><title>Page title</title></head>'
    )
    site.routes["/plain"] = page("<html><head><title>\n  Just a   title </title></head><body><title>no</title></body>")
    twitter = fetch(site.url("/twitter"))
    assert (twitter.title, twitter.description, twitter.image_url) == (
        "Tweet title",
        "Plain description",
        "https://cdn.example/x.png",
    )
    plain = fetch(site.url("/plain"))
    assert (plain.title, plain.description, plain.image_url, plain.site_name) == ("Just a title", "", "", "127.0.0.1")


def test_the_charset_of_the_page_is_respected(site):
    site.routes["/header"] = page(
        "<title>Café</title>", content_type="text/html; charset=iso-8859-1", encoding="latin-1"
    )
    site.routes["/meta"] = page(
        '<meta charset="windows-1252"><title>Café</title>', content_type="text/html", encoding="cp1252"
    )
    assert fetch(site.url("/header")).title == fetch(site.url("/meta")).title == "Café"


@pytest.mark.parametrize(
    "image",
    [
        "javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "http://10.0.0.1/x.png",
        "http://[::1]/x.png",
        "http://192.168.1.1/x.png",
        "http://router/x.png",
        "http://localhost/x.png",
        "http://printer.local/x.png",
        "http://db.internal/x.png",
        "http://admin.localhost/x.png",
        "http://nas.home.arpa/x.png",
    ],
)
def test_an_image_that_is_not_a_public_http_url_is_dropped(site, image):
    site.routes["/p"] = page(card_page(image=image))
    card = fetch(site.url("/p"))
    assert card.title == "A title" and card.image_url == ""


def test_a_page_without_title_or_description_has_no_card(site):
    site.routes["/bare"] = page("<html><body>only text</body></html>")
    with pytest.raises(Refused, match="neither a title"):
        fetch(site.url("/bare"))


@pytest.mark.parametrize("content_type", ["application/json", "image/png", "text/plain", ""])
def test_anything_but_html_is_not_parsed(site, content_type):
    site.routes["/data"] = page(card_page(), content_type=content_type)
    with pytest.raises(Refused, match="not HTML"):
        fetch(site.url("/data"))
    assert site.paths() == ["/data"]


def test_an_error_status_has_no_card(site):
    with pytest.raises(Refused, match="HTTP 404"):
        fetch(site.url("/nowhere"))


# Limits


def test_a_page_bigger_than_the_size_cap_is_refused(site, settings):
    settings.LINK_PREVIEW_MAX_BYTES = 10_000
    site.routes["/fits"] = page(card_page() + " " * (9_000 - len(card_page())))
    site.routes["/big"] = page(card_page() + " " * 10_000)
    assert fetch(site.url("/fits")).title == "A title"
    with pytest.raises(Refused, match="LINK_PREVIEW_MAX_BYTES"):
        fetch(site.url("/big"))


def test_reading_an_endless_page_stops_at_the_size_cap(site, settings):
    settings.LINK_PREVIEW_MAX_BYTES = 100_000
    # No Content-Length to refuse it by: 10 MB arrive 10 KB at a time unless the fetcher hangs up.
    site.routes["/endless"] = slow(first=card_page().encode(), each=0, steps=1_000, rest=b" " * 10_000)
    with pytest.raises(Refused, match="LINK_PREVIEW_MAX_BYTES"):
        fetch(site.url("/endless"))
    assert site.cut_off.wait(10), "the server was allowed to send the whole page"


def test_a_server_that_trickles_its_page_runs_into_the_deadline(site, settings):
    # Each byte comes well within any socket timeout; only the deadline of the whole fetch stops it.
    settings.LINK_PREVIEW_TIMEOUT = 0.5
    site.routes["/trickle"] = slow(first=b"<html><head><title>Slow</title>", each=0.05, steps=60)
    with pytest.raises(Refused, match="LINK_PREVIEW_TIMEOUT"):
        fetch(site.url("/trickle"))


def test_a_server_that_does_not_answer_runs_into_the_deadline(site, settings):
    settings.LINK_PREVIEW_TIMEOUT = 0.5
    site.routes["/silent"] = silent(3)
    with pytest.raises(Refused, match="LINK_PREVIEW_TIMEOUT"):
        fetch(site.url("/silent"))


def test_a_name_whose_look_up_hangs_runs_into_the_deadline(settings, monkeypatch):
    settings.LINK_PREVIEW_TIMEOUT = 0.3
    real = socket.getaddrinfo

    def hanging(host, port, *args, **kwargs):
        if host == "slow-dns.example":
            time.sleep(2)  # A resolver that waits on a server that does not answer.
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    with pytest.raises(Refused, match="resolving slow-dns.example took longer"):
        fetch("http://slow-dns.example/")


def test_three_redirects_are_followed_and_a_fourth_is_refused(site):
    site.routes |= {"/r0": redirect("/r1"), "/r1": redirect("/r2", status=301), "/r2": redirect(site.url("/r3"))}
    site.routes |= {"/r3": redirect("/page", status=307), "/page": page(card_page())}
    assert fetch(site.url("/r1")).title == "A title"
    assert site.paths() == ["/r1", "/r2", "/r3", "/page"]
    with pytest.raises(Refused, match="more than 3 redirects"):
        fetch(site.url("/r0"))
    assert site.paths()[4:] == ["/r0", "/r1", "/r2", "/r3"]


def test_a_redirect_to_no_http_url_is_refused(site):
    site.routes["/js"] = redirect("javascript:alert(1)")
    with pytest.raises(Refused, match="no http"):
        fetch(site.url("/js"))


# Addresses refused


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.9.9.9",
        "169.254.169.254",
        "10.0.0.1",
        "10.255.255.254",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "2130706433",  # 127.0.0.1 spelt as one number
        "[::1]",
        "[::]",
        "[fc00::1]",
        "[fd12:3456::1]",
        "[fe80::1]",
        "[ff02::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[::ffff:10.0.0.1]",
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(host):
    with pytest.raises(Refused, match="private or reserved"):
        fetch(f"http://{host}/latest/meta-data/")


def test_public_addresses_pass_the_address_check():
    for address in ("93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:8.8.8.8"):
        assert link_previews.is_public(ipaddress.ip_address(address)), address


def test_a_server_on_a_private_address_is_not_contacted_unless_allow_listed(unlisted_site):
    with pytest.raises(Refused, match="private or reserved"):
        fetch(unlisted_site.url("/"))
    assert unlisted_site.requests == []


def test_a_name_that_resolves_to_a_loopback_address_is_refused(site):
    site.routes["/"] = page(card_page())
    # The allow-list names 127.0.0.1:port; "localhost" reaches the same server through DNS.
    with pytest.raises(Refused, match="private or reserved"):
        fetch(f"http://localhost:{site.port}/")
    assert site.requests == []


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]/"])
def test_a_redirect_from_an_allowed_server_to_a_private_address_is_refused(site, target):
    site.routes["/go"] = redirect(target)
    with pytest.raises(Refused, match="private or reserved"):
        fetch(site.url("/go"))


def test_a_redirect_to_an_unlisted_local_server_never_reaches_it(site, unlisted_site):
    site.routes["/go"] = redirect(unlisted_site.url("/"))
    site.routes["/by-name"] = redirect(f"http://localhost:{site.port}/")
    for path in ("/go", "/by-name"):
        with pytest.raises(Refused, match="private or reserved"):
            fetch(site.url(path))
    assert unlisted_site.requests == [] and site.paths() == ["/go", "/by-name"]


def test_only_the_default_ports_are_fetched_from_public_addresses():
    with pytest.raises(Refused, match="port 8080"):
        fetch("http://93.184.216.34:8080/")


def test_the_vetted_address_is_the_one_connected_to_and_the_host_is_named_in_the_request(site, settings, monkeypatch):
    # A name that would resolve elsewhere the second time (DNS rebinding): it is resolved only once.
    answers = iter(["127.0.0.1", "169.254.169.254"])
    lookups = []
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host != "pinned.example":
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"pinned.example:{site.port}"]
    site.routes["/"] = page(card_page())
    assert fetch(f"http://pinned.example:{site.port}/").title == "A title"
    assert lookups == ["pinned.example"]
    assert site.requests == [("/", f"pinned.example:{site.port}")]


def test_a_refused_answer_is_for_every_address_of_a_name(monkeypatch):
    # One public and one private answer: refused, whichever would have been tried first.
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(Refused, match="private or reserved"):
        fetch("http://mixed.example/")


@pytest.fixture
def resolve_to_loopback(monkeypatch):
    """resolve_to_loopback(name): DNS answers 127.0.0.1 for that name (there is no DNS server to configure here)."""
    real = socket.getaddrinfo

    def pin(name):
        def resolve(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

        monkeypatch.setattr(socket, "getaddrinfo", resolve)

    return pin


@pytest.mark.parametrize(("certified", "fetched"), [("secure.example", True), ("other.example", False)])
def test_https_names_the_host_in_sni_and_checks_its_certificate_while_connecting_to_the_vetted_address(
    tmp_path, settings, monkeypatch, resolve_to_loopback, certified, fetched
):
    site = Site(tls=tls_server_context(tmp_path, ca_name="Test CA", server_name=certified))
    try:
        site.routes["/"] = page(card_page(title="Over TLS"))
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # OpenSSL's trust store, read per context
        resolve_to_loopback("secure.example")
        settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"secure.example:{site.port}"]
        if fetched:
            assert fetch(f"https://secure.example:{site.port}/").title == "Over TLS"
            assert site.requests == [("/", f"secure.example:{site.port}")]
        else:
            with pytest.raises(Refused, match="CERTIFICATE_VERIFY_FAILED"):
                fetch(f"https://secure.example:{site.port}/")
            assert site.requests == []
        assert site.server_names == ["secure.example"]
    finally:
        site.stop()


def test_when_the_first_vetted_address_refuses_the_next_one_is_tried(site, settings, monkeypatch):
    # 127.0.0.2 is loopback too, but the site listens on 127.0.0.1 only: the first connection is refused.
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in ("127.0.0.2", "127.0.0.1")]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.LINK_PREVIEW_ALLOWED_HOSTS = [f"two.example:{site.port}"]
    site.routes["/"] = page(card_page())
    assert fetch(f"http://two.example:{site.port}/").title == "A title"
    assert site.requests == [("/", f"two.example:{site.port}")]
