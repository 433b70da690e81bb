from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from accounts import services, tokens
from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def obtain(api, email, password=PASSWORD):
    return api.post("/api/auth/token/", {"email": email, "password": password}, format="json")


def bearer(api, access):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def test_a_verified_person_gets_a_token_pair_whatever_the_case_of_their_address(api, user):
    response = obtain(api, "ALICE@example.com")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert bearer(api, response.json()["access"]).get("/api/me/").json()["handle"] == "alice"
    user.refresh_from_db()
    assert user.last_login is not None


def test_an_unverified_person_gets_no_token(api, make_user):
    make_user("pending", verified=False)
    response = obtain(api, "pending@example.com")
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"


def test_a_wrong_password_gets_401(api, user):
    response = obtain(api, "alice@example.com", "wrong password")
    assert response.status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_stops_working(api, user):
    pair = obtain(api, "alice@example.com").json()

    rotated = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert rotated.status_code == 200 and rotated.json()["refresh"] != pair["refresh"]

    reused = api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]})
    assert reused.status_code == 401


def test_logout_revokes_the_refresh_token_and_the_access_token_at_once(api, user):
    pair = obtain(api, "alice@example.com").json()
    bearer(api, pair["access"])

    assert api.post("/api/auth/logout/", {"refresh": pair["refresh"]}).status_code == 204

    after = api.get("/api/me/")
    assert after.status_code == 401 and after.json()["code"] == "token_revoked"
    api.credentials()
    assert api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401


def test_logout_refuses_someone_elses_refresh_token(api, user, make_user):
    other = obtain(api, make_user("bob").email).json()
    mine = obtain(api, "alice@example.com").json()
    response = bearer(api, mine["access"]).post("/api/auth/logout/", {"refresh": other["refresh"]})
    assert response.status_code == 400 and "refresh" in response.json()["fields"]


def test_a_password_change_revokes_earlier_tokens(api, user):
    access = obtain(api, "alice@example.com").json()["access"]
    user.set_password("a brand new passphrase")
    user.save()
    assert bearer(api, access).get("/api/me/").status_code == 401


def test_deactivation_revokes_tokens(api, user):
    pair = obtain(api, "alice@example.com").json()
    services.user_deactivate(user=user)
    assert bearer(api, pair["access"]).get("/api/me/").status_code == 401
    api.credentials()
    assert api.post("/api/auth/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401


def test_tampered_tokens_are_refused(api, user):
    access = obtain(api, "alice@example.com").json()["access"]
    header, payload, signature = access.split(".")
    tampered = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    assert bearer(api, tampered).get("/api/me/").status_code == 401


def test_logout_on_one_device_leaves_the_others_access_token_working(api, user):
    phone, laptop = obtain(api, "alice@example.com").json(), obtain(api, "alice@example.com").json()
    assert bearer(api, phone["access"]).post("/api/auth/logout/", {"refresh": phone["refresh"]}).status_code == 204

    assert bearer(api, phone["access"]).get("/api/me/").json()["code"] == "token_revoked"
    assert bearer(api, laptop["access"]).get("/api/me/").status_code == 200


@pytest.fixture
def denylist_reads(monkeypatch):
    """The keys the denylist is asked about (the cache still answers them)."""
    asked, read = [], tokens.cache.get

    def get(key, *args, **kwargs):
        asked.append(key)
        return read(key, *args, **kwargs)

    monkeypatch.setattr(tokens.cache, "get", get)
    return asked


def test_the_denylist_is_asked_only_about_tokens_issued_by_the_owners_last_logout(api, user, denylist_reads):
    before = obtain(api, "alice@example.com").json()
    assert bearer(api, before["access"]).get("/api/me/").status_code == 200
    assert denylist_reads == []  # never logged out: no look-up at all

    assert api.post("/api/auth/logout/", {"refresh": before["refresh"]}).status_code == 204
    assert api.get("/api/me/").status_code == 401
    assert denylist_reads == [tokens.DENYLIST_PREFIX + AccessToken(before["access"])["jti"]]

    # A token issued well after the logout (beyond the clock-skew leeway) cannot be on the list: not looked up.
    skew = timedelta(seconds=settings.JWT_LOGOUT_LEEWAY_SECONDS + 2)
    User.objects.filter(pk=user.pk).update(api_logout_at=timezone.now() - skew)
    after = obtain(api, "alice@example.com").json()
    assert bearer(api, after["access"]).get("/api/me/").status_code == 200
    assert len(denylist_reads) == 1


def test_a_token_issued_in_the_same_second_as_a_logout_is_still_looked_up(user, denylist_reads):
    token = AccessToken.for_user(user)
    logout_at = datetime.fromtimestamp(token["iat"], tz=UTC) + timedelta(microseconds=500_000)
    User.objects.filter(pk=user.pk).update(api_logout_at=logout_at)
    user.refresh_from_db()

    assert tokens.access_is_denied(user=user, jti=token["jti"], issued_at=token["iat"]) is False
    assert denylist_reads == [tokens.DENYLIST_PREFIX + token["jti"]]


def test_a_denied_token_issued_within_the_leeway_after_the_logout_is_refused(user, settings):
    # The logout's host clock ran 2 s behind the host that issued the token.
    settings.JWT_LOGOUT_LEEWAY_SECONDS = 5
    token = AccessToken.for_user(user)
    logout_at = datetime.fromtimestamp(token["iat"] - 2, tz=UTC)
    tokens.access_deny(user=user, jti=token["jti"], expires_at=datetime.fromtimestamp(token["exp"], tz=UTC))
    User.objects.filter(pk=user.pk).update(api_logout_at=logout_at)
    user.refresh_from_db()

    assert tokens.access_is_denied(user=user, jti=token["jti"], issued_at=token["iat"]) is True


@pytest.mark.services  # on SQLite user_for_token is the ORM's get: nothing to compare
def test_the_token_s_owner_is_loaded_as_the_orm_loads_them(user):
    from accounts.authentication import user_for_token

    user.last_seen, user.bio = timezone.now(), "Hi"
    user.save()

    loaded, expected = user_for_token(id=user.pk), User.objects.get(id=user.pk)

    assert {key: value for key, value in vars(loaded).items() if key != "_state"} == {
        key: value for key, value in vars(expected).items() if key != "_state"
    }
    assert not loaded._state.adding and loaded._state.db == "default"
    with pytest.raises(User.DoesNotExist):
        user_for_token(id=user.pk + 10_000)


def test_a_token_whose_owner_is_gone_or_deactivated_is_refused(api, user):
    access = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    assert bearer(api, access).get("/api/me/").json()["code"] == "user_inactive"

    user.delete()
    assert bearer(api, access).get("/api/me/").json()["code"] == "user_not_found"
