"""Forged, expired, replayed and raced JWTs are refused."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from tests.accounts.test_tokens import bearer, obtain

pytestmark = pytest.mark.django_db


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_an_unsigned_token_with_alg_none_is_refused(api, user):
    claims = AccessToken.for_user(user).payload
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "None", "typ": "JWT"}):
        unsigned = f"{b64(header)}.{b64(claims)}."
        response = bearer(api, unsigned).get("/api/me/")
        assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def test_a_token_signed_with_another_key_or_for_another_person_is_refused(api, user, make_user):
    other = make_user("mallory")
    genuine = obtain(api, "alice@example.com").json()["access"]
    header, _, signature = genuine.split(".")
    claims = {**AccessToken(genuine).payload, "user_id": str(other.pk)}
    assert bearer(api, f"{header}.{b64(claims)}.{signature}").get("/api/me/").status_code == 401


def test_an_expired_access_token_is_refused(api, user):
    access = AccessToken.for_user(user)
    access.set_exp(lifetime=-timedelta(seconds=1))
    response = bearer(api, str(access)).get("/api/me/")
    assert response.status_code == 401 and response.json()["code"] == "token_not_valid"


def test_an_expired_refresh_token_is_refused(api, user):
    refresh = RefreshToken.for_user(user)
    refresh.set_exp(lifetime=-timedelta(seconds=1))
    assert api.post("/api/auth/token/refresh/", {"refresh": str(refresh)}).status_code == 401


def test_an_access_token_is_no_refresh_token_and_back(api, user):
    pair = obtain(api, "alice@example.com").json()
    assert api.post("/api/auth/token/refresh/", {"refresh": pair["access"]}).status_code == 401
    assert bearer(api, pair["refresh"]).get("/api/me/").status_code == 401


def test_the_access_token_of_a_logged_out_session_stays_refused_for_every_endpoint(api, user):
    pair = obtain(api, "alice@example.com").json()
    bearer(api, pair["access"])
    assert api.post("/api/auth/logout/", {"refresh": pair["refresh"]}).status_code == 204
    for path in ("/api/me/", "/api/rooms/", "/api/friends/"):
        assert api.get(path).status_code == 401
    assert api.post("/api/ws-ticket/").status_code == 401


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_the_same_moment_with_one_token_give_one_new_pair(user):
    """Two clients (threads, each with its own PostgreSQL connection) spend the same refresh token
    at once: rotation must hand out one new pair, or a stolen token could be kept alive alongside
    its owner's. Several rounds, because a race lost once proves little."""
    for _ in range(8):
        refresh = str(RefreshToken.for_user(user))
        barrier = threading.Barrier(2)
        statuses = []

        def spend():
            client = APIClient()
            try:
                barrier.wait(timeout=10)
                statuses.append(client.post("/api/auth/token/refresh/", {"refresh": refresh}).status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=spend) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(statuses) == [200, 401]
