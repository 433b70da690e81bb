from functools import partial

from django.conf import settings

from chat.notifications import notifications_unread_count
from rooms.api import my_rooms_data


def site(request):
    return {"SITE_NAME": settings.SITE_NAME}


def notifications(request):
    """The header badge's unread count, counted only if a page renders it (templates call callables)."""
    user = _verified(request)
    if user is None:
        return {}
    return {"notification_unread": partial(notifications_unread_count, user_id=user.pk)}


def sidebar(request):
    """The app shell's rooms: GET /api/rooms/'s data (the same function, so the same queries: on
    PostgreSQL one statement, and one Redis round trip for presence), read only if the page renders
    the sidebar."""
    user = _verified(request)
    if user is None:
        return {}
    return {"sidebar_rooms": partial(sidebar_rooms, user=user), "sidebar_open_room": _open_room_id(request)}


def _open_room_id(request) -> int | None:
    """The room whose page this is: its messages are on screen, so its row shows no unread count. Only
    the room page itself: its settings page (also under /rooms/<id>/) shows none of them."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name != "room":
        return None
    return match.kwargs.get("room_id")


def sidebar_rooms(*, user) -> list[dict]:
    return my_rooms_data(user=user)


def _verified(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified:
        return None
    return user
