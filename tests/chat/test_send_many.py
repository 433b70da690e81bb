"""message_send_many: many sends in one go, by exactly the rules of message_send."""

import asyncio
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, contextmanager

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from accounts import services as account_services
from chat import events, services
from chat.limits import RateLimited
from chat.models import Message
from chat.services import SendRequest
from rooms import services as room_services
from rooms.models import Membership, Room
from rooms.selectors import RoomNotVisible
from tests.chat.attachments import upload_id
from tests.chat.concurrency import own_connection
from tests.chat.realtime import published
from tests.chat.sockets import connected
from tests.rooms.factories import group_room


def request(author, room, body="hi", client_id=None, **extra) -> SendRequest:
    return SendRequest(author=author, room_id=room.pk, body=body, client_id=client_id or uuid.uuid4(), **extra)


@pytest.mark.django_db
def test_each_request_gets_its_message_or_its_own_refusal(ann, ben, bob, room):
    other = group_room(bob, title="Not ann's")
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    account_services.block_create(blocker=bob, blocked=ann)
    earlier = services.message_send(author=ben, room_id=room.pk, body="earlier", client_id=uuid.uuid4())
    twice = uuid.uuid4()
    requests = [
        request(ann, room, "one"),
        request(ann, other, "not a member"),
        request(ben, room, "   "),
        request(ben, room, "retry", client_id=earlier.client_id),
        request(ann, room, "two", client_id=twice),
        request(ann, room, "two again", client_id=twice),
        request(ann, direct, "blocked"),
        request(ben, room, "three", client_id="not a uuid"),
        request(ben, room, "four", reply_to_id=earlier.pk),
    ]

    outcomes = services.message_send_many(requests=requests)

    assert [getattr(outcome, "body", None) for outcome in outcomes] == [
        "one", None, None, "earlier", "two", "two", None, None, "four"
    ]  # fmt: skip
    assert isinstance(outcomes[1], RoomNotVisible)
    assert isinstance(outcomes[2], ValidationError) and "body" in outcomes[2].message_dict
    assert outcomes[3].pk == earlier.pk and outcomes[3].replayed
    assert outcomes[5].pk == outcomes[4].pk
    assert isinstance(outcomes[6], PermissionDenied)
    assert isinstance(outcomes[7], ValidationError) and "client_id" in outcomes[7].message_dict
    assert outcomes[8].reply_to_id == earlier.pk
    # Gapless seqs in the order the requests came, and the senders' own messages are read.
    assert list(Message.objects.filter(room=room).order_by("seq").values_list("seq", "body")) == [
        (1, "earlier"), (2, "one"), (3, "two"), (4, "four")
    ]  # fmt: skip
    assert Room.objects.get(pk=room.pk).last_seq == 4
    assert Membership.objects.get(room=room, user=ann).last_read_seq == 3
    assert Membership.objects.get(room=room, user=ben).last_read_seq == 4


@pytest.mark.django_db
def test_the_rate_limit_counts_every_request_of_a_batch(ann, room, settings):
    settings.MESSAGE_RATE_BURST = 3
    settings.MESSAGE_RATE_PER_SECOND = 0.1
    outcomes = services.message_send_many(requests=[request(ann, room) for _ in range(5)])
    assert [isinstance(outcome, RateLimited) for outcome in outcomes] == [False, False, False, True, True]
    assert Message.objects.filter(room=room).count() == 3


@pytest.mark.django_db
def test_each_message_of_a_batch_over_two_rooms_comes_back_as_it_was_stored(ann, ben, room, settings):
    settings.MESSAGE_RATE_BURST = 100
    other = group_room(ben, ann, title="Second")
    services.message_send(author=ben, room_id=other.pk, body="first in other", client_id=uuid.uuid4())
    targets = [room, other, other, room, other, room]
    requests = [request(ann if n % 2 else ben, target, f"{n}") for n, target in enumerate(targets)]

    outcomes = services.message_send_many(requests=requests)

    stored = {
        pk: (room_id, seq, body)
        for pk, room_id, seq, body in Message.objects.values_list("pk", "room_id", "seq", "body")
    }
    assert [(o.room_id, o.seq, o.body) for o in outcomes] == [stored[o.pk] for o in outcomes]
    assert [o.seq for o in outcomes] == [1, 2, 3, 2, 4, 3]  # In request order, after what each room had.


@pytest.mark.services
@pytest.mark.django_db(transaction=True)  # as the socket's database thread sends: no caller's transaction
def test_a_batch_costs_the_same_statements_for_two_rooms_or_twenty(ann, make_user, django_assert_num_queries, settings):
    settings.MESSAGE_RATE_BURST = 100
    rooms = [group_room(ann, make_user()) for _ in range(20)]
    # memberships with the stored client ids, one statement storing the batch (locks, seqs, insert,
    # read positions), and blocks with direct rooms in the batch; no savepoint: the statement is atomic
    with django_assert_num_queries(2):
        services.message_send_many(requests=[request(ann, room) for room in rooms[:2]])
    with django_assert_num_queries(2):
        outcomes = services.message_send_many(requests=[request(ann, room) for room in rooms])
    assert all(isinstance(outcome, Message) for outcome in outcomes)


@contextmanager
def wire_trace() -> Iterator[list[str]]:
    """What this thread's PostgreSQL connection sends while the block runs: libpq's protocol trace,
    one line per message (BEGIN and COMMIT are psycopg's and Django's own, which query counts miss)."""
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    lines: list[str] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn.trace(trace.fileno())
        try:
            yield lines
        finally:
            pgconn.untrace()
            trace.seek(0)
            lines.extend(line for line in trace.read().splitlines() if line.split("\t")[1:2] == ["F"])


def statements(lines: list[str]) -> list[str]:
    return [line.split('"')[1].split()[0] for line in lines if "\tQuery\t" in line or "\tParse\t" in line]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_batch_without_uploads_is_one_statement_with_no_begin_or_commit(ann, ben, api_as, settings):
    # Each round trip is a wait for the GIL in the database thread while the event loop writes copies.
    settings.MESSAGE_RATE_BURST = 100
    rooms = [group_room(ann, ben) for _ in range(2)]
    services.message_send_many(requests=[request(ann, room) for room in rooms])  # Prepares the statements.
    upload = upload_id(api_as(ann))

    with wire_trace() as plain:
        sent = services.message_send_many(requests=[request(ann, room) for room in rooms])
    with wire_trace() as with_upload:
        services.message_send_many(requests=[request(ann, rooms[0], attachment_ids=[upload])])

    assert all(isinstance(message, Message) for message in sent)
    assert Message.objects.filter(pk__in=[message.pk for message in sent]).count() == 2
    assert not any(word in ("BEGIN", "COMMIT") for word in statements(plain))
    # Its uploads are claimed and linked by statements of their own: all in one transaction.
    assert statements(with_upload)[0] == "BEGIN" and statements(with_upload)[-1] == "COMMIT"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_rooms_neither_deadlock_nor_leave_gaps(make_user, settings):
    settings.MESSAGE_RATE_BURST = 1000
    people = [make_user() for _ in range(6)]
    rooms = [group_room(people[0], *people[1:]) for _ in range(4)]
    start = threading.Barrier(6)

    def sender(number: int) -> list:
        start.wait(10)
        # Each batch touches the rooms in a different order.
        order = rooms[number % 4 :] + rooms[: number % 4]
        return services.message_send_many(requests=[request(people[number], room) for room in order * 5])

    def everyone_sends():
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(own_connection(sender), range(6)))
        assert all(isinstance(outcome, Message) for outcomes in results for outcome in outcomes)

    received = published(events.room_group(rooms[0].pk), everyone_sends, expect=30, timeout=30)
    for room in rooms:
        seqs = list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, 31))
    assert sorted(event["message"]["seq"] for event in received) == list(range(1, 31))


@pytest.mark.django_db(transaction=True)
async def test_sockets_sending_at_the_same_moment_each_get_their_own_ack(make_user, settings):
    people = await database_sync_to_async(lambda: [make_user() for _ in range(8)])()
    room = await database_sync_to_async(group_room)(people[0], *people[1:])
    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(connected(person)) for person in people]
        client_ids = [str(uuid.uuid4()) for _ in sockets]
        for socket, client_id in zip(sockets, client_ids, strict=True):
            await socket.send("message.send", room=room.pk, body="at once", client_id=client_id)
        acks = []
        for socket in sockets:
            while True:
                event = await socket.receive()
                if event["type"] == "message.ack":
                    acks.append(event)
                    break
        await asyncio.sleep(0)
    assert [ack["client_id"] for ack in acks] == client_ids
    assert sorted(ack["message"]["seq"] for ack in acks) == list(range(1, 9))
    assert await database_sync_to_async(Message.objects.filter(room=room).count)() == 8


@pytest.mark.services  # PostgreSQL's batch statement
@pytest.mark.django_db  # inside the test's transaction, as a caller's atomic block (ATOMIC_REQUESTS)
def test_a_retry_stored_meanwhile_inside_a_callers_transaction_still_gets_its_original(ann, room, monkeypatch):
    original = services.message_send(author=ann, room_id=room.pk, body="original", client_id=uuid.uuid4())
    # The race, made to happen every time: the check ran before another process stored the retry's
    # original, so the batch's insert hits the unique (room, author, client_id) and falls back.
    checked = services._checked
    monkeypatch.setattr(services, "_checked", lambda *args: (checked(*args)[0], set()))

    outcomes = services.message_send_many(requests=[request(ann, room, "retry", client_id=original.client_id)])

    assert [outcome.pk for outcome in outcomes] == [original.pk]
    assert list(room.messages.values_list("body", flat=True)) == ["original"]


@pytest.mark.services  # PostgreSQL's prepared statements
@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_statement_a_migration_made_stale_is_stored_all_the_same(ann, ben, room, retype_column):
    assert isinstance(services.message_send_many(requests=[request(ann, room, "before")])[0], Message)  # prepared
    retype_column("rooms_membership", "request", "text")  # a column the batch's check returns

    outcomes = services.message_send_many(requests=[request(ann, room, "after"), request(ben, room, "too")])

    assert [outcome.body for outcome in outcomes] == ["after", "too"]
    assert list(room.messages.order_by("seq").values_list("body", flat=True)) == ["before", "after", "too"]


@pytest.mark.django_db
def test_a_send_is_refused_for_the_same_reason_as_over_rest(ann, bob):
    not_ann_s = group_room(bob, title="Not ann's")
    sent = request(ann, not_ann_s, "hi", attachment_ids=[0])

    [outcome] = services.message_send_many(requests=[sent])

    with pytest.raises(ValidationError) as over_rest:
        services.message_send(author=ann, room_id=not_ann_s.pk, body="hi", client_id=sent.client_id, attachment_ids=[0])
    assert isinstance(outcome, ValidationError) and outcome.message_dict == over_rest.value.message_dict
