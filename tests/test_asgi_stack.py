"""HTTP under ASGI: the middleware and the view run in one thread hop (config.middleware), and do
everything they do under WSGI: headers, CSRF, sessions, JWT sign-out."""

import asgiref.sync
import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, AsyncRequestFactory
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.chat.live import daphne_pair
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)  # the view's thread has its own connection


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


def bearer(user) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


async def test_an_api_request_crosses_to_the_sync_thread_once(make_user, thread_hops):
    user = await sync_to_async(make_user)("alice")
    handler = ASGIHandler()  # what daphne runs: the middleware chain built for an async server
    request = AsyncRequestFactory().get("/api/me/", headers={"authorization": bearer(user)})
    thread_hops.update(to_thread=0, to_loop=0)

    response = await handler.get_response_async(request)

    assert response.status_code == 200 and b'"handle":"alice"' in response.content
    # Django's own async chain made 16 hops to the thread and one back to the loop for this request.
    assert thread_hops == {"to_thread": 1, "to_loop": 0}


async def test_under_asgi_an_api_response_carries_the_security_headers_and_a_request_id(make_user):
    user = await sync_to_async(make_user)("alice")
    response = await AsyncClient().get("/api/me/", headers={"authorization": bearer(user)})
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY" and response["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Request-ID"]


async def test_under_asgi_a_form_without_its_csrf_token_is_refused():
    client = AsyncClient(enforce_csrf_checks=True)
    response = await client.post("/login/", {"username": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 403


async def test_under_asgi_a_session_signs_in_pages_and_the_api(make_user):
    user = await sync_to_async(make_user)("alice")
    client = AsyncClient()
    await client.aforce_login(user)
    assert (await client.get("/api/me/")).json()["handle"] == "alice"
    assert (await client.get("/rooms/")).status_code == 200


@pytest.mark.services
def test_through_daphne_a_signed_out_access_token_is_refused_and_another_device_s_is_not(tmp_path, make_user):
    user = make_user("alice")
    # Signed here: the server would not know the tests' fast password hasher.
    phone, laptop = RefreshToken.for_user(user), RefreshToken.for_user(user)
    phone_access, laptop_access = str(phone.access_token), str(laptop.access_token)  # each read signs a new one
    with (
        daphne_pair(tmp_path, heartbeat_seconds=20, count=1) as [(port, _)],
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
