"""Reads for messages. Every list costs the same few queries however long it is."""

from django.db.models import Prefetch, QuerySet

from chat.models import Message, Reaction
from rooms.models import Room

RECENT_LIMIT = 50
# The most a reconnecting client is sent per room; beyond it, it is told to reload.
RESUME_LIMIT = 200


def messages_with_details() -> QuerySet[Message]:
    """Messages with everything their payload shows: author, replied-to message and its author, reactions."""
    reactions = Reaction.objects.order_by("created_at", "id")
    return Message.objects.select_related("author", "reply_to__author").prefetch_related(
        Prefetch("reactions", queryset=reactions, to_attr="prefetched_reactions")
    )


def messages_recent(*, room_id: int, limit: int = RECENT_LIMIT) -> list[Message]:
    """The newest messages of a room, oldest first (the order a page shows them in)."""
    newest = list(messages_with_details().filter(room_id=room_id).order_by("-seq")[:limit])
    newest.reverse()
    return newest


def messages_after(*, room_id: int, after_seq: int, limit: int = RESUME_LIMIT) -> list[Message]:
    """What a client that last saw `after_seq` missed, in seq order (tombstones included)."""
    return list(messages_with_details().filter(room_id=room_id, seq__gt=after_seq).order_by("seq")[:limit])


def resume_needs_reload(*, last_seq: int, after_seq: int, limit: int = RESUME_LIMIT) -> bool:
    """True when more was missed than one resume sends. Seqs are gapless, so the difference is the count."""
    return last_seq - after_seq > limit


def resume_batches(*, user, positions: dict[int, int]) -> list[tuple[int, list[Message] | None]]:
    """For each of the person's rooms in `positions` ({room id: last seen seq}), in room order: the
    messages missed, or None when more were missed than one resume sends (the client reloads).

    Rooms the person is not in are left out. One query for the rooms, then one per room behind.
    """
    rooms = Room.objects.filter(pk__in=positions, memberships__user=user).values_list("pk", "last_seq")
    batches = []
    for room_id, last_seq in sorted(rooms):
        after_seq = positions[room_id]
        if last_seq <= after_seq:
            continue
        if resume_needs_reload(last_seq=last_seq, after_seq=after_seq):
            batches.append((room_id, None))
        else:
            batches.append((room_id, messages_after(room_id=room_id, after_seq=after_seq)))
    return batches
