"""Friendships, friend requests and blocks in Django admin."""

import pytest

from accounts import services
from tests.accounts.social import befriend

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["friendship", "friendrequest", "block"])
def test_the_lists_show_both_people_and_search_by_handle(admin_browser, ann, ben, bob, make_user, model):
    befriend(ann, ben)
    services.friend_request_send(sender=bob, recipient=ann)
    services.block_create(blocker=make_user("cy"), blocked=bob)

    page = admin_browser.get(f"/admin/accounts/{model}/", {"q": "bob" if model != "friendship" else "ben"})

    assert page.status_code == 200
    assert b"@bob" in page.content or b"@ben" in page.content


def test_the_friendship_list_costs_the_same_for_few_and_many(
    admin_browser, ann, make_user, django_assert_max_num_queries, settings
):
    settings.FRIEND_REQUEST_RATE_BURST = 30  # ann befriends 30 people at once here: setup, not spam.
    for number in range(30):
        befriend(ann, make_user(f"pal{number}"))

    with django_assert_max_num_queries(12):  # session, user, the page's rows with both people, counts
        assert admin_browser.get("/admin/accounts/friendship/").status_code == 200


def test_privacy_settings_show_on_the_person_page(admin_browser, ann):
    page = admin_browser.get(f"/admin/accounts/user/{ann.pk}/change/")

    assert b"dm_policy" in page.content and b"email_notifications" in page.content
