"""Direct conversations and the people's rules: blocks (either way) and "friends only"."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services as account_services
from accounts.models import DmPolicy
from chat import services as chat_services
from chat.models import Message
from rooms import services
from rooms.models import Room

pytestmark = pytest.mark.django_db

UNAVAILABLE = "This person cannot be messaged."


def send(author, room, body="hi"):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


@pytest.mark.parametrize("blocker", ["ann", "ben"])
def test_no_new_direct_room_between_people_in_a_block(blocker, ann, ben):
    people = {"ann": ann, "ben": ben}
    account_services.block_create(blocker=people[blocker], blocked=ben if blocker == "ann" else ann)
    with pytest.raises(ValidationError) as refused:
        services.direct_room_get_or_create(user=ann, other=ben)
    assert refused.value.message_dict == {"user": [UNAVAILABLE]}
    assert not Room.objects.filter(kind=Room.Kind.DIRECT).exists()


def test_the_blocked_person_gets_the_same_answer_as_for_a_closed_account(ann, ben, make_user, api_as):
    account_services.block_create(blocker=ann, blocked=ben)
    gone = make_user("gone")
    gone.is_active = False
    gone.save()
    to_blocker = api_as(ben).post("/api/rooms/direct/", {"user": ann.pk}, format="json")
    to_closed = api_as(ben).post("/api/rooms/direct/", {"user": gone.pk}, format="json")
    assert to_blocker.status_code == to_closed.status_code == 400
    assert to_blocker.json() == to_closed.json()


def test_an_existing_direct_room_becomes_read_only_for_both(ann, ben, api_as):
    direct, _ = services.direct_room_get_or_create(user=ann, other=ben)
    send(ann, direct, "before")
    account_services.block_create(blocker=ben, blocked=ann)

    for author in (ann, ben):
        with pytest.raises(PermissionDenied):
            send(author, direct)
    response = api_as(ann).post(
        f"/api/rooms/{direct.pk}/messages/", {"body": "hello?", "client_id": str(uuid.uuid4())}, format="json"
    )
    assert response.status_code == 403 and "blocked" not in response.json()["detail"]
    assert response.json()["code"] == "permission_denied"
    # The history stays, and so does the room.
    assert list(Message.objects.filter(room=direct).values_list("body", flat=True)) == ["before"]
    assert services.direct_room_get_or_create(user=ann, other=ben) == (direct, False)


def test_unblocking_opens_the_conversation_again(ann, ben):
    direct, _ = services.direct_room_get_or_create(user=ann, other=ben)
    account_services.block_create(blocker=ann, blocked=ben)
    account_services.block_remove(blocker=ann, blocked_id=ben.pk)
    assert send(ben, direct).seq == 1


def test_friends_only_people_can_be_messaged_by_friends_alone(ann, ben, bob):
    ann.dm_policy = DmPolicy.FRIENDS
    ann.save()
    with pytest.raises(ValidationError):
        services.direct_room_get_or_create(user=ben, other=ann)
    account_services.friend_request_send(sender=bob, recipient=ann)
    account_services.friend_request_send(sender=ann, recipient=bob)  # crossing requests: friends
    direct, created = services.direct_room_get_or_create(user=bob, other=ann)
    assert created and send(bob, direct).seq == 1
    # She may still write to anyone herself, and they may answer her.
    started, created = services.direct_room_get_or_create(user=ann, other=ben)
    assert created and send(ben, started).seq == 1


def test_group_rooms_are_not_affected_by_blocks(ann, ben, room):
    account_services.block_create(blocker=ann, blocked=ben)
    assert send(ben, room).seq == 1


def test_a_person_in_a_block_is_not_found_by_id(ann, ben, api_as):
    account_services.block_create(blocker=ann, blocked=ben)
    response = api_as(ben).get(f"/api/users/{ann.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
