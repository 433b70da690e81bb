"""Message requests: with `dm_policy = requests`, a conversation a non-friend starts waits apart until
accepted, tells its recipient nothing before, and tells its sender nothing at all."""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.test import Client

from accounts import services as account_services
from accounts.models import DmPolicy
from chat import events, notifications
from chat import services as chat_services
from chat.models import Notification
from rooms import message_requests, selectors, services
from rooms.models import Membership
from tests.accounts.social import befriend
from tests.chat.realtime import published, run_all
from tests.chat.sockets import connected

pytestmark = pytest.mark.django_db
PENDING, IGNORED = Membership.Request.PENDING, Membership.Request.IGNORED


@pytest.fixture
def ben(make_user):
    """Takes strangers' messages as requests."""
    return make_user("ben", dm_policy=DmPolicy.REQUESTS)


@pytest.fixture
def asked(ann, ben):
    """The direct room ann (not ben's friend) opened with ben, with one message in it."""
    room, _ = services.direct_room_get_or_create(user=ann, other=ben)
    send(ann, room, "hello @ben, it's ann")
    return room


def send(author, room, body="hi"):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def request_of(user, room) -> str:
    return Membership.objects.get(user=user, room=room).request


def listed_room_ids(client) -> list[int]:
    return [row["room"]["id"] for row in client.get("/api/rooms/").json()]


def browser_for(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


# Which conversations are requests


def test_a_stranger_opening_a_conversation_makes_a_request_for_its_recipient_only(ann, ben, asked):
    assert request_of(ben, asked) == PENDING and request_of(ann, asked) == ""


def test_a_friend_or_someone_open_to_everyone_gets_an_ordinary_conversation(ann, ben, bob, make_user):
    befriend(bob, ben)
    open_to_all = make_user("cy", dm_policy=DmPolicy.EVERYONE)
    with_friend, _ = services.direct_room_get_or_create(user=bob, other=ben)
    with_open, _ = services.direct_room_get_or_create(user=ann, other=open_to_all)
    assert request_of(ben, with_friend) == "" and request_of(open_to_all, with_open) == ""


def test_the_setting_is_one_of_the_privacy_choices(ann, api_as):
    client = api_as(ann)
    assert client.patch("/api/me/", {"dm_policy": "requests"}, format="json").json()["dm_policy"] == "requests"
    bad = client.patch("/api/me/", {"dm_policy": "strangers"}, format="json")
    assert bad.status_code == 400 and "dm_policy" in bad.json()["fields"]


# Waiting apart, silently


def test_a_request_is_not_in_the_recipients_rooms_but_in_their_requests(ann, ben, asked, api_as):
    assert asked.pk not in listed_room_ids(api_as(ben)) and asked.pk in listed_room_ids(api_as(ann))

    [row] = api_as(ben).get("/api/rooms/requests/").json()

    assert row["room"] == asked.pk and row["sender"]["handle"] == "ann" and row["unread"] == 1
    assert row["last_message"]["body"] == "hello @ben, it's ann" and row["created_at"]
    assert api_as(ann).get("/api/rooms/requests/").json() == []


def test_the_recipients_sockets_do_not_follow_a_request(ann, ben, asked):
    assert asked.pk not in selectors.room_ids_of_user(user_id=ben.pk)
    assert asked.pk in selectors.room_ids_of_user(user_id=ann.pk)


def test_opening_a_request_announces_it_to_the_sender_only(ann, ben, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.direct_room_get_or_create(user=ann, other=ben)
    sent = run_all(callbacks)
    assert published(events.user_group(ann.pk), sent) and not published(events.user_group(ben.pk), sent)


def test_nothing_in_a_request_notifies_or_mails_its_recipient(ann, ben, asked, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(ann, asked, "@ben are you there?")  # a mention, run by the eager task
    assert notifications.mentions_notify(message_id=send(ann, asked, "@ben?").pk) == []
    assert notifications.dm_away_notify() == 0  # ben is offline with unread messages
    assert notifications.users_due_for_mail() == []
    assert not Notification.objects.filter(user=ben).exists()


def test_once_accepted_the_conversation_notifies_as_any_other(ann, ben, asked):
    services.message_request_accept(user=ben, room_id=asked.pk)
    assert notifications.dm_away_notify() == 1
    assert list(Notification.objects.filter(user=ben).values_list("kind", flat=True)) == ["dm"]


def test_the_sender_does_not_see_the_recipient_online_until_they_accept(ann, ben, asked, api_as, online):
    online(ann, ben)

    def peer_online():
        rows = api_as(ann).get("/api/rooms/").json()
        return next(row["peer"]["online"] for row in rows if row["room"]["id"] == asked.pk)

    assert not peer_online()
    assert browser_for(ann).get(f"/rooms/{asked.pk}/").context["online"] == {ann.pk}
    assert set(selectors.room_presence_ids(user=ann, room_id=asked.pk)) == {ann.pk}
    # The recipient sees the sender, as in the request's page.
    assert browser_for(ben).get(f"/rooms/{asked.pk}/").context["online"] == {ann.pk, ben.pk}

    services.message_request_accept(user=ben, room_id=asked.pk)
    assert peer_online()
    assert browser_for(ann).get(f"/rooms/{asked.pk}/").context["online"] == {ann.pk, ben.pk}


def test_the_recipient_reads_a_request_but_answers_only_by_accepting(ann, ben, asked, api_as):
    history = api_as(ben).get(f"/api/rooms/{asked.pk}/messages/")
    assert history.status_code == 200 and len(history.json()["results"]) == 1

    refused = api_as(ben).post(f"/api/rooms/{asked.pk}/messages/", {"body": "hi", "client_id": str(uuid.uuid4())})
    with pytest.raises(PermissionDenied):
        send(ben, asked)
    batch = [chat_services.SendRequest(author=ben, room_id=asked.pk, body="hi", client_id=uuid.uuid4()) for _ in "ab"]
    outcomes = chat_services.message_send_many(requests=batch)

    assert refused.status_code == 403 and refused.json()["detail"] == chat_services.REQUEST_UNANSWERED
    assert [type(outcome) for outcome in outcomes] == [PermissionDenied, PermissionDenied]


def test_the_requests_list_costs_the_same_queries_for_1_or_5(ann, ben, make_user, api_as, django_assert_num_queries):
    client = api_as(ben)
    for count in (1, 5):
        while len(message_requests.message_requests_of(user=ben)) < count:
            stranger = make_user()
            room, _ = services.direct_room_get_or_create(user=stranger, other=ben)
            send(stranger, room)
        # The user behind the token, the requests with their rooms, their senders, their newest messages.
        with django_assert_num_queries(4):
            assert len(client.get("/api/rooms/requests/").json()) == count


# Accepting, ignoring, blocking


def test_accepting_makes_it_one_of_my_rooms_and_my_sockets_follow_it(
    ann, ben, asked, api_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(ben).post(f"/api/rooms/requests/{asked.pk}/accept/")
    [joined] = published(events.user_group(ben.pk), run_all(callbacks))

    assert response.status_code == 200 and response.json()["room"]["id"] == asked.pk
    assert joined["type"] == "member.joined" and joined["room"] == asked.pk
    assert asked.pk in listed_room_ids(api_as(ben)) and api_as(ben).get("/api/rooms/requests/").json() == []
    send(ben, asked, "hi ann")  # and answers


def test_opening_the_conversation_myself_accepts_the_request(ann, ben, asked, api_as):
    response = api_as(ben).post("/api/rooms/direct/", {"user": ann.pk}, format="json")
    assert response.status_code == 200 and request_of(ben, asked) == ""


def test_an_ignored_request_leaves_the_list_and_the_sender_sees_no_difference(ann, ben, asked, api_as):
    sender = api_as(ann)
    before = [sender.get(path).json() for path in ("/api/rooms/", f"/api/rooms/{asked.pk}/")]

    response = api_as(ben).post(f"/api/rooms/requests/{asked.pk}/ignore/")
    again = api_as(ben).post(f"/api/rooms/requests/{asked.pk}/ignore/")

    assert response.status_code == again.status_code == 204
    assert [sender.get(path).json() for path in ("/api/rooms/", f"/api/rooms/{asked.pk}/")] == before
    assert (
        sender.post(f"/api/rooms/{asked.pk}/messages/", {"body": "?", "client_id": str(uuid.uuid4())}).status_code
        == 201
    )
    assert request_of(ben, asked) == IGNORED and api_as(ben).get("/api/rooms/requests/").json() == []
    assert asked.pk not in listed_room_ids(api_as(ben))
    assert notifications.dm_away_notify() == 0


def test_an_ignored_request_can_still_be_accepted(ann, ben, asked):
    services.message_request_ignore(user=ben, room_id=asked.pk)
    services.message_request_accept(user=ben, room_id=asked.pk)
    assert request_of(ben, asked) == ""


@pytest.mark.parametrize("action", ["accept", "ignore"])
def test_only_the_recipient_of_a_request_can_answer_it(ann, ben, bob, asked, room, api_as, action):
    for person, room_id in ((ann, asked.pk), (bob, asked.pk), (ben, room.pk), (ben, 999_999)):
        response = api_as(person).post(f"/api/rooms/requests/{room_id}/{action}/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert request_of(ben, asked) == PENDING


@pytest.mark.parametrize("ignored_first", [False, True])
def test_becoming_friends_turns_a_request_into_an_ordinary_conversation(
    ann, ben, asked, api_as, ignored_first, django_capture_on_commit_callbacks
):
    if ignored_first:
        services.message_request_ignore(user=ben, room_id=asked.pk)
    with django_capture_on_commit_callbacks() as callbacks:
        befriend(ann, ben)
    joined = [
        event for event in published(events.user_group(ben.pk), run_all(callbacks)) if event["type"] == "member.joined"
    ]
    assert request_of(ben, asked) == "" and [event["room"] for event in joined] == [asked.pk]
    assert asked.pk in listed_room_ids(api_as(ben))


def test_blocking_the_sender_removes_the_request(ann, ben, asked, api_as):
    account_services.block_create(blocker=ben, blocked=ann)
    assert api_as(ben).get("/api/rooms/requests/").json() == []
    assert request_of(ben, asked) == IGNORED


def test_the_requests_api_needs_a_verified_person(api, make_user, api_as):
    assert api.get("/api/rooms/requests/").status_code == 401
    assert api_as(make_user(verified=False)).post("/api/rooms/requests/1/accept/").status_code == 403


# The page


def test_the_rooms_page_lists_requests_to_accept_or_ignore(ann, ben, asked):
    ann.display_name = "<b>Ann</b>"
    ann.save()
    page = browser_for(ben).get("/rooms/").content.decode()
    assert "Message requests" in page and "&lt;b&gt;Ann&lt;/b&gt;" in page and "<b>Ann</b>" not in page
    assert (
        f'action="/rooms/requests/{asked.pk}/accept/"' in page
        and f'action="/rooms/requests/{asked.pk}/ignore/"' in page
    )
    assert "Message requests" not in browser_for(ann).get("/rooms/").content.decode()


def test_accepting_on_the_page_opens_the_conversation(ann, ben, asked):
    browser = browser_for(ben)
    assert "Message request" in browser.get(f"/rooms/{asked.pk}/").content.decode()
    response = browser.post(f"/rooms/requests/{asked.pk}/accept/")
    assert response.status_code == 302 and response["Location"] == f"/rooms/{asked.pk}/"
    assert (
        request_of(ben, asked) == ""
        and 'aria-label="Message request"' not in browser.get(response["Location"]).content.decode()
    )


def test_ignoring_on_the_page_goes_back_to_the_rooms(ann, ben, asked):
    response = browser_for(ben).post(f"/rooms/requests/{asked.pk}/ignore/")
    assert response.status_code == 302 and response["Location"] == "/rooms/" and request_of(ben, asked) == IGNORED


def test_the_page_actions_need_a_post_with_the_csrf_token(ann, ben, asked):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ben)
    assert browser.get(f"/rooms/requests/{asked.pk}/accept/").status_code == 405
    assert browser.post(f"/rooms/requests/{asked.pk}/accept/").status_code == 403
    assert request_of(ben, asked) == PENDING


# On the socket


@pytest.mark.django_db(transaction=True)
async def test_on_the_socket_a_request_is_silent_until_accepted_then_followed(ann, ben, asked):
    async with connected(ben) as ben_ws, connected(ann) as ann_ws:
        await database_sync_to_async(send)(ann, asked, "still there?")
        await ann_ws.expect("message.new")
        assert await ben_ws.nothing()
        refused = await ben_ws.request("message.send", room=asked.pk, body="hi", client_id=str(uuid.uuid4()))
        assert refused["type"] == "error" and refused["code"] == "forbidden"

        await database_sync_to_async(services.message_request_accept)(user=ben, room_id=asked.pk)
        assert (await ben_ws.expect("member.joined"))["room"] == asked.pk
        await database_sync_to_async(send)(ann, asked, "welcome")
        assert (await ben_ws.expect("message.new"))["message"]["body"] == "welcome"


@pytest.mark.django_db(transaction=True)
async def test_presence_query_of_the_sender_leaves_the_recipient_out(ann, ben, asked):
    async with connected(ben), connected(ann) as ann_ws:
        snapshot = await ann_ws.request("presence.query", room=asked.pk)
        assert snapshot == {"type": "presence.snapshot", "room": asked.pk, "online": [ann.pk]}
