"""Payloads built directly for speed say exactly what their declared fields (the OpenAPI schema) say."""

import uuid

import pytest
from rest_framework import serializers

from chat import selectors, services
from chat.events import MessagePayload, UserPayload

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


def test_user_payloads_equal_the_walk_of_their_fields(ann, ben):
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    for user in (ann, ben):
        assert UserPayload().to_representation(user) == walked(UserPayload(), user)
