"""HTTP under ASGI through `config.asgi.application`, as daphne calls it (config.asgi_http): one
thread hop per request, and everything the stack does under WSGI: headers, CSRF, sessions, sign-out,
errors, streaming, `request_finished` and the database connection back in the pool."""

import asyncio
import itertools
import threading
import time

import asgiref.sync
import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.signals import request_finished, request_started
from django.db import connection
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.test import Client
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from bench.common import ASGIClient
from tests.chat.live import daphne_pair
from tests.chat.sockets import connected
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # the view's thread has its own connection


def explode(request):
    raise RuntimeError("the view failed")


def stream_handles(request):
    # The count is read in the view's thread; the handles while the response is sent, on another
    # thread (not a generator expression: it would run the query at once, here): each thread
    # takes a connection of its own, and must give it back.
    def handles():
        for handle in User.objects.values_list("handle", flat=True):
            yield f"{handle}\n"

    return StreamingHttpResponse(itertools.chain([f"{User.objects.count()} people\n"], handles()))


def thread_name(request):
    return HttpResponse(threading.current_thread().name)


BIG_BODY = bytes(range(256)) * 1200  # 300 KB: several of Django's 64 KB chunks


def big_body(request):
    return HttpResponse(BIG_BODY, content_type="application/octet-stream")


def this_file(request):
    return FileResponse(open(__file__, "rb"))  # noqa: SIM115 (the response closes it)


class Hold:
    """A view's or a stream's thread, held until the test lets it go."""

    def __init__(self):
        self.reached, self.released, self.ended = threading.Event(), threading.Event(), threading.Event()
        self.seen = {}

    def here(self):
        self.reached.set()
        assert self.released.wait(10), "the test never let go"


hold = Hold()


def slow_download(request):
    def parts():  # a sync iterator: read by sync_to_async(list), thread-sensitive
        hold.here()
        yield b"the whole file\n"

    return StreamingHttpResponse(parts())


@csrf_exempt
def slow_upload(request):
    try:
        hold.here()
        hold.seen["body"] = request.body  # read now, as a view may read it late
        response = FileResponse(open(__file__, "rb"))  # noqa: SIM115 (the response closes it)
        hold.seen["file"] = response.file_to_stream
        return response
    finally:
        hold.ended.set()


urlpatterns = [
    path("explode/", explode),
    path("stream/", stream_handles),
    path("file/", this_file),
    path("thread/", thread_name),
    path("big/", big_body),
    path("slow-download/", slow_download),
    path("slow-upload/", slow_upload),
    path("", include("config.urls")),
]


@pytest.fixture
def test_views(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def held():
    global hold
    hold = Hold()
    yield hold
    hold.released.set()  # whatever happened, no thread stays held


@pytest.fixture
def thread_hops(monkeypatch):
    """How many times a coroutine handed sync code to a thread (or sync code to the event loop)."""
    hops = {"to_thread": 0, "to_loop": 0}
    to_thread, to_loop = asgiref.sync.SyncToAsync.__call__, asgiref.sync.AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        hops["to_thread"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        hops["to_loop"] += 1
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", counted_to_thread)
    monkeypatch.setattr(asgiref.sync.AsyncToSync, "__call__", counted_to_loop)
    return hops


@pytest.fixture
def signals_sent():
    sent = {"started": 0, "finished": 0}

    def started(**kwargs):
        sent["started"] += 1

    def finished(**kwargs):
        sent["finished"] += 1

    request_started.connect(started)
    request_finished.connect(finished)
    yield sent
    request_started.disconnect(started)
    request_finished.disconnect(finished)


@sync_to_async(thread_sensitive=False)
def connections_out() -> int:
    """Connections of psycopg's pool that some thread holds, once the count is steady (the pool
    opens and replaces connections in the background).

    Read on a thread that neither served nor streamed the request, closing nothing: a connection
    left held by the thread that iterated or closed a response stays counted.
    """
    if connection.vendor != "postgresql":
        pytest.skip("counts psycopg's pool (PostgreSQL)")
    deadline, last = time.monotonic() + 2, None
    while True:
        stats = connection.pool.get_stats()
        out = stats["pool_size"] - stats["pool_available"]
        if out == last or time.monotonic() > deadline:
            return out
        last = out
        time.sleep(0.05)


def bearer(user) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


@database_sync_to_async
def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def test_an_api_request_crosses_to_a_thread_once(make_user, thread_hops, signals_sent):
    user = await database_sync_to_async(make_user)("alice")
    client = ASGIClient()
    thread_hops.update(to_thread=0, to_loop=0)

    response = await client.get("/api/me/", headers={"authorization": bearer(user)})

    assert response.status_code == 200 and response.json()["handle"] == "alice"
    # Django's ASGIHandler: 3 hops (request_started, middleware and view, close), in a new thread.
    assert thread_hops == {"to_thread": 1, "to_loop": 0}
    assert signals_sent == {"started": 1, "finished": 1}


async def test_requests_are_served_by_a_bounded_pool_of_reused_threads(test_views, settings):
    client = ASGIClient()
    responses = await asyncio.gather(*(client.get("/thread/") for _ in range(3 * settings.HTTP_THREADS)))
    names = {response.content.decode() for response in responses}
    assert all(name.startswith("parley-http") for name in names)
    assert len(names) <= settings.HTTP_THREADS


async def test_under_asgi_an_api_response_carries_the_security_headers_and_a_request_id(make_user):
    user = await database_sync_to_async(make_user)("alice")
    response = await ASGIClient().get("/api/me/", headers={"authorization": bearer(user)})
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Request-ID"]


async def test_under_asgi_a_form_without_its_csrf_token_is_refused():
    form = f"username=alice%40example.com&password={PASSWORD}".encode()
    response = await ASGIClient().post("/login/", form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403


async def test_under_asgi_a_session_signs_in_pages_and_the_api_and_signing_out_ends_it(make_user):
    user = await database_sync_to_async(make_user)("alice")
    client = ASGIClient(headers={"cookie": f"sessionid={await session_cookie(user)}"})
    assert (await client.get("/api/me/")).json()["handle"] == "alice"
    assert (await client.get("/rooms/")).status_code == 200

    csrf = (await client.get("/settings/profile/")).cookies()["csrftoken"]
    signed_out = await client.post(
        "/logout/",
        f"csrfmiddlewaretoken={csrf}".encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "cookie": f"{client.headers['cookie']}; csrftoken={csrf}",
        },
    )

    assert signed_out.status_code == 302
    assert (await client.get("/api/me/")).status_code in (401, 403)


async def test_a_failing_view_gives_a_logged_500_finishes_the_request_and_returns_its_connection(
    test_views, caplog, signals_sent
):
    before = await connections_out()

    response = await ASGIClient().get("/explode/")

    assert response.status_code == 500
    assert any(r.name == "django.request" and r.exc_info for r in caplog.records)
    assert signals_sent == {"started": 1, "finished": 1}
    assert await connections_out() == before


async def test_a_bad_host_is_a_400_and_the_request_still_finishes(signals_sent):
    response = await ASGIClient(host="evil.example").get("/api/me/")
    assert response.status_code == 400
    assert signals_sent == {"started": 1, "finished": 1}


async def test_a_streaming_response_is_sent_whole_then_closed(test_views, make_user, signals_sent):
    for handle in ("alice", "bob"):
        await database_sync_to_async(make_user)(handle)
    before = await connections_out()

    response = await ASGIClient().get("/stream/")

    assert response.status_code == 200 and response.content.split(b"\n", 1)[0] == b"2 people"
    assert sorted(response.content.split()[2:]) == [b"alice", b"bob"]
    assert signals_sent == {"started": 1, "finished": 1}
    assert await connections_out() == before


async def test_a_websocket_signs_in_while_a_download_is_being_read(test_views, make_user, held):
    # Channels' sign-in (its get_user, called by chat.socket_auth) runs on asgiref's one
    # thread-sensitive thread; so did every streamed response's reading until each got a context
    # (a thread) of its own.
    cookie = await session_cookie(await database_sync_to_async(make_user)("alice"))
    downloading = asyncio.create_task(ASGIClient().get("/slow-download/"))
    try:
        assert await asyncio.to_thread(held.reached.wait, 10)
        async with connected(cookie=cookie, hello=False) as socket:  # signed in by the session
            assert (await socket.expect("hello"))["user"]["handle"] == "alice"
    finally:
        held.released.set()
    response = await downloading
    assert response.status_code == 200 and response.content == b"the whole file\n"


async def test_a_request_cancelled_during_its_view_lets_the_view_read_its_body_then_closes_its_response(
    test_views, held, signals_sent
):
    """daphne cancels an application 10 s after its client left, then again every second."""
    from config.asgi import application

    body = b"x" * 1000
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slow-upload/",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent = []

    async def send(message):
        sent.append(message)

    app = asyncio.create_task(application(scope, receive, send))
    assert await asyncio.to_thread(held.reached.wait, 10)
    for _ in range(2):
        app.cancel()
        await asyncio.sleep(0.05)
    assert not app.done()  # still waiting for the view
    held.released.set()
    with pytest.raises(asyncio.CancelledError):
        await app
    assert await asyncio.to_thread(held.ended.wait, 10)

    assert held.seen["body"] == body
    assert held.seen["file"].closed
    assert signals_sent == {"started": 1, "finished": 1}
    assert sent == []  # nobody to send it to


async def test_an_ordinary_response_goes_out_in_one_body_message(test_views):
    from config.asgi import application

    bodies = []

    async def counting(scope, receive, send):
        async def counted(message):
            if message["type"] == "http.response.body":
                bodies.append(message.get("more_body", False))
            await send(message)

        await application(scope, receive, counted)

    response = await ASGIClient(counting).get("/big/")
    assert response.status_code == 200 and response.content == BIG_BODY
    assert bodies == [False]


async def test_a_file_response_is_sent_whole(test_views):
    response = await ASGIClient().get("/file/")
    with open(__file__, "rb") as source:
        assert response.status_code == 200 and response.content == source.read()


@pytest.mark.services
def test_through_daphne_a_signed_out_access_token_is_refused_and_another_device_s_is_not(tmp_path, make_user):
    user = make_user("alice")
    # Signed here: the server would not know the tests' fast password hasher.
    phone, laptop = RefreshToken.for_user(user), RefreshToken.for_user(user)
    phone_access, laptop_access = str(phone.access_token), str(laptop.access_token)  # each read signs a new one
    with (
        daphne_pair(tmp_path, heartbeat_seconds=20, count=1, DJANGO_SETTINGS_MODULE="tests.asgi_daphne_settings") as [
            (port, _)
        ],
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http,
    ):

        def me(access: str) -> httpx.Response:
            return http.get("/api/me/", headers={"authorization": f"Bearer {access}"})

        assert me(phone_access).json()["handle"] == "alice"
        assert me(phone_access).headers["x-frame-options"] == "DENY"

        headers = {"authorization": f"Bearer {phone_access}"}
        assert http.post("/api/auth/logout/", json={"refresh": str(phone)}, headers=headers).status_code == 204

        refused = me(phone_access)
        assert refused.status_code == 401 and refused.json()["code"] == "token_revoked"
        assert me(laptop_access).status_code == 200
        # A page's form is still CSRF-protected on the real server.
        assert http.post("/login/", data={"username": "alice@example.com", "password": PASSWORD}).status_code == 403
        # A streamed response arrives whole, and a failing view is a 500 that leaves the server serving.
        assert http.get("/stream/").text.splitlines() == ["1 people", "alice"]
        assert http.get("/explode/").status_code == 500
        assert me(laptop_access).status_code == 200
