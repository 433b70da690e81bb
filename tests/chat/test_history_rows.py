"""The history API builds its pages from rows: they say byte for byte what the model instances say."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from chat import selectors, services
from chat.api import HistoryMessageSerializer, history_payload
from chat.models import Attachment, LinkPreview, Message, Reaction
from config.renderers import JSONRenderer
from rooms.models import Membership

pytestmark = pytest.mark.django_db


def send(author, room, body, **extra) -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4(), **extra)


def a_card(url: str, image_url: str) -> LinkPreview:
    return LinkPreview.objects.create(
        url=url,
        url_hash=url,
        title="Title",
        description="About",
        image_url=image_url,
        site_name="Site",
        status=LinkPreview.Status.OK,
        expires_at=timezone.now() + timedelta(days=1),
    )


def attach(message: Message, name: str, *, image: bool) -> None:
    Attachment.objects.create(
        uploader=message.author,
        message=message,
        storage_name=f"uploads/{uuid.uuid4()}",
        name=name,
        content_type="image/png" if image else "application/pdf",
        size=1234,
        width=640 if image else None,
        height=480 if image else None,
        preview_name=f"previews/{uuid.uuid4()}.webp" if image else "",
    )


@pytest.fixture
def every_kind(ann, ben, bob, room, moderator, make_user):
    """A room whose history holds every kind of message a page can show."""
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    ben.save(update_fields=["avatar_thumbnail"])
    gone = make_user("gone")
    Membership.objects.create(room=room, user=gone)
    first = send(ann, room, "first, with files and a link https://a.example/")
    attach(first, "photo.png", image=True)
    attach(first, "notes.pdf", image=False)
    Message.objects.filter(pk=first.pk).update(preview=a_card("https://a.example/", "https://a.example/i.png"))
    reply = send(ben, room, "a reply " + "x" * 150, reply_to_id=first.pk)
    # Reactions are summed up oldest first, which is not the order of their ids here.
    for user, emoji, seconds in [(ben, "👍", 3), (ann, "🎉", 0), (bob, "👍", 2), (ann, "👍", 1)]:
        Reaction.objects.create(
            message=reply, user=user, emoji=emoji, created_at=reply.created_at + timedelta(seconds=seconds)
        )
    services.message_edit(user=ben, message_id=reply.pk, body="a reply, edited")
    deleted = send(ben, room, "to delete https://b.example/")
    Message.objects.filter(pk=deleted.pk).update(preview=a_card("https://b.example/", ""))
    removed = send(ann, room, "awful")
    send(ben, room, "a reply to a removed message", reply_to_id=removed.pk)
    send(ben, room, "a reply to a deleted message", reply_to_id=deleted.pk)
    services.message_delete(user=ben, message_id=deleted.pk)
    services.message_remove(moderator=moderator, message_id=removed.pk, reason="Spam")
    orphan = send(gone, room, "my author is gone")
    send(ann, room, "a reply to an authorless message", reply_to_id=orphan.pk)
    # A time of whole seconds is written without a fraction.
    whole = send(ann, room, "on the second")
    Message.objects.filter(pk=whole.pk).update(created_at=whole.created_at.replace(microsecond=0))
    gone.delete()
    return room


def instances_payload(page: selectors.HistoryPage, viewer) -> bytes:
    return JSONRenderer().render(HistoryMessageSerializer(page.messages, many=True, context={"viewer": viewer}).data)


def rows_payload(page: selectors.HistoryPage, viewer) -> bytes:
    return JSONRenderer().render(history_payload(page, viewer_id=viewer.pk))


@pytest.mark.parametrize("viewer_name", ["ann", "ben"])
def test_a_page_of_every_kind_of_message_reads_the_same_from_rows(every_kind, viewer_name, request):
    viewer, room = request.getfixturevalue(viewer_name), every_kind
    pages = [
        lambda rows: selectors.history_before(room=room, before_seq=None, limit=50, rows=rows),
        lambda rows: selectors.history_before(room=room, before_seq=6, limit=3, rows=rows),
        lambda rows: selectors.history_after(room=room, after_seq=2, limit=4, rows=rows),
        lambda rows: selectors.history_around(room=room, message_id=Message.objects.get(seq=4).pk, limit=5, rows=rows),
    ]
    for page in pages:
        from_instances, from_rows = page(False), page(True)
        assert (from_rows.older, from_rows.newer) == (from_instances.older, from_instances.newer)
        assert rows_payload(from_rows, viewer) == instances_payload(from_instances, viewer)

    newest = history_payload(selectors.history_before(room=room, before_seq=None, limit=50, rows=True), viewer_id=0)
    first, reply, deleted, removed, *_, orphan, _, whole = newest
    assert [a["preview_url"] is None for a in first["attachments"]] == [False, True]
    assert first["preview"]["image_url"] and reply["reply_to"]["body"] == first["body"][:100]
    assert [(r["emoji"], r["count"]) for r in reply["reactions"]] == [("🎉", 1), ("👍", 3)]
    assert reply["edited_at"] and reply["author"]["avatar_thumbnail_url"]
    assert deleted["deleted"] and deleted["preview"] is None and removed["removal_reason"] == "Spam"
    assert orphan["author"] is None and "." not in whole["created_at"]


def test_an_empty_page_reads_the_same_from_rows_in_one_query(room, ann, django_assert_num_queries):
    with django_assert_num_queries(1):  # as the prefetches made none for no messages
        page = selectors.history_before(room=room, before_seq=None, limit=50, rows=True)
    assert page.messages == [] and history_payload(page, viewer_id=ann.pk) == []


@pytest.mark.services  # PostgreSQL's prepared statements
def test_a_page_and_the_membership_are_statements_prepared_once_per_connection(every_kind, ann, api_as):
    def prepared() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE statement LIKE '%%json_agg%%'),"
                " count(*) FILTER (WHERE statement LIKE '%%FROM rooms_membership m JOIN rooms_room%%')"
                " FROM pg_prepared_statements"
            )
            return cursor.fetchone()

    client = api_as(ann)

    def every_position() -> None:
        newest = client.get(f"/api/rooms/{every_kind.pk}/messages/?limit=3").json()
        assert client.get(newest["next"]).json()["results"]
        assert client.get(f"/api/rooms/{every_kind.pk}/messages/?after=1&limit=3").json()["results"]
        around = client.get(f"/api/rooms/{every_kind.pk}/messages/?around={newest['results'][1]['id']}&limit=3")
        assert len(around.json()["results"]) == 3

    every_position()
    pages, memberships = prepared()
    every_position()

    # Newest first (cursors too), oldest first, around: at most one copy each per connection, kept.
    assert prepared() == (pages, memberships) and pages >= 3 and memberships == 1


def _rows_read_for_the_page(plan: dict) -> int:
    """Rows the plan's scans of the room's messages for the page gave out, from EXPLAIN ANALYZE's JSON:
    the table's scan under the page's alias (room_messages; m before the page had a CTE of its own)."""
    own = plan.get("Relation Name") == "chat_message" and plan.get("Alias") in {"room_messages", "m"}
    read = plan["Actual Rows"] * plan["Actual Loops"] if own else 0
    return read + sum(_rows_read_for_the_page(child) for child in plan.get("Plans", ()))


def _plan_of(sql: str, parameters: dict[str, int], *, generic: bool) -> dict:
    """EXPLAIN ANALYZE of the statement prepared with its parameters as bigints, run on PostgreSQL's
    generic plan (the one a prepared statement gets after five runs: it knows no parameter) or on one
    made for these values."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    text = re.sub(r"%\((\w+)\)s", lambda found: f"${names.index(found.group(1)) + 1}", sql)
    values = ", ".join(f"'{int(parameters[name])}'::bigint" for name in names)  # quoted: -2^63 is no literal
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE explained({', '.join(['bigint'] * len(names))}) AS {text}")
        cursor.execute(f"SET plan_cache_mode = {'force_generic_plan' if generic else 'force_custom_plan'}")
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE explained({values})")
            (plan,) = cursor.fetchone()[0]
        finally:
            cursor.execute("RESET plan_cache_mode")
            cursor.execute("DEALLOCATE explained")
    return plan["Plan"]


@pytest.mark.services  # PostgreSQL's statement and plans
@pytest.mark.parametrize("plan", ["custom", "generic"])
@pytest.mark.parametrize("position", ["around", "newest", "before", "after"])
def test_a_page_deep_in_a_room_reads_only_its_own_rows(ann, room, position, plan):
    # Bounds joined as a row became a filter on a walk of the whole room: 8 s around the middle of
    # 1,000,000 messages. As scalar subqueries they are the index's range. The planner walks only
    # when it expects many rows in the range: 100,000 messages, inserted by PostgreSQL itself. The
    # generic plan (after five runs) once sorted the whole room to join the authors (merged with the
    # users' index, as a site of a thousand people or more gets): 0.9 s a page.
    User.objects.bulk_create(
        User(handle=f"person{number}", email=f"person{number}@example.com") for number in range(2000)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO chat_message (room_id, author_id, seq, body, client_id, created_at)"
            " SELECT %s, %s, n, 'm' || n, gen_random_uuid(), now() FROM generate_series(1, 100000) n",
            [room.pk, ann.pk],
        )
        cursor.execute("ANALYZE chat_message")
    middle = Message.objects.get(room=room, seq=50_000)
    sql, parameters = {
        "around": (selectors._AROUND_SQL, dict(message=middle.pk, older=25, newer=24, seq_max=selectors.SEQ_MAX)),
        "newest": (selectors._NEWEST_FIRST_SQL, dict(low=selectors.SEQ_MIN, high=selectors.SEQ_MAX)),
        "before": (selectors._NEWEST_FIRST_SQL, dict(low=selectors.SEQ_MIN, high=49_999)),
        "after": (selectors._OLDEST_FIRST_SQL, dict(low=50_001, high=selectors.SEQ_MAX)),
    }[position]

    explained = _plan_of(sql, {"room": room.pk, "limit": 51, **parameters}, generic=plan == "generic")

    assert 0 < _rows_read_for_the_page(explained) <= 51
