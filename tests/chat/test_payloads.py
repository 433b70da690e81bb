"""Payloads built directly for speed say exactly what their declared fields (the OpenAPI schema) say."""

import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework import serializers

from chat import selectors, services
from chat.events import MessagePayload, Moment, UserPayload, moment, moment_sql
from chat.models import LinkPreview, Message
from rooms.models import Room

pytestmark = pytest.mark.django_db


def walked(serializer, instance) -> dict:
    """What DRF's generic field-by-field walk gives for the declared fields."""
    return serializers.Serializer.to_representation(serializer, instance)


def test_message_payloads_equal_the_walk_of_their_fields(ann, ben, room):
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    ben.save(update_fields=["avatar_thumbnail"])
    first = services.message_send(author=ann, room_id=room.pk, body="first", client_id=uuid.uuid4())
    reply = services.message_send(author=ben, room_id=room.pk, body="re", client_id=uuid.uuid4(), reply_to_id=first.pk)
    services.reaction_add(user=ben, message_id=reply.pk, emoji="👍")
    services.reaction_add(user=ann, message_id=reply.pk, emoji="👍")
    services.message_edit(user=ben, message_id=reply.pk, body="re, edited")
    services.message_delete(user=ann, message_id=first.pk)
    ann.delete()  # the first message loses its author, and the reply her reaction

    payload = MessagePayload()
    messages = selectors.messages_recent(room_id=room.pk)
    assert len(messages) == 2
    for message in messages:
        assert payload.to_representation(message) == walked(payload, message)
    second = payload.to_representation(messages[1])
    assert second["edited_at"] and second["reply_to"]["deleted"] and second["reactions"][0]["count"] == 1
    assert second["author"]["avatar_thumbnail_url"] and payload.to_representation(messages[0])["author"] is None


def test_a_link_preview_in_a_payload_equals_the_walk_of_its_fields(ann, room):
    linked = services.message_send(author=ann, room_id=room.pk, body="https://a.example/", client_id=uuid.uuid4())
    services.message_send(author=ann, room_id=room.pk, body="https://b.example/", client_id=uuid.uuid4())
    for message, image_url in zip(Message.objects.order_by("seq"), ["https://a.example/i.png", ""], strict=True):
        message.preview = LinkPreview.objects.create(
            url=message.body,
            url_hash=message.body,
            title="Title",
            description="About",
            image_url=image_url,
            site_name="A",
            status=LinkPreview.Status.OK,
            expires_at=timezone.now() + timedelta(days=1),
        )
        message.save(update_fields=["preview"])

    payload = MessagePayload()
    first, second = (payload.to_representation(message) for message in selectors.messages_recent(room_id=room.pk))
    assert first == walked(payload, selectors.messages_recent(room_id=room.pk)[0])
    assert first["preview"] == {
        "url": linked.body,
        "title": "Title",
        "description": "About",
        "image_url": "https://a.example/i.png",
        "site_name": "A",
    }
    assert second["preview"]["image_url"] is None


def test_user_payloads_equal_the_walk_of_their_fields(ann, ben):
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    for user in (ann, ben):
        assert UserPayload().to_representation(user) == walked(UserPayload(), user)


def test_a_deleted_message_shows_no_link_card(ann, room):
    linked = services.message_send(author=ann, room_id=room.pk, body="https://a.example/", client_id=uuid.uuid4())
    card = LinkPreview.objects.create(
        url="https://a.example/", url_hash="a", status=LinkPreview.Status.OK, expires_at=timezone.now()
    )
    Message.objects.filter(pk=linked.pk).update(preview=card, body="", deleted_at=timezone.now())

    [message] = selectors.messages_recent(room_id=room.pk)
    assert MessagePayload().to_representation(message)["preview"] is None


def test_a_reply_to_a_removed_message_carries_the_reason_live_as_on_the_page(ann, ben, room, moderator):
    first = services.message_send(author=ann, room_id=room.pk, body="awful", client_id=uuid.uuid4())
    reply = services.message_send(author=ben, room_id=room.pk, body="re", client_id=uuid.uuid4(), reply_to_id=first.pk)
    services.message_remove(moderator=moderator, message_id=first.pk, reason="Spam")
    edited = services.message_edit(user=ben, message_id=reply.pk, body="re, edited")  # Announced live.

    live = MessagePayload(edited).data["reply_to"]
    listed = MessagePayload(selectors.messages_recent(room_id=room.pk)[1]).data["reply_to"]

    assert live["deleted"] and live["removal_reason"] == "Spam"
    assert listed == live
    assert MessagePayload(first).data["reply_to"] is None


MOMENTS = [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # a whole second: no fraction, as isoformat
    *(datetime(2026, 1, 2, 3, 4, 5, micro, tzinfo=UTC) for micro in (1, 10, 600, 100_000, 120_000, 999_999)),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 6, 1, 2, 0, 0, 5, tzinfo=timezone.get_fixed_timezone(120)),  # written in UTC
]


@pytest.mark.parametrize("value", MOMENTS, ids=str)
def test_the_database_writes_a_time_as_the_api_does(value):
    # Lists read as rows (history page, friends, rooms list) take their times as the database's text.
    room = Room.objects.create(kind=Room.Kind.GROUP, title="t", created_at=value)

    written = Room.objects.filter(pk=room.pk).annotate(at=Moment("created_at")).values_list("at", flat=True).get()

    assert written == moment(value)
    if connection.vendor == "postgresql":  # the statements written out (rooms list: as JSON strings)
        with connection.cursor() as cursor:
            written_out = f"{moment_sql('created_at')}, {moment_sql('created_at', quoted=True)}"
            cursor.execute(f"SELECT {written_out} FROM rooms_room WHERE id = %s", [room.pk])  # noqa: S608
            assert cursor.fetchone() == (moment(value), orjson.dumps(moment(value)).decode())
