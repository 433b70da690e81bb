"""Nobody can be flooded with friend requests or reports: past a limit the answer is 429 with Retry-After."""

import pytest
from django.test import Client

from accounts.models import FriendRequest, Report

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_friend_limit(settings):
    settings.FRIEND_REQUEST_RATE_BURST, settings.FRIEND_REQUEST_RATE_PER_HOUR = 2, 1


def ask(client, person):
    return client.post("/api/friends/requests/", {"user": person.pk}, format="json")


def test_friend_requests_past_the_burst_are_429_with_retry_after_and_store_nothing(
    api_as, ann, ben, bob, make_user, tight_friend_limit
):
    client = api_as(ann)
    assert ask(client, ben).status_code == 201 and ask(client, bob).status_code == 201
    cat = make_user("cat")
    refused = ask(client, cat)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled" and 3000 < refused.json()["retry_after"] <= 3601
    assert 3000 < int(refused["Retry-After"]) <= refused.json()["retry_after"]
    assert not FriendRequest.objects.filter(to_user=cat).exists()
    assert ask(api_as(ben), cat).status_code == 201  # Each person has their own allowance.


def test_cancelling_and_asking_again_spends_the_allowance_too(api_as, ann, ben, tight_friend_limit):
    client = api_as(ann)
    assert ask(client, ben).status_code == 201
    request_id = FriendRequest.objects.get(from_user=ann, to_user=ben).pk
    assert client.delete(f"/api/friends/requests/{request_id}/").status_code == 204
    assert ask(client, ben).status_code == 201
    assert client.delete(f"/api/friends/requests/{FriendRequest.objects.get().pk}/").status_code == 204
    assert ask(client, ben).status_code == 429
    assert not FriendRequest.objects.exists()


def test_a_blocked_sender_is_limited_like_anyone_so_the_block_stays_secret(api_as, ann, ben, bob, tight_friend_limit):
    from accounts import services

    services.block_create(blocker=ben, blocked=ann)
    client = api_as(ann)
    assert [ask(client, person).status_code for person in (ben, bob, ben)] == [201, 201, 429]


def test_the_friends_page_and_the_profile_say_when_asking_too_often(ann, ben, bob, make_user, tight_friend_limit):
    browser = Client()
    browser.force_login(ann)
    assert browser.post("/friends/requests/", {"handle": "ben"}).status_code == 302
    assert browser.post("/friends/requests/", {"handle": "bob"}).status_code == 302
    make_user("cat")
    page = browser.post("/friends/requests/", {"handle": "cat"})
    assert page.status_code == 429 and "You are sending too fast" in page.content.decode()
    profile = browser.post("/u/cat/friend/", follow=True)
    assert "You are sending too fast" in profile.content.decode()
    assert not FriendRequest.objects.filter(to_user__handle="cat").exists()


def test_reports_past_the_hourly_limit_are_429_with_retry_after(api_as, ann, ben):
    client = api_as(ann)
    for _ in range(30):
        assert client.post("/api/reports/", {"user": ben.pk, "reason": "spam"}, format="json").status_code == 201
    refused = client.post("/api/reports/", {"user": ben.pk, "reason": "spam"}, format="json")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0 and refused.json()["retry_after"] > 0
    assert Report.objects.filter(reporter=ann).count() == 30
