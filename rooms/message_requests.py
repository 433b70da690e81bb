"""Reads of message requests, kept apart from rooms.selectors (the rooms list there is tuned on its own).

A message request is the recipient's Membership of a direct room that someone who is not their
friend opened while they take strangers' messages as requests (`DmPolicy.REQUESTS`): its `request`
is "pending" until they accept it (emptied) or ignore it. Until accepted the room is left out of
their rooms list, their sockets do not follow it, and nothing in it notifies or mails them; the
sender is never told which. rooms.services creates, accepts, ignores and (on a block) drops them.
"""

from django.db.models import F

from chat.models import Message
from chat.selectors import user_summary_of
from rooms.models import Membership


def message_requests_of(*, user) -> list[Membership]:
    """The person's waiting message requests, most recently active first, each with its sender in
    `peer` and the room's newest message in `room.last_message`. Three queries however many."""
    requests = list(
        Membership.objects.filter(user=user, request=Membership.Request.PENDING)
        .select_related("room")
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room_id")
    )
    room_ids = [request.room_id for request in requests]
    if not room_ids:
        return []
    senders = (
        Membership.objects.filter(room_id__in=room_ids)
        .exclude(user=user)
        .select_related("user")
        .only("room", "user", *user_summary_of("user"))
    )
    sender_of = {membership.room_id: membership.user for membership in senders}
    newest = (
        Message.objects.filter(room_id__in=room_ids, seq=F("room__last_seq"))
        .select_related("author")
        .only("room", "seq", "body", "created_at", "deleted_at", "author", *user_summary_of("author"))
    )
    newest_of = {message.room_id: message for message in newest}
    for request in requests:
        request.peer = sender_of.get(request.room_id)
        request.room.last_message = newest_of.get(request.room_id)
    return requests
