"""Friend requests, friendships and the friends list: API, pages and the queries they cost."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts import selectors, services
from accounts.api import PublicUserSerializer
from accounts.models import FriendRequest, FriendRequestPolicy, Friendship, User
from tests.accounts.social import befriend, request_between

pytestmark = pytest.mark.django_db


def ask(client, **body):
    return client.post("/api/friends/requests/", body, format="json")


def friend_handles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["user"]["handle"] for row in response.json()["results"]]


# Sending, accepting, declining, cancelling


def test_a_request_by_id_waits_for_the_recipient_on_both_sides(ann, ben, api_as):
    sent = ask(api_as(ann), user=ben.pk)

    assert sent.status_code == 201
    assert sent.json()["status"] == "requested" and sent.json()["user"]["handle"] == "ben"
    mine, theirs = api_as(ann).get("/api/friends/requests/").json(), api_as(ben).get("/api/friends/requests/").json()
    assert [r["to_user"]["handle"] for r in mine["outgoing"]] == ["ben"] and mine["incoming"] == []
    assert [r["from_user"]["handle"] for r in theirs["incoming"]] == ["ann"] and theirs["outgoing"] == []
    assert not selectors.are_friends(a_id=ann.pk, b_id=ben.pk)


def test_a_request_by_handle_ignores_case_and_the_at(ann, ben, api_as):
    assert ask(api_as(ann), handle="@BEN").status_code == 201
    assert request_between(ann, ben) is not None


def test_accepting_makes_both_friends_and_removes_the_request(ann, ben, api_as):
    ask(api_as(ann), user=ben.pk)
    request_id = request_between(ann, ben).pk

    accepted = api_as(ben).post(f"/api/friends/requests/{request_id}/accept/")

    assert accepted.status_code == 200 and accepted.json() == {**accepted.json(), "status": "friends"}
    assert accepted.json()["user"]["handle"] == "ann"
    assert friend_handles(api_as(ann).get("/api/friends/")) == ["ben"]
    assert friend_handles(api_as(ben).get("/api/friends/")) == ["ann"]
    assert not FriendRequest.objects.exists()


def test_crossing_requests_become_a_friendship(ann, ben, api_as):
    ask(api_as(ann), user=ben.pk)

    crossed = ask(api_as(ben), user=ann.pk)

    assert crossed.status_code == 201 and crossed.json()["status"] == "friends"
    assert selectors.friend_ids(user_id=ann.pk) == {ben.pk} and selectors.friend_ids(user_id=ben.pk) == {ann.pk}
    assert not FriendRequest.objects.exists()


def test_asking_twice_is_harmless(ann, ben, api_as):
    first, second = ask(api_as(ann), user=ben.pk), ask(api_as(ann), user=ben.pk)

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert FriendRequest.objects.filter(from_user=ann, to_user=ben).count() == 1


def test_asking_a_friend_again_is_a_400(ann, ben, api_as):
    befriend(ann, ben)

    response = ask(api_as(ann), user=ben.pk)

    assert response.status_code == 400 and "already friends" in response.json()["fields"]["user"][0]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "user"),
        ({"user": 10**9}, "user"),
        ({"user": "x"}, "user"),
        ({"user": -1}, "user"),
        ({"handle": "nobody_here"}, "handle"),
        ({"handle": "x" * 200}, "handle"),
        ({"handle": "ben", "user": 1}, "user"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(ann, ben, api_as, body, field):
    response = ask(api_as(ann), **body)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


def test_a_request_to_myself_is_a_400(ann, api_as):
    response = ask(api_as(ann), user=ann.pk)

    assert response.status_code == 400 and "yourself" in response.json()["fields"]["user"][0]
    assert not FriendRequest.objects.exists()


def test_unverified_and_inactive_people_cannot_be_asked(ann, make_user, api_as):
    for person in (make_user("newbie", verified=False), make_user("gone", is_active=False)):
        assert ask(api_as(ann), user=person.pk).status_code == 400
    assert not FriendRequest.objects.exists()


def test_only_the_recipient_can_accept_or_decline(ann, ben, bob, api_as):
    ask(api_as(ann), user=ben.pk)
    request_id = request_between(ann, ben).pk

    for person in (ann, bob):
        assert api_as(person).post(f"/api/friends/requests/{request_id}/accept/").status_code == 404
        assert api_as(person).post(f"/api/friends/requests/{request_id}/decline/").status_code == 404
    assert api_as(ben).post("/api/friends/requests/999999/accept/").status_code == 404
    assert request_between(ann, ben) is not None and not Friendship.objects.exists()


def test_declining_removes_the_request_without_a_friendship(ann, ben, api_as):
    ask(api_as(ann), user=ben.pk)

    response = api_as(ben).post(f"/api/friends/requests/{request_between(ann, ben).pk}/decline/")

    assert response.status_code == 204
    assert not FriendRequest.objects.exists() and not Friendship.objects.exists()
    assert ask(api_as(ann), user=ben.pk).status_code == 201  # asking again later is allowed


def test_only_the_sender_can_cancel(ann, ben, api_as):
    ask(api_as(ann), user=ben.pk)
    request_id = request_between(ann, ben).pk

    assert api_as(ben).delete(f"/api/friends/requests/{request_id}/").status_code == 404
    assert api_as(ann).delete(f"/api/friends/requests/{request_id}/").status_code == 204
    assert not FriendRequest.objects.exists()
    assert api_as(ben).post(f"/api/friends/requests/{request_id}/accept/").status_code == 404


def test_accepting_a_request_withdrawn_meanwhile_is_refused(ann, ben):
    services.friend_request_send(sender=ann, recipient=ben)
    stale = request_between(ann, ben)
    services.friend_request_cancel(request=FriendRequest.objects.get(pk=stale.pk))

    with pytest.raises(Exception, match="withdrawn"):
        services.friend_request_accept(request=stale)
    assert not Friendship.objects.exists()


def test_unfriending_ends_it_for_both(ann, ben, bob, api_as):
    befriend(ann, ben)
    befriend(ann, bob)

    assert api_as(ben).delete(f"/api/friends/{ann.pk}/").status_code == 204

    assert selectors.friend_ids(user_id=ann.pk) == {bob.pk} and selectors.friend_ids(user_id=ben.pk) == set()
    assert api_as(ben).delete(f"/api/friends/{ann.pk}/").status_code == 404
    assert api_as(ben).delete("/api/friends/999999/").status_code == 404


# Who may ask


def test_people_who_take_no_requests_cannot_be_asked(ann, ben, api_as):
    ben.friend_request_policy = FriendRequestPolicy.NOBODY
    ben.save()

    response = ask(api_as(ann), user=ben.pk)

    assert response.status_code == 400 and "does not accept" in response.json()["fields"]["user"][0]
    assert not FriendRequest.objects.exists()


def test_friends_of_friends_only_means_a_common_friend_is_needed(ann, ben, bob, make_user, api_as):
    cy = make_user("cy")
    befriend(bob, ben)
    ben.friend_request_policy = FriendRequestPolicy.FRIENDS_OF_FRIENDS
    ben.save()

    assert ask(api_as(ann), user=ben.pk).status_code == 400
    befriend(ann, bob)
    assert ask(api_as(ann), user=ben.pk).status_code == 201
    assert ask(api_as(cy), user=ben.pk).status_code == 400


# The list


def test_the_list_puts_online_friends_first_then_orders_by_handle(ann, make_user, api_as, online):
    people = {handle: make_user(handle) for handle in ("zoe", "yuri", "abe", "mia")}
    for person in people.values():
        befriend(ann, person)
    people["mia"].last_seen = timezone.now()
    people["mia"].save()
    online(people["zoe"], people["mia"])

    body = api_as(ann).get("/api/friends/").json()

    assert [row["user"]["handle"] for row in body["results"]] == ["mia", "zoe", "abe", "yuri"]
    assert [row["online"] for row in body["results"]] == [True, True, False, False]
    assert body["results"][0]["user"]["last_seen"] is not None
    assert body["count"] == 4 and body["online_count"] == 2 and body["next"] is None


def test_a_long_list_comes_in_pages_of_a_hundred_through_next(ann, make_user, api_as):
    for number in range(selectors.FRIENDS_PAGE_SIZE + 3):
        Friendship.objects.bulk_create(
            [
                Friendship(user=ann, friend=(friend := make_user(f"f{number:03d}"))),
                Friendship(user=friend, friend=ann),
            ]
        )
    client = api_as(ann)

    first = client.get("/api/friends/").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == selectors.FRIENDS_PAGE_SIZE and first["count"] == selectors.FRIENDS_PAGE_SIZE + 3
    assert [row["user"]["handle"] for row in second["results"]] == ["f100", "f101", "f102"]
    assert second["next"] is None


def test_pages_follow_one_another_exactly_whatever_characters_the_handles_hold(ann, make_user, online):
    # A language collation would sort "_" apart from how the cursor compares: pages would skip or repeat.
    handles = ["a_b", "aab", "Ab_", "ab1", "_x_", "z_z", "zz9", "b__"]
    people = [make_user(handle) for handle in handles]
    Friendship.objects.bulk_create(
        [Friendship(user=ann, friend=person) for person in people]
        + [Friendship(user=person, friend=ann) for person in people]
    )
    online(people[0], people[5])
    shown, cursor = [], None
    while True:
        page = selectors.friends_page(user=ann, cursor=cursor, limit=3)
        shown += [friend.handle for friend in page.friends]
        if not (cursor := page.next_cursor):
            break
    offline = sorted((handle for handle in handles if handle not in ("a_b", "z_z")), key=str.upper)
    assert shown == ["a_b", "z_z", *offline]


def test_each_friend_is_the_public_profile_any_other_answer_gives(ann, ben, api_as):
    ben.avatar.name, ben.avatar_thumbnail.name = "avatars/ben.webp", "avatars/ben-small.webp"
    ben.last_seen = timezone.now()
    ben.save()
    befriend(ann, ben)

    row = api_as(ann).get("/api/friends/").json()["results"][0]

    assert row == {"user": PublicUserSerializer(User.objects.get(pk=ben.pk)).data, "online": False}
    assert row["user"]["avatar_url"].endswith("avatars/ben.webp")


@pytest.mark.parametrize("cursor", ["nonsense", "MjpoaQ", "x" * 101, "0:"])
def test_a_bad_cursor_is_a_400(ann, api_as, cursor):
    response = api_as(ann).get("/api/friends/", {"cursor": cursor})

    assert response.status_code == 400 and "cursor" in response.json()["fields"]


@pytest.mark.parametrize("count", [2, 40])
def test_the_list_costs_the_same_queries_for_2_or_40_friends(
    ann, make_user, api_as, online, count, django_assert_num_queries
):
    friends = [make_user(f"pal{number}") for number in range(count)]
    Friendship.objects.bulk_create(
        [Friendship(user=ann, friend=f) for f in friends] + [Friendship(user=f, friend=ann) for f in friends]
    )
    online(friends[0])
    client = api_as(ann)

    # The user behind the token, every friend's id (PostgreSQL: to build the friend set that Redis then
    # keeps), then the page: counts and rows in one statement on PostgreSQL, the rows alone on SQLite.
    with django_assert_num_queries(3):
        response = client.get("/api/friends/")

    assert len(response.json()["results"]) == count and response.json()["online_count"] == 1


@pytest.mark.parametrize("count", [1, 10])
def test_pending_requests_cost_the_same_queries_however_many(ann, make_user, api_as, count, django_assert_num_queries):
    for number in range(count):
        services.friend_request_send(sender=make_user(f"in{number}"), recipient=ann)
        services.friend_request_send(sender=ann, recipient=make_user(f"out{number}"))
    client = api_as(ann)

    with django_assert_num_queries(3):  # the user behind the token, incoming, outgoing
        body = client.get("/api/friends/requests/").json()

    assert len(body["incoming"]) == len(body["outgoing"]) == count


# Sign-in


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/friends/"),
        ("delete", "/api/friends/1/"),
        ("get", "/api/friends/requests/"),
        ("post", "/api/friends/requests/"),
        ("delete", "/api/friends/requests/1/"),
        ("post", "/api/friends/requests/1/accept/"),
        ("post", "/api/friends/requests/1/decline/"),
    ],
)
def test_strangers_get_401_and_unverified_people_403(api, api_as, make_user, method, path):
    assert getattr(api, method)(path).status_code == 401

    response = getattr(api_as(make_user("newbie", verified=False)), method)(path)

    assert response.status_code == 403 and response.json()["code"] == "email_not_verified"


# The page


def signed_in(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def csrf_of(page) -> str:
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()


def test_the_page_shows_friends_with_presence_and_last_seen(ann, ben, bob, online):
    befriend(ann, ben)
    befriend(ann, bob)
    bob.last_seen = timezone.now() - timezone.timedelta(hours=2)
    bob.save()
    online(ben)

    page = signed_in(ann).get("/friends/")

    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("@ben") < html.index("@bob")
    assert 'class="presence online"' in html and "last seen 2\xa0hours ago" in html
    assert 'href="/friends/"' in html  # the navigation link


def test_the_page_sends_a_request_by_handle_with_its_csrf_token(ann, ben):
    browser = signed_in(ann)
    token = csrf_of(browser.get("/friends/"))

    assert browser.post("/friends/requests/", {"handle": "@ben"}).status_code == 403  # no token
    sent = browser.post("/friends/requests/", {"handle": "@ben", "csrfmiddlewaretoken": token}, follow=True)

    assert b"Friend request sent to @ben" in sent.content
    assert request_between(ann, ben) is not None
    assert b"Requests you sent" in sent.content and b"/cancel/" in sent.content


def test_the_page_shows_what_went_wrong_with_a_handle(ann):
    browser = signed_in(ann)
    token = csrf_of(browser.get("/friends/"))

    unknown = browser.post("/friends/requests/", {"handle": "nobody", "csrfmiddlewaretoken": token})
    myself = browser.post("/friends/requests/", {"handle": "ann", "csrfmiddlewaretoken": token})

    assert unknown.status_code == 400 and b"No one has that handle" in unknown.content
    assert myself.status_code == 400 and b"to yourself" in myself.content


def test_incoming_requests_are_accepted_or_declined_on_the_page(ann, ben, bob):
    services.friend_request_send(sender=ben, recipient=ann)
    services.friend_request_send(sender=bob, recipient=ann)
    browser = signed_in(ann)
    page = browser.get("/friends/")
    token = csrf_of(page)
    from_ben, from_bob = request_between(ben, ann), request_between(bob, ann)
    assert f"/friends/requests/{from_ben.pk}/accept/".encode() in page.content

    browser.post(f"/friends/requests/{from_ben.pk}/accept/", {"csrfmiddlewaretoken": token})
    browser.post(f"/friends/requests/{from_bob.pk}/decline/", {"csrfmiddlewaretoken": token})

    assert selectors.friend_ids(user_id=ann.pk) == {ben.pk} and not FriendRequest.objects.exists()
    assert browser.get(f"/friends/requests/{from_ben.pk}/accept/").status_code == 405


def test_an_outgoing_request_is_cancelled_on_the_page(ann, ben):
    services.friend_request_send(sender=ann, recipient=ben)
    browser = signed_in(ann)
    token = csrf_of(browser.get("/friends/"))
    request_id = request_between(ann, ben).pk

    assert signed_in(ben).post(f"/friends/requests/{request_id}/cancel/").status_code == 403  # no token
    browser.post(f"/friends/requests/{request_id}/cancel/", {"csrfmiddlewaretoken": token})

    assert not FriendRequest.objects.exists()


def test_display_names_are_escaped_on_the_page(ann, make_user):
    mallory = make_user("mallory", display_name="<script>alert(1)</script>")
    befriend(ann, mallory)
    services.friend_request_send(sender=make_user("eve", display_name="<b>eve</b>"), recipient=ann)

    html = signed_in(ann).get("/friends/").content.decode()

    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>eve</b>" not in html and "&lt;b&gt;eve&lt;/b&gt;" in html


def test_the_page_needs_a_verified_sign_in(make_user):
    assert Client().get("/friends/").url.startswith("/login/")
    browser = Client()
    browser.force_login(make_user("newbie", verified=False))
    assert browser.get("/friends/").url == "/verify/"


def test_the_profile_offers_add_then_cancel_then_unfriend(ann, ben):
    browser = signed_in(ann)
    profile = browser.get("/u/ben/")
    token = csrf_of(profile)
    assert b"Add friend" in profile.content and b"Block" in profile.content

    browser.post("/u/ben/friend/", {"csrfmiddlewaretoken": token})
    assert b"Cancel friend request" in browser.get("/u/ben/").content
    assert b"Accept friend request" in signed_in(ben).get("/u/ann/").content

    services.friend_request_accept(request=request_between(ann, ben))
    assert b"Unfriend" in browser.get("/u/ben/").content
    browser.post("/u/ben/unfriend/", {"csrfmiddlewaretoken": token})
    assert not selectors.are_friends(a_id=ann.pk, b_id=ben.pk)
    assert b"Add friend" in browser.get("/u/ben/").content


def test_profile_actions_need_the_csrf_token_and_a_post(ann, ben):
    browser = signed_in(ann)

    assert browser.post("/u/ben/friend/").status_code == 403
    assert browser.get("/u/ben/friend/").status_code == 405
    assert not FriendRequest.objects.exists()


# At the same moment (PostgreSQL's row locks)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_requests_crossing_at_the_same_moment_still_become_one_friendship(ann, ben):
    from tests.chat.concurrency import race_against_open_transaction

    first, second = race_against_open_transaction(
        lambda: services.friend_request_send(sender=ann, recipient=ben),
        lambda: services.friend_request_send(sender=ben, recipient=ann),
    )

    assert (first.status, second.status) == ("requested", "friends")
    assert selectors.are_friends(a_id=ann.pk, b_id=ben.pk) and selectors.are_friends(a_id=ben.pk, b_id=ann.pk)
    assert not FriendRequest.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_block_at_the_same_moment_as_an_accept_leaves_no_friendship(ann, ben):
    from tests.chat.concurrency import race_against_open_transaction

    services.friend_request_send(sender=ann, recipient=ben)
    pending = request_between(ann, ben)

    race_against_open_transaction(
        lambda: services.block_create(blocker=ann, blocked=ben),
        lambda: pytest.raises(Exception, services.friend_request_accept, request=pending),
    )

    assert not Friendship.objects.exists() and selectors.blocked_between(a_id=ann.pk, b_id=ben.pk)


# Notifications


def kinds_of(user) -> list[tuple[str, str]]:
    from chat.models import Notification

    return [(n.kind, n.actor.handle) for n in Notification.objects.filter(user=user).select_related("actor")]


def test_a_request_and_its_acceptance_notify_once_committed(ann, ben, api_as, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ask(api_as(ann), user=ben.pk)
        ask(api_as(ann), user=ben.pk)  # again: nothing new to tell
    assert kinds_of(ben) == [("friend_request", "ann")]

    with django_capture_on_commit_callbacks(execute=True):
        api_as(ben).post(f"/api/friends/requests/{request_between(ann, ben).pk}/accept/")

    assert kinds_of(ann) == [("friend_accepted", "ben")]


def test_a_crossing_request_tells_the_first_asker_they_are_friends(ann, ben, django_capture_on_commit_callbacks):
    services.friend_request_send(sender=ann, recipient=ben)

    with django_capture_on_commit_callbacks(execute=True):
        services.friend_request_send(sender=ben, recipient=ann)

    assert kinds_of(ann) == [("friend_accepted", "ben")]


def test_a_swallowed_request_notifies_nobody(ann, ben, django_capture_on_commit_callbacks):
    services.block_create(blocker=ben, blocked=ann)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.friend_request_send(sender=ann, recipient=ben)

    assert callbacks == [] and kinds_of(ben) == []
