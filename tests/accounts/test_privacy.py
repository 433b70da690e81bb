"""Privacy settings: who may message me, who may ask to be my friend, and what I am mailed."""

import re

import pytest
from django.test import Client

from accounts import selectors
from accounts.models import DmPolicy, EmailNotifications, FriendRequestPolicy
from tests.accounts.social import befriend

pytestmark = pytest.mark.django_db


def test_new_people_are_open_to_everyone_and_get_a_digest(ann, api_as):
    me = api_as(ann).get("/api/me/").json()

    assert me["dm_policy"] == "everyone"
    assert me["friend_request_policy"] == "everyone"
    assert me["email_notifications"] == "digest"


def test_privacy_is_changed_with_patch_me(ann, api_as):
    response = api_as(ann).patch(
        "/api/me/",
        {"dm_policy": "friends", "friend_request_policy": "friends_of_friends", "email_notifications": "never"},
        format="json",
    )

    assert response.status_code == 200, response.content
    ann.refresh_from_db()
    assert ann.dm_policy == DmPolicy.FRIENDS
    assert ann.friend_request_policy == FriendRequestPolicy.FRIENDS_OF_FRIENDS
    assert ann.email_notifications == EmailNotifications.NEVER


@pytest.mark.parametrize(
    "field, value",
    [("dm_policy", "nobody"), ("friend_request_policy", "all"), ("email_notifications", "hourly"), ("dm_policy", "")],
)
def test_an_unknown_choice_is_a_400_naming_the_field(ann, api_as, field, value):
    response = api_as(ann).patch("/api/me/", {field: value}, format="json")

    assert response.status_code == 400 and field in response.json()["fields"]
    ann.refresh_from_db()
    assert getattr(ann, field) == selectors.User._meta.get_field(field).default


def test_the_settings_page_shows_and_saves_the_choices(ann):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    page = browser.get("/settings/profile/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    assert b'name="dm_policy"' in page.content and b'name="email_notifications"' in page.content

    saved = browser.post(
        "/settings/profile/",
        {
            "csrfmiddlewaretoken": token,
            "display_name": "Ann",
            "handle": "ann",
            "bio": "",
            "dm_policy": "friends",
            "friend_request_policy": "nobody",
            "email_notifications": "immediately",
        },
        follow=True,
    )

    assert b"Profile saved" in saved.content
    ann.refresh_from_db()
    assert (ann.dm_policy, ann.friend_request_policy, ann.email_notifications) == ("friends", "nobody", "immediately")


def test_the_settings_page_rejects_an_unknown_choice(ann):
    browser = Client()
    browser.force_login(ann)

    page = browser.post("/settings/profile/", {"display_name": "Ann", "handle": "ann", "dm_policy": "robots"})

    assert page.status_code == 200 and b"Select a valid choice" in page.content
    ann.refresh_from_db()
    assert ann.dm_policy == "everyone"


def test_anyone_may_message_someone_open_to_everyone(ann, ben):
    assert selectors.dm_allowed(sender=ben, recipient=ann)


def test_friends_only_keeps_strangers_out_and_lets_friends_in(ann, ben, bob):
    ann.dm_policy = DmPolicy.FRIENDS
    ann.save()
    befriend(ann, ben)

    assert selectors.dm_allowed(sender=ben, recipient=ann)
    assert not selectors.dm_allowed(sender=bob, recipient=ann)
    assert selectors.dm_allowed(sender=ann, recipient=bob)  # my own setting does not stop me writing


def test_the_friends_only_rule_costs_two_queries(ann, ben, django_assert_num_queries):
    ann.dm_policy = DmPolicy.FRIENDS
    ann.save()

    with django_assert_num_queries(2):  # any block either way, then the friendship
        assert not selectors.dm_allowed(sender=ben, recipient=ann)
