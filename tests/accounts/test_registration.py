from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import EmailVerification, User
from tests.accounts.conftest import code_in, link_token_in

pytestmark = pytest.mark.django_db


def test_signing_up_creates_an_unverified_account_and_mails_a_code_and_link(register, mailoutbox):
    response = register(email="New@Example.com", handle="newbie", display_name="New Person")

    assert response.status_code == 202
    user = User.objects.get(handle="newbie")
    assert user.email == "New@example.com" and not user.is_verified and user.display_name == "New Person"
    [mail] = mailoutbox
    assert mail.to == ["New@example.com"]
    assert code_in(mail) in mail.body
    assert "/verify/" in mail.body and mail.alternatives[0][1] == "text/html"


def test_the_code_verifies_the_address_once(register, api, mailoutbox):
    register()
    code = code_in(mailoutbox[0])

    response = api.post("/api/auth/verify/", {"email": "NEW@example.com", "code": code})
    assert response.status_code == 200
    assert response.json()["email_verified_at"]
    assert User.objects.get(handle="newbie").is_verified

    again = api.post("/api/auth/verify/", {"email": "new@example.com", "code": code})
    assert again.status_code == 400 and "code" in again.json()["fields"]


def test_the_link_verifies_the_address_once(register, api, mailoutbox):
    register()
    token = link_token_in(mailoutbox[0])

    assert api.post("/api/auth/verify/", {"token": token}).status_code == 200
    again = api.post("/api/auth/verify/", {"token": token})
    assert again.status_code == 400 and "token" in again.json()["fields"]


def test_codes_are_stored_only_as_hashes(register, mailoutbox):
    register()
    code = code_in(mailoutbox[0])
    verification = EmailVerification.objects.get()
    stored = " ".join([verification.code_hash, verification.link_hash])
    assert code not in stored and link_token_in(mailoutbox[0]) not in stored


def test_a_code_expires_after_fifteen_minutes(register, api, mailoutbox):
    register()
    EmailVerification.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api.post("/api/auth/verify/", {"email": "new@example.com", "code": code_in(mailoutbox[0])})

    assert response.status_code == 400
    assert "expired" in response.json()["fields"]["code"][0]
    verification = EmailVerification.objects.get()
    assert verification.expires_at - verification.created_at <= timedelta(minutes=15, seconds=1)


def test_five_wrong_tries_burn_the_code(register, api, mailoutbox):
    register()
    right = code_in(mailoutbox[0])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert api.post("/api/auth/verify/", {"email": "new@example.com", "code": wrong}).status_code == 400

    response = api.post("/api/auth/verify/", {"email": "new@example.com", "code": right})

    assert response.status_code == 400
    assert "Too many" in response.json()["fields"]["code"][0]
    assert not User.objects.get(handle="newbie").is_verified


def test_a_new_code_replaces_the_old_one(register, api, mailoutbox, django_capture_on_commit_callbacks):
    register()
    first = code_in(mailoutbox[0])
    EmailVerification.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert api.post("/api/auth/resend/", {"email": "new@example.com"}).status_code == 202
    second = code_in(mailoutbox[1])

    if first != second:
        assert api.post("/api/auth/verify/", {"email": "new@example.com", "code": first}).status_code == 400
    assert api.post("/api/auth/verify/", {"email": "new@example.com", "code": second}).status_code == 200


def test_resend_within_a_minute_sends_nothing_more(register, api, mailoutbox):
    register()
    assert api.post("/api/auth/resend/", {"email": "new@example.com"}).status_code == 202
    assert len(mailoutbox) == 1


def test_resend_is_throttled(api, settings):
    for _ in range(5):
        assert api.post("/api/auth/resend/", {"email": "someone@example.com"}).status_code == 202

    response = api.post("/api/auth/resend/", {"email": "someone@example.com"})

    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and response.json()["retry_after"] > 0
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("taken", ["verified", "unverified"])
def test_signing_up_with_a_known_address_answers_like_a_new_one(register, make_user, mailoutbox, taken):
    make_user("owner", email="owner@example.com", verified=taken == "verified")

    known = register(email="OWNER@example.com", handle="intruder")
    unknown = register(email="fresh@example.com", handle="fresh")

    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert not User.objects.filter(handle="intruder").exists()
    to_owner = [mail for mail in mailoutbox if mail.to == ["owner@example.com"]]
    assert len(to_owner) == 1
    expected = "tried to sign up" if taken == "verified" else "code"
    assert expected in to_owner[0].subject


def test_resend_answers_the_same_for_known_and_unknown_addresses(api, make_user):
    make_user("owner", email="owner@example.com", verified=False)
    known = api.post("/api/auth/resend/", {"email": "owner@example.com"})
    unknown = api.post("/api/auth/resend/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()


def test_verify_answers_the_same_for_unknown_addresses_and_wrong_codes(register, api):
    register()
    wrong = api.post("/api/auth/verify/", {"email": "new@example.com", "code": "000000"})
    unknown = api.post("/api/auth/verify/", {"email": "nobody@example.com", "code": "000000"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-address", "handle": "okhandle", "password": "a long enough password"}, "email"),
        ({"email": "a@example.com", "handle": "no spaces!", "password": "a long enough password"}, "handle"),
        ({"email": "a@example.com", "handle": "ab", "password": "a long enough password"}, "handle"),
        ({"email": "a@example.com", "handle": "okhandle", "password": "123"}, "password"),
        ({"email": "a@example.com", "handle": "okhandle", "password": "password"}, "password"),
        ({"handle": "okhandle", "password": "a long enough password"}, "email"),
    ],
)
def test_bad_sign_up_input_gets_field_errors(api, payload, field):
    response = api.post("/api/auth/register/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"]


def test_handles_are_unique_whatever_their_case(register, make_user):
    make_user("Taken")
    response = register(email="other@example.com", handle="taken")
    assert response.status_code == 400 and "handle" in response.json()["fields"]


def test_two_accounts_cannot_share_an_address_in_different_case(make_user):
    from django.db import IntegrityError, transaction

    make_user("first", email="same@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("second", email="SAME@example.com")
