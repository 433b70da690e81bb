"""Blocks: what they end, what they hide, and that the blocked person is not told."""

import re

import pytest
from django.test import Client

from accounts import selectors, services
from accounts.models import Block, FriendRequest, Friendship
from tests.accounts.social import befriend, request_between

pytestmark = pytest.mark.django_db


def block(client, person):
    return client.post("/api/blocks/", {"user": person.pk}, format="json")


def test_blocking_lists_the_person_and_twice_is_harmless(ann, ben, api_as):
    first, second = block(api_as(ann), ben), block(api_as(ann), ben)

    assert first.status_code == second.status_code == 201
    assert first.json()["user"]["handle"] == "ben" and first.json() == second.json()
    assert [row["user"]["handle"] for row in api_as(ann).get("/api/blocks/").json()] == ["ben"]
    assert api_as(ben).get("/api/blocks/").json() == []
    assert Block.objects.count() == 1


@pytest.mark.parametrize("body", [{}, {"user": "x"}, {"user": 10**9}, {"user": 0}])
def test_blocking_nobody_is_a_400(ann, api_as, body):
    response = api_as(ann).post("/api/blocks/", body, format="json")

    assert response.status_code == 400 and "user" in response.json()["fields"]


def test_blocking_myself_is_a_400(ann, api_as):
    response = block(api_as(ann), ann)

    assert response.status_code == 400 and "yourself" in response.json()["fields"]["user"][0]


def test_blocking_ends_the_friendship_and_every_pending_request(ann, ben, bob, api_as):
    befriend(ann, ben)
    services.friend_request_send(sender=ann, recipient=bob)
    services.friend_request_send(sender=bob, recipient=ann)  # crossing: they are friends now
    services.friendship_end(user=ann, friend=bob)
    services.friend_request_send(sender=bob, recipient=ann)

    block(api_as(ann), ben)
    block(api_as(ann), bob)

    assert not Friendship.objects.exists() and not FriendRequest.objects.exists()


def test_a_blocked_persons_request_answers_as_sent_but_nothing_is_stored(ann, ben, bob, api_as):
    block(api_as(ben), ann)

    swallowed = api_as(ann).post("/api/friends/requests/", {"user": ben.pk}, format="json")
    normal = api_as(bob).post("/api/friends/requests/", {"user": ben.pk}, format="json")

    assert swallowed.status_code == normal.status_code == 201
    assert swallowed.json() == normal.json() == {"status": "requested", "user": normal.json()["user"]}
    assert request_between(ann, ben) is None
    assert [r["from_user"]["handle"] for r in api_as(ben).get("/api/friends/requests/").json()["incoming"]] == ["bob"]


def test_i_cannot_ask_someone_i_blocked_until_i_unblock_them(ann, ben, api_as):
    block(api_as(ann), ben)

    refused = api_as(ann).post("/api/friends/requests/", {"user": ben.pk}, format="json")

    assert refused.status_code == 400 and "Unblock" in refused.json()["fields"]["user"][0]
    assert api_as(ann).delete(f"/api/blocks/{ben.pk}/").status_code == 204
    assert api_as(ann).post("/api/friends/requests/", {"user": ben.pk}, format="json").status_code == 201


def test_unblocking_restores_nothing_and_unknown_blocks_are_404s(ann, ben, api_as):
    befriend(ann, ben)
    block(api_as(ann), ben)

    assert api_as(ben).delete(f"/api/blocks/{ann.pk}/").status_code == 404  # only the blocker can unblock
    assert api_as(ann).delete(f"/api/blocks/{ben.pk}/").status_code == 204
    assert api_as(ann).delete(f"/api/blocks/{ben.pk}/").status_code == 404
    assert not selectors.are_friends(a_id=ann.pk, b_id=ben.pk)


def test_the_selectors_see_a_block_from_either_side(ann, ben, bob, make_user):
    cy = make_user("cy")
    services.block_create(blocker=ann, blocked=ben)
    services.block_create(blocker=bob, blocked=ann)

    assert selectors.blocked_between(a_id=ann.pk, b_id=ben.pk) and selectors.blocked_between(a_id=ben.pk, b_id=ann.pk)
    assert not selectors.blocked_between(a_id=ann.pk, b_id=cy.pk)
    assert selectors.blocked_ids(user_id=ann.pk) == {ben.pk, bob.pk}
    assert selectors.blocked_ids(user_id=ben.pk) == {ann.pk}
    assert selectors.blocked_ids(user_id=cy.pk) == set()


def test_nobody_in_a_block_may_message_the_other(ann, ben):
    services.block_create(blocker=ann, blocked=ben)

    assert not selectors.dm_allowed(sender=ben, recipient=ann)
    assert not selectors.dm_allowed(sender=ann, recipient=ben)


def test_people_search_leaves_out_people_in_a_block_with_me(ann, make_user, api_as):
    blocked_by_me, blocking_me, stranger = make_user("benny"), make_user("bella"), make_user("bert")
    services.block_create(blocker=ann, blocked=blocked_by_me)
    services.block_create(blocker=blocking_me, blocked=ann)

    found = api_as(ann).get("/api/users/", {"search": "be"}).json()

    assert [person["handle"] for person in found] == ["bert"]
    assert [p["handle"] for p in api_as(stranger).get("/api/users/", {"search": "be"}).json()] == ["bella", "benny"]


def test_search_with_blocks_is_still_one_query(ann, make_user, api_as, django_assert_num_queries):
    for number in range(5):
        services.block_create(blocker=ann, blocked=make_user(f"sam{number}"))
        make_user(f"sal{number}")
    client = api_as(ann)

    with django_assert_num_queries(2):  # the user behind the token, the search
        response = client.get("/api/users/", {"search": "sa"})

    assert len(response.json()) == 5


def test_someone_in_a_block_with_me_is_not_found_by_id(ann, ben, api_as):
    services.block_create(blocker=ben, blocked=ann)

    assert api_as(ann).get(f"/api/users/{ben.pk}/").status_code == 404
    assert api_as(ben).get(f"/api/users/{ann.pk}/").status_code == 404


def test_a_blocked_friend_no_longer_sees_me_in_their_friends_list(ann, ben, api_as):
    befriend(ann, ben)
    services.block_create(blocker=ann, blocked=ben)

    assert api_as(ben).get("/api/friends/").json()["results"] == []


@pytest.mark.parametrize(
    "method, path", [("get", "/api/blocks/"), ("post", "/api/blocks/"), ("delete", "/api/blocks/1/")]
)
def test_strangers_get_401_and_unverified_people_403(api, api_as, make_user, method, path):
    assert getattr(api, method)(path).status_code == 401

    response = getattr(api_as(make_user("newbie", verified=False)), method)(path)

    assert response.status_code == 403 and response.json()["code"] == "email_not_verified"


def test_the_profile_blocks_and_unblocks_with_its_csrf_token(ann, ben):
    befriend(ann, ben)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    profile = browser.get("/u/ben/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', profile.content).group(1).decode()

    assert browser.post("/u/ben/block/").status_code == 403
    blocked = browser.post("/u/ben/block/", {"csrfmiddlewaretoken": token}, follow=True)

    assert b"You blocked @ben" in blocked.content and b"Unblock" in blocked.content
    assert b"Add friend" not in blocked.content and b">Message<" not in blocked.content
    assert selectors.blocked_between(a_id=ann.pk, b_id=ben.pk) and not selectors.are_friends(a_id=ann.pk, b_id=ben.pk)
    unblocked = browser.post("/u/ben/unblock/", {"csrfmiddlewaretoken": token}, follow=True)
    assert b"Add friend" in unblocked.content and not Block.objects.exists()


def test_the_blocked_person_sees_an_ordinary_profile(ann, ben):
    services.block_create(blocker=ann, blocked=ben)
    browser = Client()
    browser.force_login(ben)

    page = browser.get("/u/ann/")

    assert b"Add friend" in page.content and b"Unblock" not in page.content
    browser.post("/u/ann/friend/", follow=True)
    assert request_between(ben, ann) is None
