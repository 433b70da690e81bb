"""Friendships, requests and presence made through the services, for the friends, blocks and privacy tests."""

from accounts import services
from accounts.models import FriendRequest


def befriend(a, b) -> None:
    """a asks, b accepts."""
    services.friend_request_send(sender=a, recipient=b)
    services.friend_request_accept(request=FriendRequest.objects.get(from_user=a, to_user=b))


def request_between(sender, recipient) -> FriendRequest | None:
    return FriendRequest.objects.filter(from_user=sender, to_user=recipient).first()
