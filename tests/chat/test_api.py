import uuid

import pytest

from chat import events, selectors
from chat.models import Message, Reaction
from rooms.models import Membership

pytestmark = pytest.mark.django_db


def post_message(client, room, body="hello", client_id=None, **extra):
    data = {"body": body, "client_id": str(client_id or uuid.uuid4()), **extra}
    return client.post(f"/api/rooms/{room.pk}/messages/", data, format="json")


def test_sending_is_201_and_a_retry_is_200_with_the_original(ann, room, api_as):
    client, client_id = api_as(ann), uuid.uuid4()
    created = post_message(client, room, "hello", client_id)
    retried = post_message(client, room, "hello", client_id)
    assert (created.status_code, retried.status_code) == (201, 200)
    assert created.data == retried.data
    assert created.data == events.message_payload(Message.objects.get())


def test_the_list_is_the_newest_messages_as_the_socket_shows_them(ann, ben, room, api_as):
    post_message(api_as(ben), room, "first")
    reply_to = Message.objects.get().pk
    post_message(api_as(ann), room, "second", reply_to=reply_to)
    response = api_as(ann).get(f"/api/rooms/{room.pk}/messages/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [message["body"] for message in results] == ["first", "second"]
    assert results == [events.message_payload(m) for m in selectors.messages_recent(room_id=room.pk)]
    assert results[1]["reply_to"]["author"] == "ben"


def test_listing_messages_costs_the_same_queries_whatever_their_number(
    ann, ben, room, api_as, django_assert_num_queries, history_page_queries
):
    client = api_as(ann)
    post_message(client, room)
    with django_assert_num_queries(history_page_queries):
        client.get(f"/api/rooms/{room.pk}/messages/")
    for number in range(5):
        response = post_message(api_as(ben), room, f"reply {number}", reply_to=Message.objects.first().pk)
        Reaction.objects.create(message_id=response.data["id"], user=ann, emoji="👍")
    with django_assert_num_queries(history_page_queries):
        assert len(client.get(f"/api/rooms/{room.pk}/messages/").data["results"]) == 6


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"body": "   ", "client_id": str(uuid.uuid4())}, "body"),
        ({"body": "x" * 4001, "client_id": str(uuid.uuid4())}, "body"),
        ({"body": "hi"}, "client_id"),
        ({"body": "hi", "client_id": "nope"}, "client_id"),
        ({"body": "hi", "client_id": str(uuid.uuid4()), "reply_to": 999_999}, "reply_to"),
    ],
)
def test_bad_messages_answer_400_with_the_field(ann, room, api_as, data, field):
    response = api_as(ann).post(f"/api/rooms/{room.pk}/messages/", data, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "invalid" and field in response.data["fields"]


def test_outsiders_get_404_for_everything_about_a_room(room, make_user, api_as, ann):
    message_id = post_message(api_as(ann), room).data["id"]
    client = api_as(make_user())
    assert post_message(client, room).status_code == 404
    assert client.post(f"/api/rooms/{room.pk}/read/", {"seq": 1}, format="json").status_code == 404
    assert client.patch(f"/api/messages/{message_id}/", {"body": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/messages/{message_id}/").status_code == 404
    assert client.post(f"/api/messages/{message_id}/reactions/", {"emoji": "👍"}, format="json").status_code == 404


def test_editing_and_deleting(ann, ben, room, api_as):
    message_id = post_message(api_as(ann), room, "helo").data["id"]
    assert api_as(ben).patch(f"/api/messages/{message_id}/", {"body": "x"}, format="json").status_code == 403
    edited = api_as(ann).patch(f"/api/messages/{message_id}/", {"body": "hello"}, format="json")
    assert edited.status_code == 200 and edited.data["body"] == "hello" and edited.data["edited_at"]
    assert api_as(ben).delete(f"/api/messages/{message_id}/").status_code == 403
    assert api_as(ann).delete(f"/api/messages/{message_id}/").status_code == 204
    tombstone = api_as(ben).get(f"/api/rooms/{room.pk}/messages/").data["results"][0]
    assert (tombstone["id"], tombstone["body"], tombstone["deleted"]) == (message_id, "", True)


def test_reacting_and_taking_it_back(ann, ben, room, api_as):
    message_id = post_message(api_as(ann), room).data["id"]
    path = f"/api/messages/{message_id}/reactions/"
    client = api_as(ben)
    assert client.post(path, {"emoji": "🎉"}, format="json").status_code == 204
    assert client.post(path, {"emoji": "🎉"}, format="json").status_code == 204
    assert api_as(ann).get(f"/api/rooms/{room.pk}/messages/").data["results"][0]["reactions"] == [
        {"emoji": "🎉", "count": 1, "user_ids": [ben.pk], "mine": False}
    ]
    assert client.delete(path, {"emoji": "🎉"}, format="json").status_code == 204
    assert not Reaction.objects.exists()
    client.post(path, {"emoji": "🎉"}, format="json")
    assert client.delete(f"{path}?emoji=🎉").status_code == 204
    assert not Reaction.objects.exists()
    bad = client.post(path, {"emoji": "two words"}, format="json")
    assert bad.status_code == 400 and "emoji" in bad.data["fields"]


def test_marking_read(ann, ben, room, api_as):
    for _ in range(2):
        post_message(api_as(ann), room)
    response = api_as(ben).post(f"/api/rooms/{room.pk}/read/", {"seq": 5}, format="json")
    assert response.status_code == 200 and response.data == {"room": room.pk, "last_read_seq": 2}
    assert Membership.objects.get(room=room, user=ben).last_read_seq == 2
    bad = api_as(ben).post(f"/api/rooms/{room.pk}/read/", {"seq": -1}, format="json")
    assert bad.status_code == 400 and "seq" in bad.data["fields"]


def test_sending_too_fast_is_429_with_retry_after(ann, room, api_as, settings):
    settings.MESSAGE_RATE_BURST = 1
    settings.MESSAGE_RATE_PER_SECOND = 0.5
    client = api_as(ann)
    assert post_message(client, room).status_code == 201
    limited = post_message(client, room)
    assert limited.status_code == 429
    assert limited["Retry-After"] == "2"
    assert limited.data["code"] == "throttled" and limited.data["retry_after"] >= 2
