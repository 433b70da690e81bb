import pytest
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_token_endpoint_locks_an_address_out_after_five_failures(api, user):
    for attempt in range(4):
        email = "alice@example.com" if attempt % 2 else "ALICE@example.com"
        assert api.post("/api/auth/token/", {"email": email, "password": "guess"}).status_code == 401
    fifth = api.post("/api/auth/token/", {"email": "alice@example.com", "password": "guess"})
    assert fifth.status_code == 429

    locked = api.post("/api/auth/token/", {"email": "alice@example.com", "password": PASSWORD})

    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) == 15 * 60


def test_the_login_page_locks_an_address_out_with_a_clear_message(user):
    browser = Client()
    for _ in range(4):
        page = browser.post("/login/", {"username": "alice@example.com", "password": "guess"})
        assert page.status_code == 200 and b"correct" in page.content
    assert browser.post("/login/", {"username": "Alice@example.com", "password": "guess"}).status_code == 429

    locked = browser.post("/login/", {"username": "alice@example.com", "password": PASSWORD})

    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    assert locked["Retry-After"]
    assert "_auth_user_id" not in browser.session


def test_the_admin_login_locks_out_too(make_user):
    make_user("boss", is_staff=True, is_superuser=True)
    browser = Client()
    for _ in range(5):
        browser.post("/admin/login/", {"username": "boss@example.com", "password": "guess"})
    locked = browser.post("/admin/login/", {"username": "boss@example.com", "password": PASSWORD})
    assert locked.status_code == 429


def test_a_success_before_the_limit_resets_the_count(api, user):
    for _ in range(3):
        api.post("/api/auth/token/", {"email": "alice@example.com", "password": "guess"})
    assert api.post("/api/auth/token/", {"email": "alice@example.com", "password": PASSWORD}).status_code == 200
    for _ in range(4):
        assert api.post("/api/auth/token/", {"email": "alice@example.com", "password": "guess"}).status_code == 401
