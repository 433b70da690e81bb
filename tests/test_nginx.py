"""The shipped nginx configuration (deploy/nginx/) in front of two daphne processes, end to end.

Debian's nginx runs unprivileged-style from a temporary prefix (its own pid, logs and temp paths),
with the shipped site file templated only for ports, paths and a throwaway certificate. Through it:
the HTTP-to-HTTPS redirect, a static file, an API login and call, and a WebSocket conversation
between two people whose sockets nginx puts on different daphne processes.
"""

import asyncio
import getpass
import os
import re
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from websockets.asyncio.client import connect

from tests.chat.live import WAIT, Client, daphne_pair, session_cookie
from tests.conftest import PASSWORD, ROOT, free_port
from tests.rooms.factories import group_room

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    # The certificate is a throwaway self-signed one.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

NGINX = Path("/usr/sbin/nginx")
DEPLOY = ROOT / "deploy" / "nginx"
HOST = "chat.example.com"


def require_nginx() -> None:
    if NGINX.exists():
        return
    message = "nginx is not installed at /usr/sbin/nginx (make test installs it as root)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but {message}.")
    pytest.skip(message)


def substitute(text: str, pattern: str, replacement: str) -> str:
    """re.sub that fails when the shipped file no longer has what the test templates."""
    result, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert count, f"deploy/nginx/parley.conf no longer matches {pattern!r}"
    return result


def site_config(*, daphne_ports: list[int], http_port: int, https_port: int, root: Path) -> str:
    text = (DEPLOY / "parley.conf").read_text()
    servers = "\n".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in daphne_ports)
    text = substitute(text, r"(^\s*server 127\.0\.0\.1:\d+ .*;\n)+", servers + "\n")
    text = substitute(text, r"^\s*listen \[::\]:\d+( ssl)?;\n", "")
    text = substitute(text, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    text = substitute(text, r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    text = substitute(text, r"/etc/letsencrypt/live/chat\.example\.com/", f"{root}/tls/")
    return substitute(text, r"/srv/parley/", f"{root}/srv/")


def main_config(root: Path) -> str:
    # Root starts the workers as `nobody` unless told otherwise; they must read this test's files.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    temp = " ".join(
        f"{kind}_temp_path {root}/temp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{user}
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    {temp}
    include parley.conf;
}}
"""


def self_signed_certificate(directory: Path) -> None:
    directory.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
         "-keyout", directory / "privkey.pem", "-out", directory / "fullchain.pem"],
        check=True, capture_output=True,
    )  # fmt: skip


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, f"nginx exited:\n{log.read_text() if log.exists() else ''}"
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nginx did not listen on {port}")


@pytest.fixture
def site(tmp_path):
    """(https port, http port, daphne logs): nginx with the shipped site in front of two daphne processes."""
    require_nginx()
    root = tmp_path / "nginx"
    for path in ("conf/snippets", "temp", "srv/static/css", "srv/media"):
        (root / path).mkdir(parents=True)
    self_signed_certificate(root / "tls")
    shutil.copy(DEPLOY / "snippets" / "parley-proxy.conf", root / "conf" / "snippets")
    (root / "srv" / "static" / "css" / "site.abc123.css").write_text("body { color: black; }\n")
    with daphne_pair(tmp_path, heartbeat_seconds=20, ALLOWED_HOSTS=HOST) as pair:
        ports = {"daphne": [port for port, _ in pair], "http": free_port(), "https": free_port()}
        config = site_config(
            daphne_ports=ports["daphne"], http_port=ports["http"], https_port=ports["https"], root=root
        )
        (root / "conf" / "parley.conf").write_text(config)
        (root / "conf" / "nginx.conf").write_text(main_config(root))
        command = [str(NGINX), "-p", f"{root}/", "-c", "conf/nginx.conf", "-e", f"{root}/error.log"]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        nginx = subprocess.Popen([*command, "-g", "daemon off;"])
        try:
            wait_for_port(ports["http"], nginx, root / "error.log")
            yield ports["https"], ports["http"], [tmp_path / f"daphne{number}.log" for number in range(2)]
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)


def https(port: int, path: str, **kwargs) -> requests.Response:
    headers = {"Host": HOST, **kwargs.pop("headers", {})}
    method = kwargs.pop("method", "get")
    return requests.request(
        method, f"https://127.0.0.1:{port}{path}", headers=headers, verify=False, timeout=10, **kwargs
    )


async def socket_through(port: int, user) -> Client:
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    cookie = await database_sync_to_async(session_cookie)(user)
    connection = await connect(
        f"wss://{HOST}:{port}/ws/",
        host="127.0.0.1",
        port=port,
        ssl=tls,
        server_hostname=HOST,
        origin=f"https://{HOST}",
        additional_headers=[("Cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}")],
        open_timeout=WAIT,
    )
    client = Client(connection)
    await client.expect("hello")
    return client


@pytest.fixture
def people(make_user, settings):
    # The daphne processes check passwords with the project's hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    ann, ben = make_user("ann"), make_user("ben")
    return ann, ben, group_room(ann, ben)


def check_redirect_and_static_files(https_port: int, http_port: int) -> None:
    redirect = requests.get(
        f"http://127.0.0.1:{http_port}/rooms/", headers={"Host": HOST}, allow_redirects=False, timeout=5
    )
    assert redirect.status_code == 301 and redirect.headers["Location"] == f"https://{HOST}/rooms/"
    static = https(https_port, "/static/css/site.abc123.css")
    assert static.status_code == 200 and static.text.startswith("body")  # From nginx's alias, not Django.
    assert static.headers["Cache-Control"] == "public, max-age=31536000, immutable"


# One test: starting nginx and two daphne processes is most of its time.
async def test_through_nginx_an_api_call_and_a_conversation_across_two_daphne_processes(site, people):
    https_port, http_port, daphne_logs = site
    ann, ben, room = people
    await asyncio.to_thread(check_redirect_and_static_files, https_port, http_port)

    token = await asyncio.to_thread(
        https, https_port, "/api/auth/token/", method="post", json={"email": ann.email, "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    rooms = await asyncio.to_thread(
        https, https_port, "/api/rooms/", headers={"Authorization": f"Bearer {token.json()['access']}"}
    )
    assert rooms.status_code == 200 and [entry["room"]["id"] for entry in rooms.json()] == [room.pk]
    # nginx's request id is Parley's (django-guid), so the two logs can be joined.
    assert re.fullmatch(r"[0-9a-f]{32}", rooms.headers["X-Request-ID"])
    assert "script-src 'self'" in rooms.headers["Content-Security-Policy"]

    ann_ws = await socket_through(https_port, ann)
    ben_ws = await socket_through(https_port, ben)
    try:
        client_id = str(uuid.uuid4())
        await ann_ws.send("message.send", room=room.pk, body="through nginx", client_id=client_id)
        ack = await ann_ws.expect("message.ack")
        assert (await ben_ws.expect("message.new"))["message"] == ack["message"]
        await ben_ws.send("message.send", room=room.pk, body="and back", client_id=str(uuid.uuid4()))
        # Ann's own message.new comes on either side of her ack (they travel separate paths).
        bodies = [(await ann_ws.expect("message.new"))["message"]["body"]]
        if bodies == ["through nginx"]:
            bodies.append((await ann_ws.expect("message.new"))["message"]["body"])
        assert bodies[-1] == "and back", bodies
    finally:
        await ann_ws.connection.close()
        await ben_ws.connection.close()
    # least_conn put the two sockets on different processes.
    assert all("WSCONNECT /ws/" in log.read_text() for log in daphne_logs), [log.read_text() for log in daphne_logs]
