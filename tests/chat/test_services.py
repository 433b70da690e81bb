import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from chat import events, services
from chat.models import Message, Reaction
from rooms.models import Membership, Room
from rooms.selectors import RoomNotVisible
from tests.chat.realtime import published, run_all
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def send(author, room, body="hello", **extra):
    extra.setdefault("client_id", uuid.uuid4())
    return services.message_send(author=author, room_id=room.pk, body=body, **extra)


# Sending


def test_messages_get_consecutive_seqs_and_move_the_room_forward(ann, ben, room):
    first, second, third = send(ann, room), send(ben, room), send(ann, room)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    room.refresh_from_db()
    assert room.last_seq == 3 and room.last_message_at == third.created_at


def test_the_body_is_trimmed(ann, room):
    assert send(ann, room, "  hi there \n").body == "hi there"


@pytest.mark.parametrize("body", ["", "   \n\t", "x" * 4001])
def test_empty_or_overlong_bodies_are_refused(ann, room, body):
    with pytest.raises(ValidationError) as caught:
        send(ann, room, body)
    assert list(caught.value.message_dict) == ["body"]
    assert not Message.objects.exists()


def test_four_thousand_characters_are_fine(ann, room):
    assert len(send(ann, room, "x" * 4000).body) == 4000


def test_outsiders_cannot_send(room, make_user):
    with pytest.raises(PermissionDenied):
        send(make_user(), room)


def test_unverified_members_cannot_send(room, make_user):
    unverified = make_user(verified=False)
    Membership.objects.create(room=room, user=unverified)
    with pytest.raises(PermissionDenied):
        send(unverified, room)


def test_a_retry_returns_the_original_and_announces_nothing(ann, room, django_capture_on_commit_callbacks):
    client_id = uuid.uuid4()
    original = send(ann, room, "hello", client_id=client_id)
    with django_capture_on_commit_callbacks() as callbacks:
        retry = send(ann, room, "hello", client_id=str(client_id))
    assert retry.pk == original.pk and retry.replayed and not original.replayed
    assert callbacks == []
    assert Message.objects.count() == 1
    room.refresh_from_db()
    assert room.last_seq == 1


def test_the_same_client_id_from_two_people_is_two_messages(ann, ben, room):
    client_id = uuid.uuid4()
    assert send(ann, room, client_id=client_id).pk != send(ben, room, client_id=client_id).pk


def test_a_client_id_must_be_a_uuid(ann, room):
    with pytest.raises(ValidationError) as caught:
        send(ann, room, client_id="not-a-uuid")
    assert "client_id" in caught.value.message_dict


def test_a_reply_points_into_the_same_room(ann, ben, room):
    original = send(ben, room, "question?")
    reply = send(ann, room, "answer", reply_to_id=original.pk)
    assert reply.reply_to == original

    elsewhere = send(ann, group_room(ann), "elsewhere")
    for target in (elsewhere.pk, 999_999):
        with pytest.raises(ValidationError) as caught:
            send(ann, room, "answer", reply_to_id=target)
        assert "reply_to" in caught.value.message_dict


def test_a_deleted_message_cannot_be_replied_to(ann, room):
    gone = services.message_delete(user=ann, message_id=send(ann, room).pk)
    with pytest.raises(ValidationError) as caught:
        send(ann, room, reply_to_id=gone.pk)
    assert "reply_to" in caught.value.message_dict


def test_my_own_message_is_read_by_me(ann, ben, room):
    message = send(ann, room)
    positions = dict(Membership.objects.filter(room=room).values_list("user__handle", "last_read_seq"))
    assert positions == {"ann": message.seq, "ben": 0}


def test_a_new_message_is_published_to_the_room_after_commit(ann, room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        message = send(ann, room, "hi")
    assert len(callbacks) == 1
    received = published(events.room_group(room.pk), run_all(callbacks))
    message = Message.objects.get(pk=message.pk)
    assert received == [{"type": "message.new", "message": events.message_payload(message)}]
    assert received[0]["message"]["body"] == "hi" and received[0]["message"]["author"]["handle"] == "ann"


# Editing and deleting


def test_only_the_author_edits(ann, ben, room, django_capture_on_commit_callbacks):
    message = send(ann, room, "helo")
    with pytest.raises(PermissionDenied):
        services.message_edit(user=ben, message_id=message.pk, body="hacked")
    with django_capture_on_commit_callbacks() as callbacks:
        edited = services.message_edit(user=ann, message_id=message.pk, body=" hello ")
    assert edited.body == "hello" and edited.edited_at is not None
    received = published(events.room_group(room.pk), run_all(callbacks))
    assert received[0]["type"] == "message.edited"
    assert received[0]["message"]["body"] == "hello" and received[0]["message"]["edited_at"]


def test_edits_are_validated_like_sends(ann, room):
    message = send(ann, room)
    with pytest.raises(ValidationError) as caught:
        services.message_edit(user=ann, message_id=message.pk, body="  ")
    assert "body" in caught.value.message_dict


def test_a_deleted_message_cannot_be_edited(ann, room):
    message = services.message_delete(user=ann, message_id=send(ann, room).pk)
    with pytest.raises(ValidationError):
        services.message_edit(user=ann, message_id=message.pk, body="back")


def test_deleting_leaves_a_tombstone_without_body_or_reactions(ann, ben, room, django_capture_on_commit_callbacks):
    message = send(ann, room, "oops")
    services.reaction_add(user=ben, message_id=message.pk, emoji="👍")
    with django_capture_on_commit_callbacks() as callbacks:
        deleted = services.message_delete(user=ann, message_id=message.pk)
    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.seq, stored.is_deleted) == ("", 1, True)
    assert not Reaction.objects.exists()
    received = published(events.room_group(room.pk), run_all(callbacks))
    assert received[0]["type"] == "message.deleted"
    assert received[0]["message"]["deleted"] is True and received[0]["message"]["reactions"] == []
    with django_capture_on_commit_callbacks() as again:
        assert services.message_delete(user=ann, message_id=deleted.pk).is_deleted
    assert again == []


def test_owners_and_admins_delete_others_messages_members_do_not(ann, ben, make_user):
    cat = make_user("cat")
    room = group_room(ann, ben, admins=[cat])
    message = send(ben, room)
    with pytest.raises(PermissionDenied):
        services.message_delete(user=make_user_in(room, make_user), message_id=message.pk)
    assert services.message_delete(user=cat, message_id=message.pk).is_deleted
    assert services.message_delete(user=ann, message_id=send(cat, room).pk).is_deleted


def make_user_in(room, make_user):
    person = make_user()
    Membership.objects.create(room=room, user=person)
    return person


def test_outsiders_cannot_touch_messages_and_learn_nothing(ann, room, make_user):
    message = send(ann, room)
    stranger = make_user()
    attempts = [
        lambda message_id: services.message_edit(user=stranger, message_id=message_id, body="x"),
        lambda message_id: services.message_delete(user=stranger, message_id=message_id),
        lambda message_id: services.reaction_add(user=stranger, message_id=message_id, emoji="👍"),
        lambda message_id: services.reaction_remove(user=stranger, message_id=message_id, emoji="👍"),
    ]
    for attempt in attempts:
        for message_id in (message.pk, 999_999):
            with pytest.raises(RoomNotVisible, match="No such message"):
                attempt(message_id)


# Reactions


def test_reacting_twice_is_one_reaction_and_one_event(ann, ben, room, django_capture_on_commit_callbacks):
    message = send(ann, room)
    with django_capture_on_commit_callbacks() as callbacks:
        services.reaction_add(user=ben, message_id=message.pk, emoji="🎉")
        services.reaction_add(user=ben, message_id=message.pk, emoji="🎉")
    assert Reaction.objects.count() == 1
    received = published(events.room_group(room.pk), run_all(callbacks))
    assert received == [
        {"type": "reaction.added", "room": room.pk, "message": message.pk, "seq": 1, "emoji": "🎉", "user": ben.pk}
    ]


def test_removing_a_reaction_is_idempotent(ann, ben, room, django_capture_on_commit_callbacks):
    message = send(ann, room)
    services.reaction_add(user=ben, message_id=message.pk, emoji="🎉")
    with django_capture_on_commit_callbacks() as callbacks:
        services.reaction_remove(user=ben, message_id=message.pk, emoji="🎉")
        services.reaction_remove(user=ben, message_id=message.pk, emoji="🎉")
    assert not Reaction.objects.exists()
    received = published(events.room_group(room.pk), run_all(callbacks))
    assert [event["type"] for event in received] == ["reaction.removed"]


@pytest.mark.parametrize("emoji", ["", "x" * 33, "👍 👍", "\n", 5])
def test_an_emoji_is_short_and_without_spaces(ann, room, emoji):
    message = send(ann, room)
    with pytest.raises(ValidationError) as caught:
        services.reaction_add(user=ann, message_id=message.pk, emoji=emoji)
    assert "emoji" in caught.value.message_dict


def test_a_family_emoji_with_joiners_is_one_reaction(ann, room):
    family = "👨\u200d👩\u200d👧\u200d👦"
    assert services.reaction_add(user=ann, message_id=send(ann, room).pk, emoji=family).emoji == family


def test_a_deleted_message_takes_no_reactions(ann, room):
    message = services.message_delete(user=ann, message_id=send(ann, room).pk)
    with pytest.raises(ValidationError):
        services.reaction_add(user=ann, message_id=message.pk, emoji="👍")


# Read position


def test_the_read_position_only_moves_forward_and_never_past_the_newest(ann, ben, room):
    for _ in range(3):
        send(ann, room)
    assert services.read_mark(user=ben, room_id=room.pk, seq=2).last_read_seq == 2
    assert services.read_mark(user=ben, room_id=room.pk, seq=1).last_read_seq == 2
    assert services.read_mark(user=ben, room_id=room.pk, seq=99).last_read_seq == 3
    assert Membership.objects.get(room=room, user=ben).last_read_seq == 3


@pytest.mark.parametrize("seq", [-1, "3", None, True])
def test_a_read_position_is_a_non_negative_integer(ben, room, seq):
    with pytest.raises(ValidationError) as caught:
        services.read_mark(user=ben, room_id=room.pk, seq=seq)
    assert "seq" in caught.value.message_dict


def test_reading_is_told_to_my_other_sockets_only(ann, ben, room, django_capture_on_commit_callbacks):
    send(ann, room)
    with django_capture_on_commit_callbacks() as callbacks:
        services.read_mark(user=ben, room_id=room.pk, seq=1)
        services.read_mark(user=ben, room_id=room.pk, seq=1)
    assert len(callbacks) == 1
    received = published(events.user_group(ben.pk), run_all(callbacks))
    assert received == [{"type": "read", "room": room.pk, "user": ben.pk, "seq": 1}]


def test_outsiders_have_no_read_position(room, make_user):
    with pytest.raises(RoomNotVisible):
        services.read_mark(user=make_user(), room_id=room.pk, seq=1)


def test_a_direct_room_carries_messages_like_any_other(ann, ben):
    from rooms import services as room_services

    direct, _ = room_services.direct_room_get_or_create(user=ann, other=ben)
    assert send(ben, direct).seq == 1
    assert Room.objects.get(pk=direct.pk).last_seq == 1


def test_sending_costs_a_fixed_handful_of_queries(ann, room, django_assert_num_queries):
    send(ann, room)
    # savepoint, membership with the retry check, then the room's seq (which locks the room), the
    # insert and my own read position (one statement on PostgreSQL, three on SQLite, plus SQLite's
    # look at closed_at once the room is locked, which PostgreSQL's UPDATE makes itself), release.
    # A reply adds one (the replied-to message).
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 7):
        send(ann, room)
