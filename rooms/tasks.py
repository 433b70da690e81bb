"""Celery tasks of rooms: each calls a service."""

from celery import shared_task

from rooms import services


@shared_task
def random_rooms_purge() -> int:
    """Beat: lobby chats past LOBBY_ROOM_TTL, with their messages (friends' chats were kept as DMs)."""
    return services.random_rooms_purge()
