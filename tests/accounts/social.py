"""Friendships, requests and presence made through the services, for the friends, blocks and privacy tests."""

import pytest
from asgiref.sync import async_to_sync

from accounts import services
from accounts.models import FriendRequest
from chat import presence


def befriend(a, b) -> None:
    """a asks, b accepts."""
    services.friend_request_send(sender=a, recipient=b)
    services.friend_request_accept(request=FriendRequest.objects.get(from_user=a, to_user=b))


def request_between(sender, recipient) -> FriendRequest | None:
    return FriendRequest.objects.filter(from_user=sender, to_user=recipient).first()


@pytest.fixture(name="online")
def online_fixture():
    """online(user, ...) opens a socket's presence entry for each; all are closed after the test."""
    opened = []

    def mark(*users):
        for person in users:
            async_to_sync(presence.connection_alive)(user_id=person.pk, connection="test-tab")
            opened.append(person.pk)

    yield mark
    for user_id in opened:
        async_to_sync(presence.connection_gone)(user_id=user_id, connection="test-tab")
