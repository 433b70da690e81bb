"""Keyset pagination of a room's history: query parameters in, opaque cursors and page links out.

A page is bounded by seqs, never by an offset, so its cost does not grow with depth and pages do
not shift while messages are sent or deleted. The cursor only wraps a bound ("before 120",
"after 80") so that clients follow links instead of building them; `before`, `after` and
`around` stay available for clients that know a seq or a message id (a reconnect, a search hit).
"""

import base64
import binascii

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from chat import selectors
from chat.selectors import HistoryPage
from rooms.models import Room

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
POSITIONS = ("cursor", "before", "after", "around")
_BEFORE, _AFTER = "b", "a"


def cursor_encode(*, direction: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}{seq}".encode()).decode().rstrip("=")


def cursor_decode(token: str) -> tuple[str, int]:
    """(direction, seq) from a cursor; ValueError for anything this module did not make."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("not a cursor") from error
    direction, digits = text[:1], text[1:]
    if direction not in (_BEFORE, _AFTER) or not digits.isascii() or not digits.isdigit():
        raise ValueError("not a cursor")
    if len(digits) > 19 or int(digits) > selectors.SEQ_MAX:
        raise ValueError("not a cursor")
    return direction, int(digits)


class HistoryQuerySerializer(serializers.Serializer):
    """Where the page is (at most one of cursor, before, after, around; none: the newest) and its size."""

    cursor = serializers.CharField(required=False, help_text="From a `next` or `previous` link.")
    before = serializers.IntegerField(
        required=False, min_value=1, max_value=selectors.SEQ_MAX, help_text="Messages with a smaller seq."
    )
    after = serializers.IntegerField(
        required=False, min_value=0, max_value=selectors.SEQ_MAX, help_text="Messages with a larger seq."
    )
    around = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=selectors.SEQ_MAX,
        help_text="A message id: the page centred on it (half older, half newer).",
    )
    limit = serializers.IntegerField(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"Messages per page, 1 to {MAX_LIMIT} (more is a 400, not silently clamped).",
    )

    def validate_cursor(self, token: str) -> tuple[str, int]:
        try:
            return cursor_decode(token)
        except ValueError as error:
            raise serializers.ValidationError("Not a valid cursor; follow the `next` or `previous` links.") from error

    def validate(self, data: dict) -> dict:
        given = [name for name in POSITIONS if name in data]
        if len(given) > 1:
            raise serializers.ValidationError({name: f"Give only one of {', '.join(POSITIONS)}." for name in given})
        if "cursor" in data:
            direction, seq = data.pop("cursor")
            data["before" if direction == _BEFORE else "after"] = seq
        return data


def history_page(
    *,
    room: Room,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int = DEFAULT_LIMIT,
    rows: bool = False,
) -> HistoryPage:
    """The page the validated query points at; a ValidationError when `around` is not in the room."""
    if around is not None:
        page = selectors.history_around(room=room, message_id=around, limit=limit, rows=rows)
        if page is None:
            raise serializers.ValidationError({"around": ["No such message in this room."]})
        return page
    if after is not None:
        return selectors.history_after(room=room, after_seq=after, limit=limit, rows=rows)
    return selectors.history_before(room=room, before_seq=before, limit=limit, rows=rows)


def page_links(*, request: Request, page: HistoryPage) -> dict[str, str | None]:
    """`next` goes back in time (older messages), `previous` forward (newer), whichever way the page was asked."""
    url = request.build_absolute_uri()
    for name in POSITIONS:
        url = remove_query_param(url, name)

    def link(direction: str, seq: int | None) -> str | None:
        return None if seq is None else replace_query_param(url, "cursor", cursor_encode(direction=direction, seq=seq))

    return {"next": link(_BEFORE, page.older), "previous": link(_AFTER, page.newer)}
