"""`manage.py export_user` and `manage.py delete_user`, on the real database."""

import json
import uuid
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command

from accounts import services as account_services
from accounts.models import Block, FriendRequest, Friendship, Report, User
from chat import services
from chat.models import Message, Notification, Reaction
from rooms.models import Membership, Room

pytestmark = pytest.mark.django_db


def command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def ann_s_world(ann, ben, bob, room, direct, make_user):
    """ann: a friend (ben), a block (of carl), a group and a direct room, messages, reactions, a notification."""
    account_services.friend_request_send(sender=ann, recipient=ben)
    account_services.friend_request_accept(request=FriendRequest.objects.get(from_user=ann, to_user=ben))
    Notification.objects.create(user=ann, kind="friend_accepted", actor=ben)
    carl = make_user("carl")
    Report.objects.create(reporter=ann, reported=carl, reason=Report.Reason.SPAM, details="ads")
    Report.objects.create(reporter=carl, reported=ann, reason=Report.Reason.OTHER)
    account_services.block_create(blocker=ann, blocked=carl)
    first = services.message_send(author=ann, room_id=room.pk, body="hello @ben", client_id=uuid.uuid4())
    services.message_send(author=ann, room_id=direct.pk, body="psst", client_id=uuid.uuid4())
    reply = services.message_send(
        author=ben, room_id=room.pk, body="hi ann", client_id=uuid.uuid4(), reply_to_id=first.pk
    )
    services.reaction_add(user=ann, message_id=reply.pk, emoji="👍")
    services.reaction_add(user=ben, message_id=first.pk, emoji="🎉")
    return {"room": room, "direct": direct, "first": first, "reply": reply}


# export_user


def test_the_export_holds_the_person_s_data_and_no_secret(ann, ann_s_world):
    data = json.loads(command("export_user", "@ann"))
    assert data["format"] == "parley-export/1"
    assert data["profile"]["handle"] == "ann" and data["profile"]["email"] == "ann@example.com"
    assert data["settings"] == {
        "dm_policy": "everyone",
        "friend_request_policy": "everyone",
        "email_notifications": "digest",
    }
    assert [friend["handle"] for friend in data["friends"]] == ["ben"]
    assert [blocked["handle"] for blocked in data["blocks"]] == ["carl"]
    assert {m["room_kind"] for m in data["memberships"]} == {"group", "direct"}
    assert [m["body"] for m in data["messages"]] == ["hello @ben", "psst"]
    assert [(r["emoji"], r["message"]) for r in data["reactions"]] == [("👍", ann_s_world["reply"].pk)]
    assert {n["kind"] for n in data["notifications"]} == {"friend_accepted"}
    assert [(r["reported"], r["details"]) for r in data["reports"]] == [("carl", "ads")]  # Not carl's about her.
    text = json.dumps(data)
    assert ann.password not in text and "password" not in text and "hash" not in text


def test_the_export_can_go_to_a_file(ann, tmp_path):
    target = tmp_path / "ann.json"
    assert command("export_user", "ann", "--output", str(target)) == ""
    assert json.loads(target.read_text())["profile"]["id"] == ann.pk


def test_an_unknown_handle_is_an_error_not_a_traceback(db):
    with pytest.raises(CommandError, match="Nobody has the handle @nobody"):
        command("export_user", "nobody")


def test_a_deactivated_person_can_still_be_exported(ann):
    account_services.user_deactivate(user=ann)
    assert json.loads(command("export_user", "ann"))["profile"]["is_active"] is False


# delete_user


def test_the_choice_for_messages_is_required(ann):
    with pytest.raises(CommandError, match="--messages"):
        command("delete_user", "ann", "--yes")
    assert User.objects.filter(pk=ann.pk).exists()


def test_keep_anonymized_keeps_the_messages_without_an_author(ann, ben, ann_s_world):
    room = ann_s_world["room"]
    output = command("delete_user", "ann", "--messages=keep-anonymized", "--yes")
    assert "Deleted @ann" in output and "messages anonymized: 2" in output
    assert not User.objects.filter(handle="ann").exists()
    first = Message.objects.get(pk=ann_s_world["first"].pk)
    assert (first.author_id, first.body, first.deleted_at) == (None, "hello @ben", None)
    assert not Friendship.objects.filter(friend=ben).exists() and not Block.objects.exists()
    assert not Reaction.objects.filter(emoji="👍").exists()
    # ann owned the group room: it passed to ben, who stays in it.
    assert Membership.objects.get(room=room, user=ben).role == Membership.Role.OWNER
    assert Room.objects.filter(pk=ann_s_world["direct"].pk).exists()  # bob keeps the conversation.


def test_delete_turns_the_messages_into_tombstones_and_keeps_seqs(ann, ben, ann_s_world):
    room = ann_s_world["room"]
    command("delete_user", "ann", "--messages=delete", "--yes")
    seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "body", "deleted_at"))
    assert [seq for seq, _, _ in seqs] == [1, 2]  # Gapless: the tombstone keeps its place.
    assert seqs[0][1] == "" and seqs[0][2] is not None
    assert seqs[1][1] == "hi ann"
    assert not Reaction.objects.filter(emoji="🎉").exists()  # Reactions on a tombstone go too.
    assert Message.objects.get(pk=ann_s_world["reply"].pk).reply_to_id == ann_s_world["first"].pk


def test_without_yes_the_handle_must_be_typed(ann, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "someone else")
    with pytest.raises(CommandError, match="Nothing was deleted"):
        command("delete_user", "ann", "--messages=delete")
    assert User.objects.filter(pk=ann.pk).exists()
    monkeypatch.setattr("builtins.input", lambda prompt: "ann")
    command("delete_user", "ann", "--messages=delete")
    assert not User.objects.filter(pk=ann.pk).exists()


def test_login_records_and_notifications_about_them_go(ann, ben, client):
    client.post("/login/", {"username": "ann@example.com", "password": "wrong"})
    assert AccessAttempt.objects.filter(username="ann@example.com").exists()
    Notification.objects.create(user=ann, kind="mention", actor=ben)
    command("delete_user", "ann", "--messages=delete", "--yes")
    assert not AccessAttempt.objects.exists() and not Notification.objects.filter(user_id=ann.pk).exists()


@pytest.mark.django_db(transaction=True)
async def test_deleting_closes_the_person_s_sockets_and_members_see_tombstones(ann, ben, room):
    from channels.db import database_sync_to_async

    from tests.chat.sockets import connected

    sent = await database_sync_to_async(services.message_send)(
        author=ann, room_id=room.pk, body="soon gone", client_id=uuid.uuid4()
    )
    async with connected(ann) as ann_ws, connected(ben) as ben_ws:
        await database_sync_to_async(command)("delete_user", "ann", "--messages=delete", "--yes")
        assert await ann_ws.closed() == 4001
        # ann owned the room: ben, its longest-standing member, is its owner now.
        events = {event["type"]: event for event in [await ben_ws.receive() for _ in range(3)]}
        assert events["member.left"]["user"] == ann.pk
        assert events["member.updated"]["member"]["role"] == "owner"
        deleted = events["message.deleted"]["message"]
        assert (deleted["id"], deleted["seq"], deleted["body"], deleted["author"]) == (sent.pk, 1, "", None)
        assert deleted["deleted"] is True
