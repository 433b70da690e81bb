"""A real local web server for the link-preview fetcher: pages, redirects, slow and endless answers.

It listens on 127.0.0.1, which the fetcher refuses; the `site` fixture (tests/chat/conftest.py)
puts its host:port on LINK_PREVIEW_ALLOWED_HOSTS, as the setting is meant to be used.
"""

import datetime
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def page(html: str, *, content_type: str = "text/html; charset=utf-8", status: int = 200, encoding="utf-8") -> Callable:
    def answer(request: BaseHTTPRequestHandler) -> None:
        body = html.encode(encoding)
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return answer


def card_page(title: str = "A title", description: str = "What the page is about", image: str = "/card.png") -> str:
    return (
        f'<html><head><meta property="og:title" content="{title}">'
        f'<meta property="og:description" content="{description}">'
        f'<meta property="og:image" content="{image}"><meta property="og:site_name" content="Example">'
        "<title>not this one</title></head><body><p>text</p></body></html>"
    )


def redirect(location: str, *, status: int = 302) -> Callable:
    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Location", location)
        request.send_header("Content-Length", "0")
        request.end_headers()

    return answer


def slow(*, first: bytes, each: float, steps: int, rest: bytes = b" ") -> Callable:
    """HTML whose body trickles: `first`, then one `rest` every `each` seconds, `steps` times (no length)."""

    def answer(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html")
        request.end_headers()
        request.wfile.write(first)
        request.wfile.flush()
        for _ in range(steps):
            time.sleep(each)
            request.wfile.write(rest)
            request.wfile.flush()

    return answer


def silent(seconds: float) -> Callable:
    """Says nothing at all for `seconds`, then a page."""

    def answer(request: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        page(card_page())(request)

    return answer


class Site:
    """Serves `routes` ({path: answer}); records each request's path and Host header, and whether an
    answer ended because the client went away (an endless page stopped by the fetcher)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None):
        self.routes: dict[str, Callable] = {}
        self.requests: list[tuple[str, str]] = []
        self.cut_off = threading.Event()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.requests.append((self.path, self.headers.get("Host", "")))
                answer = site.routes.get(self.path, page("<title>missing</title>", status=404))
                try:
                    answer(self)
                except OSError:  # Broken pipe, reset: the fetcher hung up.
                    site.cut_off.set()
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server_names: list[str | None] = []  # What TLS clients named in SNI.
        if tls is not None:
            tls.sni_callback = lambda _connection, name, _context: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tls_server_context(folder: Path, *, ca_name: str, server_name: str) -> ssl.SSLContext:
    """A TLS server context with a certificate for `server_name`, signed by a fresh CA written to
    `folder / "ca.pem"` (what a client must trust: SSL_CERT_FILE)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca = (
        _certificate(ca_subject, ca_subject, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)])
    certificate = (
        _certificate(subject, ca_subject, key.public_key(), now)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(server_name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem")
    return context


def _certificate(subject, issuer, public_key, now) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
    )
