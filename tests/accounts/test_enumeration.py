"""Nobody learns whether an address has an account: sign-up, resend, password reset and sign-in answer
a known and an unknown address with the same status and body, after the same password hashing."""

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


class CountingHasher(MD5PasswordHasher):
    """The test suite's fast hasher, counting how many hashes it computes (a hash is the costly step)."""

    computed = 0

    def encode(self, password, salt):
        CountingHasher.computed += 1
        return super().encode(password, salt)


@pytest.fixture
def hashes(settings):
    settings.PASSWORD_HASHERS = ["tests.accounts.test_enumeration.CountingHasher"]

    def during(call):
        before = CountingHasher.computed
        response = call()
        return response, CountingHasher.computed - before

    return during


def answer(response) -> tuple[int, object]:
    return response.status_code, response.json()


def test_signing_up_with_a_verified_an_unverified_or_a_new_address_is_indistinguishable(api, make_user, hashes):
    make_user("known", email="known@example.com")
    make_user("pending", email="pending@example.com", verified=False)
    outcomes = []
    for number, email in enumerate(("known@example.com", "pending@example.com", "new@example.com")):
        body = {"email": email, "handle": f"someone{number}", "password": PASSWORD}
        response, hashed = hashes(lambda body=body: api.post("/api/auth/register/", body, format="json"))
        outcomes.append((answer(response), hashed))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0] == ((202, outcomes[0][0][1]), 1)


def test_resend_is_indistinguishable_for_known_and_unknown_addresses(api, make_user, hashes):
    make_user("pending", email="pending@example.com", verified=False)
    known, known_hashes = hashes(lambda: api.post("/api/auth/resend/", {"email": "pending@example.com"}))
    unknown, unknown_hashes = hashes(lambda: api.post("/api/auth/resend/", {"email": "nobody@example.com"}))
    assert answer(known) == answer(unknown) and known.status_code == 202
    assert known_hashes == unknown_hashes == 0


def test_a_password_reset_is_indistinguishable_for_known_and_unknown_addresses(make_user, hashes):
    make_user("known", email="known@example.com")
    browser = Client()
    known, known_hashes = hashes(lambda: browser.post("/password/reset/", {"email": "known@example.com"}))
    unknown, unknown_hashes = hashes(lambda: browser.post("/password/reset/", {"email": "nobody@example.com"}))
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known_hashes == unknown_hashes == 0


def test_signing_in_with_an_unknown_address_costs_the_hash_a_wrong_password_costs(api, make_user, hashes):
    make_user("known", email="known@example.com")
    wrong, wrong_hashes = hashes(
        lambda: api.post("/api/auth/token/", {"email": "known@example.com", "password": "not it"}, format="json")
    )
    unknown, unknown_hashes = hashes(
        lambda: api.post("/api/auth/token/", {"email": "nobody@example.com", "password": "not it"}, format="json")
    )
    assert answer(wrong) == answer(unknown) and wrong.status_code == 401
    assert wrong_hashes == unknown_hashes == 1
