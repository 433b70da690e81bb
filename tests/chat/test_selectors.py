import uuid

import pytest

from chat import events, selectors, services
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.MESSAGE_RATE_BURST = 1000


def fill(room, authors, count):
    return [
        services.message_send(
            author=authors[number % len(authors)], room_id=room.pk, body=f"message {number}", client_id=uuid.uuid4()
        )
        for number in range(count)
    ]


def test_recent_messages_are_the_newest_fifty_oldest_first(ann):
    room = group_room(ann)
    fill(room, [ann], 55)
    recent = selectors.messages_recent(room_id=room.pk)
    assert [message.seq for message in recent] == list(range(6, 56))


def test_messages_after_a_seq_come_in_order_limited_with_tombstones(ann):
    room = group_room(ann)
    sent = fill(room, [ann], 10)
    services.message_delete(user=ann, message_id=sent[5].pk)
    after = selectors.messages_after(room_id=room.pk, after_seq=4, limit=3)
    assert [(message.seq, message.is_deleted) for message in after] == [(5, False), (6, True), (7, False)]
    assert selectors.messages_after(room_id=room.pk, after_seq=10) == []


def test_a_resume_beyond_the_limit_means_reload():
    assert not selectors.resume_needs_reload(last_seq=300, after_seq=100, limit=200)
    assert selectors.resume_needs_reload(last_seq=301, after_seq=100, limit=200)


def test_message_lists_cost_three_queries_however_many_reactions_and_replies(ann, ben, django_assert_num_queries):
    room = group_room(ann, ben)
    first = fill(room, [ann, ben], 2)
    with django_assert_num_queries(3):
        payloads = [events.message_payload(message) for message in selectors.messages_recent(room_id=room.pk)]
    assert len(payloads) == 2

    for message in first:
        services.reaction_add(user=ben, message_id=message.pk, emoji="👍")
        services.reaction_add(user=ann, message_id=message.pk, emoji="👍")
        services.message_send(author=ann, room_id=room.pk, body="re", client_id=uuid.uuid4(), reply_to_id=message.pk)
    with django_assert_num_queries(3):
        payloads = [events.message_payload(message) for message in selectors.messages_recent(room_id=room.pk)]
    assert len(payloads) == 4
    assert payloads[0]["reactions"] == [{"emoji": "👍", "count": 2, "user_ids": [ben.pk, ann.pk]}]
    assert payloads[2]["reply_to"]["id"] == first[0].pk


def test_the_payload_is_what_rest_and_sockets_both_show(ann, ben):
    room = group_room(ann, ben)
    question = services.message_send(author=ben, room_id=room.pk, body="q" * 150, client_id=uuid.uuid4())
    reply = services.message_send(
        author=ann, room_id=room.pk, body="answer", client_id=uuid.uuid4(), reply_to_id=question.pk
    )
    services.reaction_add(user=ben, message_id=reply.pk, emoji="❤️")
    services.message_edit(user=ann, message_id=reply.pk, body="the answer")

    payload = events.message_payload(selectors.messages_recent(room_id=room.pk)[-1])

    assert set(payload) == {
        "id",
        "room",
        "seq",
        "author",
        "body",
        "reply_to",
        "client_id",
        "created_at",
        "edited_at",
        "deleted",
        "removal_reason",
        "attachments",
        "reactions",
        "preview",
    }
    assert payload["preview"] is None and payload["removal_reason"] is None
    assert payload["author"] == {"id": ann.pk, "handle": "ann", "display_name": "Ann", "avatar_thumbnail_url": None}
    assert payload["reply_to"] == {
        "id": question.pk,
        "seq": 1,
        "author": "ben",
        "body": "q" * 100,
        "deleted": False,
        "removal_reason": None,
    }
    assert (payload["room"], payload["seq"], payload["body"], payload["deleted"]) == (room.pk, 2, "the answer", False)
    assert payload["client_id"] == str(reply.client_id) and payload["edited_at"] is not None
    assert payload["reactions"] == [{"emoji": "❤️", "count": 1, "user_ids": [ben.pk]}]


def test_a_message_whose_author_is_gone_still_shows(ann, ben):
    room = group_room(ann, ben)
    message = services.message_send(author=ben, room_id=room.pk, body="bye", client_id=uuid.uuid4())
    ben.delete()
    payload = events.message_payload(selectors.messages_recent(room_id=room.pk)[0])
    assert payload["id"] == message.pk and payload["author"] is None


def test_resume_sends_what_each_room_missed_and_leaves_out_rooms_of_others(ann, ben, make_user):
    behind, current, big = group_room(ann, ben), group_room(ann, ben), group_room(ann, ben)
    elsewhere = group_room(make_user("cat"))
    fill(behind, [ann], 5)
    fill(current, [ann], 2)
    fill(elsewhere, [elsewhere.creator], 3)
    big.last_seq = selectors.RESUME_LIMIT + 1  # Seqs are gapless: the gap alone decides.
    big.save(update_fields=["last_seq"])
    positions = {behind.pk: 3, current.pk: 2, big.pk: 0, elsewhere.pk: 0}
    batches = selectors.resume_batches(user=ben, positions=positions)
    assert [(room_id, None if messages is None else [m.seq for m in messages]) for room_id, messages in batches] == [
        (behind.pk, [4, 5]),
        (big.pk, None),
    ]


def test_resume_costs_one_query_plus_three_per_room_behind(ann, ben, django_assert_num_queries):
    rooms = [group_room(ann, ben) for _ in range(3)]
    for room in rooms:
        fill(room, [ann, ben], 3)
    with django_assert_num_queries(1 + 3 * 3):
        batches = selectors.resume_batches(user=ben, positions={room.pk: 0 for room in rooms})
        for _, messages in batches:
            [events.message_new(message) for message in messages]
