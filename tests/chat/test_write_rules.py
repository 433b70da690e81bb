"""The rules of sending hold for every change to a message: nothing changes in an ended chat, nothing
comes from the unanswered side of a message request, and a chat that ends while a send waits for
its room takes no message (the check is made again under the room's lock)."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone

from chat import services
from chat.models import Message, Reaction
from chat.services import ROOM_CLOSED, SendRequest
from rooms.models import Membership, Room
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the batch path is PostgreSQL's")


def send(author, room, body="hi", client_id=None) -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=client_id or uuid.uuid4())


def close(room) -> None:
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())


def test_nothing_changes_in_a_chat_that_ended(ann, ben, room):
    said = send(ann, room, "you are awful")
    services.reaction_add(user=ben, message_id=said.pk, emoji="😠")
    close(room)

    changes = [
        lambda: services.message_edit(user=ann, message_id=said.pk, body="you are lovely"),
        lambda: services.message_delete(user=ann, message_id=said.pk),
        lambda: services.reaction_add(user=ann, message_id=said.pk, emoji="❤️"),
        lambda: services.reaction_remove(user=ben, message_id=said.pk, emoji="😠"),
    ]
    for change in changes:
        with pytest.raises(PermissionDenied, match=ROOM_CLOSED):
            change()

    said.refresh_from_db()
    assert (said.body, said.deleted_at, said.edited_at) == ("you are awful", None, None)
    assert list(Reaction.objects.values_list("user_id", "emoji")) == [(ben.pk, "😠")]


def test_the_recipient_of_a_message_request_cannot_react_before_accepting(ann, ben, room):
    said = send(ann, room, "hello stranger")
    Membership.objects.filter(room=room, user=ben).update(request=Membership.Request.PENDING)

    with pytest.raises(PermissionDenied, match=services.REQUEST_UNANSWERED):
        services.reaction_add(user=ben, message_id=said.pk, emoji="👋")
    Reaction.objects.create(message=said, user=ben, emoji="👋")  # One from before: not taken back either.
    with pytest.raises(PermissionDenied, match=services.REQUEST_UNANSWERED):
        services.reaction_remove(user=ben, message_id=said.pk, emoji="👋")
    assert Reaction.objects.count() == 1


def test_a_batch_gives_a_retry_its_original_in_a_chat_that_ended_and_refuses_new_messages(ann, ben, room):
    earlier = send(ann, room, "before it ended")
    close(room)
    retry = SendRequest(author=ann, room_id=room.pk, body="before it ended", client_id=earlier.client_id)
    new = [SendRequest(author=person, room_id=room.pk, body="after", client_id=uuid.uuid4()) for person in (ann, ben)]

    outcomes = services.message_send_many(requests=[retry, *new])

    assert outcomes[0].pk == earlier.pk and outcomes[0].replayed  # As message_send answers the same retry.
    assert [str(outcome.args[0]) for outcome in outcomes[1:]] == [ROOM_CLOSED, ROOM_CLOSED]
    assert list(Message.objects.values_list("body", flat=True)) == ["before it ended"]


def test_the_insert_itself_refuses_a_chat_that_ended_after_the_check(ann, room):
    # What a send that checked just before the chat ended reaches: the insert, under the room's lock.
    member = Membership.objects.get(room=room, user=ann)
    close(room)
    message = Message(room_id=room.pk, author=ann, body="too late", client_id=uuid.uuid4(), created_at=timezone.now())

    with pytest.raises(PermissionDenied, match=ROOM_CLOSED), transaction.atomic():
        services._message_insert(message, member_id=member.pk)

    assert not Message.objects.exists()
    assert Room.objects.get(pk=room.pk).last_seq == 0


@postgresql_only
def test_a_room_gone_before_the_insert_is_still_not_visible(ann, room):
    member = Membership.objects.get(room=room, user=ann)
    message = Message(room_id=room.pk, author=ann, body="hi", client_id=uuid.uuid4(), created_at=timezone.now())
    Room.objects.filter(pk=room.pk).delete()
    with pytest.raises(services.RoomNotVisible), transaction.atomic():
        services._message_insert(message, member_id=member.pk)


@postgresql_only
def test_the_batch_insert_refuses_rooms_that_ended_once_locked(ann, ben, room, bob):
    other = group_room(bob, ann, title="Still open")
    close(room)
    now = timezone.now()
    messages = [
        Message(room_id=target.pk, author=ann, body=body, client_id=uuid.uuid4(), created_at=now)
        for target, body in ((room, "too late"), (other, "in time"))
    ]
    for message in messages:
        message.prefetched_reactions = []
    members = [Membership.objects.get(room=target, user=ann).pk for target in (room, other)]

    assert services._insert_many(messages, member_ids=members).keys() == {room.pk}

    assert list(Message.objects.values_list("room_id", "body", "seq")) == [(other.pk, "in time", 1)]
    assert Room.objects.get(pk=room.pk).last_seq == 0


@postgresql_only
def test_the_batch_insert_refuses_rooms_gone_once_locked_as_not_visible(ann, room, bob):
    other = group_room(bob, ann, title="Still here")
    now = timezone.now()
    messages = [
        Message(room_id=target.pk, author=ann, body=body, client_id=uuid.uuid4(), created_at=now)
        for target, body in ((room, "into nothing"), (other, "in time"))
    ]
    members = [Membership.objects.get(room=target, user=ann).pk for target in (room, other)]
    Room.objects.filter(pk=room.pk).delete()

    refused = services._insert_many(messages, member_ids=members)

    assert refused.keys() == {room.pk}
    assert isinstance(refused[room.pk](), services.RoomNotVisible)
    assert list(Message.objects.values_list("room_id", "body", "seq")) == [(other.pk, "in time", 1)]
