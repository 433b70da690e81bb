import re

import pytest
from django.test import Client

from accounts.models import User
from tests.accounts.conftest import code_in, link_token_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    return Client()


def sign_up(browser, capture, email="newbie@example.com", handle="newbie"):
    form = {"email": email, "handle": handle, "display_name": "", "password": PASSWORD, "password_confirm": PASSWORD}
    with capture(execute=True):
        return browser.post("/signup/", form, follow=True)


def test_a_new_person_signs_up_enters_the_code_and_is_signed_in(
    browser, mailoutbox, django_capture_on_commit_callbacks
):
    page = sign_up(browser, django_capture_on_commit_callbacks)
    assert page.redirect_chain[-1][0].startswith("/verify/?email=")
    assert b"6-digit code is on its way" in page.content

    verified = browser.post("/verify/", {"email": "newbie@example.com", "code": code_in(mailoutbox[0])}, follow=True)

    assert verified.redirect_chain[-1][0] == "/settings/profile/"
    assert b"Your e-mail address is verified" in verified.content
    assert User.objects.get(handle="newbie").is_verified
    assert browser.session["_auth_user_id"] == str(User.objects.get(handle="newbie").pk)


def test_the_link_from_another_browser_verifies_but_asks_to_log_in(
    browser, mailoutbox, django_capture_on_commit_callbacks
):
    sign_up(browser, django_capture_on_commit_callbacks)
    other = Client()
    page = other.get(f"/verify/{link_token_in(mailoutbox[0])}/", follow=True)
    assert page.redirect_chain[-1][0].startswith("/login/")
    assert "_auth_user_id" not in other.session
    assert User.objects.get(handle="newbie").is_verified


def test_a_used_link_shows_an_error_page(browser, mailoutbox, django_capture_on_commit_callbacks):
    sign_up(browser, django_capture_on_commit_callbacks)
    token = link_token_in(mailoutbox[0])
    browser.get(f"/verify/{token}/")
    again = browser.get(f"/verify/{token}/")
    assert again.status_code == 400 and b"already been used" in again.content


def test_sign_up_form_errors_are_shown(browser, make_user, django_capture_on_commit_callbacks):
    make_user("taken")
    page = browser.post(
        "/signup/",
        {"email": "x@example.com", "handle": "taken", "password": "short", "password_confirm": "other"},
    )
    assert page.status_code == 200
    assert b"The two passwords differ" in page.content
    page = browser.post(
        "/signup/", {"email": "x@example.com", "handle": "taken", "password": PASSWORD, "password_confirm": PASSWORD}
    )
    assert b"This handle is taken" in page.content


def test_a_wrong_code_is_a_form_error(browser, mailoutbox, django_capture_on_commit_callbacks):
    sign_up(browser, django_capture_on_commit_callbacks)
    page = browser.post("/verify/", {"email": "newbie@example.com", "code": "12345"})
    assert b"Enter the 6 digits" in page.content
    page = browser.post("/verify/", {"email": "newbie@example.com", "code": "999999"})
    assert b"not valid" in page.content or b"Too many" in page.content


def test_an_unverified_person_who_logs_in_is_sent_to_verify(browser, make_user):
    make_user("pending", verified=False)
    page = browser.post("/login/", {"username": "pending@example.com", "password": PASSWORD}, follow=True)
    assert page.redirect_chain[-1][0] == "/verify/"
    assert browser.get("/settings/profile/").url == "/verify/"


def test_log_in_and_out(browser, user):
    page = browser.post("/login/", {"username": "Alice@Example.com", "password": PASSWORD}, follow=True)
    assert b"Hello, Alice" in page.content
    browser.post("/logout/")
    assert "_auth_user_id" not in browser.session


def test_password_reset_by_mail(browser, user, mailoutbox):
    page = browser.post("/password/reset/", {"email": "alice@example.com"}, follow=True)
    assert b"If an account uses that address" in page.content
    [mail] = mailoutbox
    link = re.search(r"http://[^/]+(/password/reset/[^\s]+/)", mail.body).group(1)

    form_page = browser.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    done = browser.post(set_url, {"new_password1": "an entirely new one", "new_password2": "an entirely new one"})

    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("an entirely new one")


def test_password_reset_answers_the_same_for_unknown_addresses(browser, mailoutbox):
    page = browser.post("/password/reset/", {"email": "nobody@example.com"}, follow=True)
    assert b"If an account uses that address" in page.content
    assert mailoutbox == []


NEW = "another good passphrase"


def test_password_change_keeps_this_session(browser, user):
    browser.force_login(user)
    page = browser.post(
        "/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another good passphrase",
            "new_password2": "another good passphrase",
        },
        follow=True,
    )
    assert b"Password changed" in page.content
    assert browser.get("/settings/profile/").status_code == 200


def test_pages_refuse_posts_without_csrf(user):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "alice@example.com", "password": PASSWORD}).status_code == 403
