"""Talk to a stranger: joining and leaving the lobby's queue, pairing people, and the lobby's counts.

Thin over rooms.lobby (who waits and who fits whom, in Redis) and rooms.services (the rooms).
The consumer calls these in a database thread; each process's rooms.ticker calls `lobby_tick`.
"""

import json
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.selectors import blocked_ids
from chat import events, limits, presence, redis_sync
from rooms import lobby, selectors, services
from rooms.models import Room

MAX_TAGS = 5
TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")
# The lobby page shows this many public rooms (the largest) with live member counts.
LOBBY_ROOMS = 12


@dataclass
class Joined:
    """What joining the queue did: paired at once (`room`), or waiting with these `tags`."""

    room: Room | None
    tags: list[str] = field(default_factory=list)


def tags_clean(tags: list[str] | None) -> list[str]:
    """Interest tags as the matcher compares them: lower case, without "#", each once, at most MAX_TAGS."""
    cleaned = list(dict.fromkeys(tag.strip().lstrip("#").lower() for tag in tags or [] if tag.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ValidationError({"tags": [f"At most {MAX_TAGS} tags."]}, code="too_many")
    bad = [tag for tag in cleaned if not TAG.fullmatch(tag)]
    if bad:
        message = "Tags are 1 to 30 letters, digits or dashes, like chess or sci-fi."
        raise ValidationError({"tags": [message]}, code="invalid")
    return cleaned


def lobby_join(*, user, tags: list[str] | None = None) -> Joined:
    """Queue the person for a stranger (also "Next": their open lobby chat closes first).

    Rate-limited per person (LOBBY_RATE_*). When someone fitting waits already, both are paired
    now: the room is returned, and both get match.found once it is committed.
    """
    services.require_verified(user)
    tags = tags_clean(tags)
    limits.lobby_rate_take(user_id=user.pk)
    services.random_rooms_close_of(user_id=user.pk)
    partner = lobby.join(user_id=user.pk, tags=tags, blocked=blocked_ids(user_id=user.pk))
    return Joined(room=_pair(user.pk, partner) if partner else None, tags=tags)


def lobby_leave(*, user) -> None:
    """Out of the queue, and out of any open lobby chat (the other person is told)."""
    lobby.leave(user_id=user.pk)
    services.random_rooms_close_of(user_id=user.pk)


def lobby_gone(*, user_id: int) -> None:
    """The socket that queued the person closed (or their process died): out of the queue only.
    An open chat stays open: its page has its own socket (see lobby_offline)."""
    lobby.leave(user_id=user_id)


def disconnect_grace_seconds() -> float:
    return settings.LOBBY_DISCONNECT_GRACE_SECONDS


def lobby_offline(*, user_id: int) -> list[int]:
    """The person has had no socket for disconnect_grace_seconds (tab closed, connection lost, or
    paired while their socket was closing): their open lobby chats end, and the other is told, rather
    than wait for someone who is not coming back. The grace lets the lobby page hand over to the
    room page (one socket closes, the next opens) without ending the chat."""
    return services.random_rooms_close_of(user_id=user_id)


def _pair(first_id: int, second_id: int) -> Room | None:
    room = services.random_room_open(first_id=first_id, second_id=second_id)
    if room is None:
        # A block made while they waited (the queue had the blocks of when they joined): each
        # waits on, now with everyone's current blocks; they are a recent pair, so not each other.
        # Not whoever caused the refusal: a closed or unverified account, or someone already in a
        # lobby chat (another tab's join paired them a moment before).
        for user_id in selectors.lobby_requeue_ids(user_ids=[first_id, second_id]):
            partner = lobby.join(user_id=user_id, tags=[], blocked=blocked_ids(user_id=user_id))
            if partner:
                _pair(user_id, partner)
    return room


def lobby_counts() -> dict:
    """People online, people waiting, and the largest public rooms' member counts."""
    return {
        "online": presence.online_count_now(),
        "waiting": lobby.waiting_count(),
        "rooms": selectors.public_room_counts(limit=LOBBY_ROOMS),
    }


def lobby_tick() -> list[Room | None]:
    """One process per LOBBY_TICK_SECONDS, whichever claims the tick: pair people who waited long
    enough for a shared tag, and push the counts to lobby pages when they changed.

    However many joins and leaves happened meanwhile, lobby pages get at most one frame per tick.
    """
    if not _tick_claimed():
        return []
    rooms = [_pair(first, second) for first, second in lobby.sweep()]
    counts = lobby_counts()
    if _counts_changed(counts):
        events.publish(events.lobby_group(), events.lobby_counts(**counts))
    return rooms


_last_counts = {"text": None}  # Embedded mode (one process); with Redis the last counts live there.


def _tick_claimed() -> bool:
    if not getattr(settings, "REDIS_URL", ""):
        return True
    milliseconds = max(1, int(settings.LOBBY_TICK_SECONDS * 1000 * 0.9))
    return bool(redis_sync.client().set(lobby.key("tick"), 1, nx=True, px=milliseconds))


def _counts_changed(counts: dict) -> bool:
    text = json.dumps(counts, sort_keys=True)
    if not getattr(settings, "REDIS_URL", ""):
        previous, _last_counts["text"] = _last_counts["text"], text
    else:
        previous = redis_sync.client().set(lobby.key("counts"), text, get=True, ex=3600)
        previous = previous.decode() if previous else None
    return previous != text
