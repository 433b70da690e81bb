import uuid
from datetime import UTC, datetime

import orjson
import pytest
from django.db import connection

from accounts import services as account_services
from accounts.models import DmPolicy, User
from chat import presence
from chat import services as chat_services
from config.context_processors import sidebar_rooms
from rooms import services
from rooms.models import Membership, Room
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.MESSAGE_RATE_BURST = 1000


def send(author, room, body="hello"):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def my_rooms(client) -> dict[int, dict]:
    response = client.get("/api/rooms/")
    assert response.status_code == 200
    return {item["room"]["id"]: item for item in response.json()}


def test_each_room_shows_its_newest_message_as_a_short_preview(ann, ben, room, api_as):
    send(ann, room, "first")
    last = send(ben, room, "x" * 300)

    item = my_rooms(api_as(ann))[room.pk]

    preview = item["last_message"]
    assert (preview["id"], preview["seq"], preview["deleted"]) == (last.pk, 2, False)
    assert preview["body"] == "x" * 100
    assert preview["author"]["handle"] == "ben"
    assert preview["created_at"] == last.created_at.isoformat().replace("+00:00", "Z")


def test_an_empty_room_has_no_last_message_and_a_deleted_one_is_a_tombstone(ann, ben, room, api_as):
    quiet = group_room(ann, title="Quiet")
    message = send(ben, room, "oops")
    chat_services.message_delete(user=ben, message_id=message.pk)

    rooms = my_rooms(api_as(ann))

    assert rooms[quiet.pk]["last_message"] is None
    assert (rooms[room.pk]["last_message"]["body"], rooms[room.pk]["last_message"]["deleted"]) == ("", True)


def test_rooms_come_most_recently_active_first(ann, ben, api_as):
    older, newer = group_room(ann, ben, title="Older"), group_room(ann, ben, title="Newer")
    send(ben, older)
    send(ben, newer)
    send(ben, older, "latest")

    response = api_as(ann).get("/api/rooms/")

    assert [item["room"]["id"] for item in response.json()][:2] == [older.pk, newer.pk]
    assert response.json()[0]["last_message"]["body"] == "latest"


def test_unread_counts_what_came_after_my_read_position(ann, ben, room, api_as):
    for number in range(5):
        send(ann, room, f"message {number}")
    client = api_as(ben)
    assert my_rooms(client)[room.pk]["unread"] == 5

    marked = client.post(f"/api/rooms/{room.pk}/read/", {"seq": 3}, format="json")

    assert marked.status_code == 200 and marked.data == {"room": room.pk, "last_read_seq": 3}
    assert my_rooms(client)[room.pk]["unread"] == 2
    assert my_rooms(api_as(ann))[room.pk]["unread"] == 0  # what I sent, I have read


@pytest.mark.parametrize("seq", [-1, "abc", None])
def test_marking_read_with_a_bad_seq_is_a_400_on_the_field(ann, room, api_as, seq):
    response = api_as(ann).post(f"/api/rooms/{room.pk}/read/", {"seq": seq}, format="json")
    assert response.status_code == 400 and "seq" in response.data["fields"]


def test_a_direct_room_shows_the_other_person_and_whether_they_are_online(ann, ben, bob, api_as, online):
    with_ben, _ = services.direct_room_get_or_create(user=ann, other=ben)
    with_bob, _ = services.direct_room_get_or_create(user=ann, other=bob)
    group = group_room(ann, ben)
    online(ben)

    rooms = my_rooms(api_as(ann))

    assert (rooms[with_ben.pk]["peer"]["handle"], rooms[with_ben.pk]["peer"]["online"]) == ("ben", True)
    assert (rooms[with_bob.pk]["peer"]["handle"], rooms[with_bob.pk]["peer"]["online"]) == ("bob", False)
    assert rooms[group.pk]["peer"] is None
    assert my_rooms(api_as(ben))[with_ben.pk]["peer"]["online"] is False


def fill_rooms(ann, make_user, count: int) -> None:
    """`count` rooms for ann, alternately group and direct, each with a message, a reply and a peer online."""
    for number in range(count):
        other = make_user()
        if number % 2:
            room = group_room(ann, other, title=f"Room {number}")
        else:
            room, _ = services.direct_room_get_or_create(user=ann, other=other)
        first = send(other, room)
        chat_services.message_send(
            author=ann, room_id=room.pk, body="reply", client_id=uuid.uuid4(), reply_to_id=first.pk
        )


def test_the_list_costs_the_same_queries_for_3_rooms_or_30(ann, make_user, api_as, django_assert_num_queries):
    client = api_as(ann)
    fill_rooms(ann, make_user, 3)
    # user (authentication); memberships with rooms, newest messages with authors, direct peers and
    # whether a block hides them (one prepared statement on PostgreSQL; three ORM queries elsewhere)
    queries = 2 if connection.vendor == "postgresql" else 4
    with django_assert_num_queries(queries):
        assert len(client.get("/api/rooms/").json()) == 3
    fill_rooms(ann, make_user, 27)
    with django_assert_num_queries(queries):
        response = client.get("/api/rooms/")
    assert len(response.json()) == 30
    assert all(item["last_message"]["body"] == "reply" for item in response.json())


@pytest.mark.services
def test_presence_for_the_whole_list_is_one_redis_round_trip(ann, make_user, api_as, online, monkeypatch):
    people = [make_user() for _ in range(5)]
    for person in people:
        services.direct_room_get_or_create(user=ann, other=person)
    online(people[0])
    online(people[3])
    calls = []
    real = presence.online_among_now

    def counted(user_ids):
        calls.append(list(user_ids))
        return real(user_ids)

    monkeypatch.setattr(presence, "online_among_now", counted)

    response = api_as(ann).get("/api/rooms/")

    assert len(calls) == 1 and sorted(calls[0]) == sorted(person.pk for person in people)
    assert {item["peer"]["handle"] for item in response.json() if item["peer"]["online"]} == {
        people[0].handle,
        people[3].handle,
    }


def test_the_list_json_is_exactly_what_the_documented_fields_give(ann, ben, bob, room, make_user, api_as, online):
    # The list is built from rows for speed; MyRoomSerializer's declared fields document it (OpenAPI)
    # and serialize the memberships the pages read.
    from rooms.api import MyRoomSerializer, room_list_payload
    from rooms.selectors import memberships_of_user, room_list

    services.direct_room_get_or_create(user=ann, other=ben)
    services.direct_room_get_or_create(user=ann, other=bob)
    group_room(ann, title="Empty")
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    ben.save(update_fields=["avatar_thumbnail"])
    send(ben, room, "q?")
    chat_services.message_delete(user=ben, message_id=send(ben, room, "oops").pk)
    gone = make_user()
    services.direct_room_get_or_create(user=ann, other=gone)
    send(gone, group_room(ann, gone, title="Gone"), "é" * 150)  # a preview cut in characters
    gone.delete()  # the direct room keeps no peer, the message no author
    Room.objects.filter(pk=room.pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))  # a whole second
    lobby_chat = Room.objects.create(kind=Room.Kind.RANDOM, closed_at=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC))
    Membership.objects.create(room=lobby_chat, user=ann)
    online(ben)

    memberships = memberships_of_user(user=ann)
    for membership in memberships:
        if membership.peer is not None:
            membership.peer.is_online = membership.peer.handle == "ben"

    built = room_list_payload(room_list(user=ann))
    assert built == MyRoomSerializer(memberships, many=True).data and len(built) == 7
    assert any(item["peer"] and item["peer"]["avatar_thumbnail_url"] for item in built)
    assert any(item["peer"] and item["peer"]["online"] for item in built)
    assert built[0]["last_message"] == {**built[0]["last_message"], "author": None, "body": "é" * 100}
    assert [item["last_message"]["deleted"] for item in built if item["last_message"]] == [False, True]
    assert [item["room"]["created_at"] for item in built if item["room"]["id"] == room.pk] == ["2026-01-02T03:04:05Z"]
    assert [item["room"]["closed_at"] for item in built if item["room"]["id"] == lobby_chat.pk] == [
        "2026-01-02T03:04:05.000600Z"
    ]
    assert {item["room"]["closed_at"] for item in built if item["room"]["id"] != lobby_chat.pk} == {None}
    assert api_as(ann).get("/api/rooms/").json() == built


@pytest.mark.services
def test_the_list_postgresql_writes_is_the_one_the_orm_reads(ann, ben, bob, room, make_user, online):
    # PostgreSQL writes the list's JSON with one prepared statement; SQLite (embedded mode) reads it through the ORM.
    from rooms.api import room_list_payload
    from rooms.selectors import room_list, room_list_json

    strangers = make_user(dm_policy=DmPolicy.REQUESTS)
    blocker, blocked, gone, asking = make_user(), make_user(), make_user(), make_user()
    for other in (ben, bob, strangers, blocker, blocked, gone, asking):
        services.direct_room_get_or_create(user=ann, other=other)  # strangers: my request, waiting
    services.direct_room_get_or_create(
        user=make_user(dm_policy=DmPolicy.REQUESTS), other=ann
    )  # opened by the other person
    ann.dm_policy = DmPolicy.REQUESTS
    ann.save(update_fields=["dm_policy"])
    services.direct_room_get_or_create(user=make_user(), other=ann)  # a request to me: listed apart
    account_services.block_create(blocker=blocker, blocked=ann)
    account_services.block_create(blocker=ann, blocked=blocked)
    ben.avatar_thumbnail = "avatars/ben-thumb.webp"
    ben.save(update_fields=["avatar_thumbnail"])
    group_room(ann, title='Quotes " \\ and\nlines, émoji 🎉')
    send(ben, room, "q?")
    chat_services.message_delete(user=ben, message_id=send(ben, room, "oops").pk)
    send(gone, group_room(ann, gone, title="Gone"), "é" * 150)
    gone.delete()
    Room.objects.filter(pk=room.pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    lobby_chat = Room.objects.create(kind=Room.Kind.RANDOM, closed_at=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC))
    Membership.objects.create(room=lobby_chat, user=ann, role=Membership.Role.MEMBER, last_read_seq=0)
    online(ben, strangers, blocker, blocked, asking)

    written = orjson.loads(room_list_json(user_id=ann.pk))

    read = room_list(user=ann)
    assert written == room_list_payload(read) and len(written) == 12
    assert sum(1 for item in written if item["peer"]) == 7 and read.online == {ben.pk, asking.pk}
    assert {item["peer"]["id"] for item in written if item["peer"] and item["peer"]["online"]} == {ben.pk, asking.pk}


def test_a_peer_in_a_block_never_shows_online(ann, ben, bob, api_as, online):
    services.direct_room_get_or_create(user=ann, other=ben)
    services.direct_room_get_or_create(user=ann, other=bob)
    online(ben)
    online(bob)
    account_services.block_create(blocker=ben, blocked=ann)
    peers = {item["peer"]["handle"]: item["peer"]["online"] for item in api_as(ann).get("/api/rooms/").json()}
    assert peers == {"ben": False, "bob": True}


def test_a_direct_room_a_repair_left_with_a_third_member_is_listed_once_with_its_first_person(ann, ben, bob, api_as):
    direct, _ = services.direct_room_get_or_create(user=ann, other=bob)
    Membership.objects.create(room=direct, user=ben, role=Membership.Role.MEMBER)  # as the admin can
    first = min(ben.pk, bob.pk)

    listed = api_as(ann).get("/api/rooms/").json()

    assert [(item["room"]["id"], item["peer"]["id"]) for item in listed] == [(direct.pk, first)]
    assert [room["peer"]["id"] for room in sidebar_rooms(user=ann)] == [first]


@pytest.mark.services  # the statement that writes the JSON is PostgreSQL's
def test_the_json_postgresql_writes_is_byte_for_byte_the_rendered_list(ann, ben, bob, room, make_user, online):
    from config.renderers import JSONRenderer, WrittenJSON
    from rooms.api import room_list_payload
    from rooms.selectors import room_list, room_list_json

    offline, blocked, asking = make_user(), make_user(), make_user(dm_policy=DmPolicy.REQUESTS)
    for other in (ben, bob, offline, blocked, asking):  # asking: my request, waiting
        services.direct_room_get_or_create(user=ann, other=other)
    account_services.block_create(blocker=ann, blocked=blocked)
    ben.avatar_thumbnail = 'avatars/b\u00e9n "q" \\ 1%.webp'  # quoted by the storage's URL, escaped in the JSON
    ben.save(update_fields=["avatar_thumbnail"])
    odd = 'Q " \\ / \x01\x08\t\n\x0c\r\x1f\x7f \u2028\u2029 \u00e9 \U0001f389 </script>'  # every escape kind
    odd_room = group_room(ann, title=odd)  # no message
    Room.objects.filter(pk=odd_room.pk).update(description=odd, category=odd[:40])
    # A value outside the choices (written behind the model's back) is still written as any string.
    Membership.objects.filter(room=odd_room, user=ann).update(notification_level='\\"x\n')
    send(ben, room, odd)
    chat_services.message_delete(user=ben, message_id=send(ben, group_room(ann, ben, title="Deleted"), "oops").pk)
    gone = make_user()
    send(gone, group_room(ann, gone, title="Gone"), "\u00e9" * 150)
    gone.delete()  # the message keeps no author
    whole = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    Room.objects.filter(pk=room.pk).update(created_at=whole, last_message_at=whole)
    room.messages.update(created_at=whole)
    Room.objects.filter(title="Deleted").update(created_at=datetime(2026, 1, 2, 3, 4, 5, 100_000, tzinfo=UTC))
    lobby_chat = Room.objects.create(kind=Room.Kind.RANDOM, closed_at=datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC))
    Membership.objects.create(room=lobby_chat, user=ann, role=Membership.Role.MEMBER, last_read_seq=5)
    online(ben, blocked, asking, ann)

    written = JSONRenderer().render(WrittenJSON(room_list_json(user_id=ann.pk)))

    rendered = JSONRenderer().render(room_list_payload(room_list(user=ann)))
    assert written == rendered
    items = orjson.loads(rendered)
    peers = {item["peer"]["id"]: item["peer"] for item in items if item["peer"]}
    assert {peer_id for peer_id, peer in peers.items() if peer["online"]} == {ben.pk}
    assert peers[ben.pk]["avatar_thumbnail_url"] and peers[bob.pk]["avatar_thumbnail_url"] is None
    assert any(item["room"]["title"] == odd and item["last_message"] is None for item in items)
    assert b"\\u2028" in written and "\u2028".encode() not in written
    assert b'"2026-01-02T03:04:05Z"' in written and b'"2026-01-02T03:04:05.100000Z"' in written
    assert room_list_json(user_id=make_user().pk) == "[]"


@pytest.mark.services
def test_the_written_list_reads_the_same_indented_and_in_the_browsable_api(ann, ben, room, api_as):
    services.direct_room_get_or_create(user=ann, other=ben)
    send(ben, room, "hi")
    client = api_as(ann)

    compact = client.get("/api/rooms/")
    indented = client.get("/api/rooms/", HTTP_ACCEPT="application/json; indent=2")
    page = client.get("/api/rooms/", HTTP_ACCEPT="text/html")

    assert indented.json() == compact.json() and b'\n  {\n    "room": {' in indented.content
    assert page.status_code == 200 and b"&quot;last_message&quot;" in page.content


def test_a_choice_value_the_rooms_list_statement_could_not_hold_as_written_is_refused():
    from django.core.exceptions import ImproperlyConfigured
    from django.db import models

    from rooms.selectors import _choice_json

    class Quoted(models.TextChoices):
        ODD = "it's", "Odd"

    with pytest.raises(ImproperlyConfigured):
        _choice_json("m.kind", Quoted)
    assert "WHEN 'direct' THEN '\"direct\"'" in _choice_json("m.kind", Room.Kind)


@pytest.mark.services  # the head of the room's JSON is kept in its row by a trigger (rooms_room.list_head)
def test_the_room_json_postgresql_keeps_follows_every_change_of_the_room(ann, ben, room, moderator, make_user):
    from rooms.api import room_list_payload
    from rooms.selectors import room_list, room_list_json

    creator = make_user()
    other = group_room(creator, ann, title="Theirs")

    def listed_as_the_orm_reads() -> dict:
        written = orjson.loads(room_list_json(user_id=ann.pk))
        assert written == room_list_payload(room_list(user=ann))
        return {item["room"]["id"]: item["room"] for item in written}

    send(ben, room, "a send takes the next seq and time")
    assert listed_as_the_orm_reads()[room.pk]["last_seq"] == 1
    services.room_update(by=ann, room_id=room.pk, title='Re"named \\ é')
    assert listed_as_the_orm_reads()[room.pk]["title"] == 'Re"named \\ é'
    for change in ({"description": "d\n"}, {"category": "c"}, {"is_public": True}):
        services.room_update(by=ann, room_id=room.pk, **change)
        listed_as_the_orm_reads()
    services.room_archive(moderator=moderator, room_id=room.pk, reason="spam")
    assert listed_as_the_orm_reads()[room.pk]["closed_at"] is not None
    services.room_unarchive(moderator=moderator, room_id=room.pk)
    creator.delete()  # the database sets the room's creator to null
    assert listed_as_the_orm_reads()[other.pk]["creator"] is None
    # Behind the models' back (an admin's SQL, a bulk update): the same.
    Room.objects.filter(pk=other.pk).update(kind="odd\u2028", created_at=datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC))
    assert listed_as_the_orm_reads()[other.pk]["created_at"] == "2026-01-02T03:04:05.000001Z"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE rooms_room SET list_head = 'forged'")
    listed_as_the_orm_reads()


@pytest.mark.services  # the head of a person's JSON is kept in their row by a trigger (accounts_user.summary_head)
def test_the_people_postgresql_keeps_written_follow_every_change_of_them(ann, ben, room):
    from rooms.api import room_list_payload
    from rooms.selectors import room_list, room_list_json

    services.direct_room_get_or_create(user=ann, other=ben)
    send(ben, room, "ben is the newest message's author")

    def listed_as_the_orm_reads() -> list[dict]:
        written = orjson.loads(room_list_json(user_id=ann.pk))
        assert written == room_list_payload(room_list(user=ann))
        return written

    account_services.profile_update(user=ben, display_name='B"en \\ é')
    assert {item["peer"]["display_name"] for item in listed_as_the_orm_reads() if item["peer"]} == {'B"en \\ é'}
    User.objects.filter(pk=ben.pk).update(handle="benjamin")  # behind the model's back: the same
    authors = {item["last_message"]["author"]["handle"] for item in listed_as_the_orm_reads() if item["last_message"]}
    assert authors == {"benjamin"}
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET summary_head = 'forged'")
    listed_as_the_orm_reads()
