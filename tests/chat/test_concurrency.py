import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from chat import events, services
from chat.models import Message
from rooms.models import Membership, Room
from tests.chat.concurrency import own_connection, race_against_open_transaction
from tests.chat.realtime import published
from tests.rooms.factories import group_room

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SENDERS = 20
AUTHORS = 10
MESSAGES_PER_SENDER = 3


@pytest.fixture(autouse=True)
def _roomy_rate_limit(settings):
    settings.MESSAGE_RATE_BURST = 100


def test_a_retry_waiting_on_the_room_lock_gets_the_original_back(make_user):
    ann = make_user("ann")
    room = group_room(ann)
    client_id = uuid.uuid4()

    def send():
        # The second call finds nothing committed and queues for the room row.
        return services.message_send(author=ann, room_id=room.pk, body="hi", client_id=client_id)

    original, replayed = race_against_open_transaction(send, send)

    assert replayed.pk == original.pk and replayed.replayed
    assert Message.objects.count() == 1
    assert Room.objects.get(pk=room.pk).last_seq == 1


def test_twenty_senders_retrying_at_once_leave_no_duplicates_and_no_gaps(make_user):
    authors = [make_user() for _ in range(AUTHORS)]
    room = group_room(authors[0], *authors[1:])
    # Two senders per author share their client ids: each send is also retried concurrently.
    client_ids = {author.pk: [uuid.uuid4() for _ in range(MESSAGES_PER_SENDER)] for author in authors}
    start = threading.Barrier(SENDERS)

    def sender(number: int) -> list[int]:
        author = authors[number % AUTHORS]
        start.wait(10)
        stored = []
        for client_id in client_ids[author.pk]:
            for _attempt in range(2):  # the lost-ack retry
                message = services.message_send(author=author, room_id=room.pk, body="hi", client_id=client_id)
                stored.append(message.pk)
        return stored

    def everyone_sends():
        with ThreadPoolExecutor(SENDERS) as pool:
            results = list(pool.map(own_connection(sender), range(SENDERS)))
        assert all(len(stored) == 2 * MESSAGES_PER_SENDER for stored in results)

    expected = AUTHORS * MESSAGES_PER_SENDER
    received = published(events.room_group(room.pk), everyone_sends, expect=expected, timeout=30)

    messages = list(Message.objects.filter(room=room).order_by("seq"))
    assert len(messages) == expected
    assert [message.seq for message in messages] == list(range(1, expected + 1))
    assert {(message.author_id, message.client_id) for message in messages} == {
        (author_id, client_id) for author_id, ids in client_ids.items() for client_id in ids
    }
    assert Room.objects.get(pk=room.pk).last_seq == expected
    # One message.new per stored message: retries announce nothing.
    assert sorted(event["message"]["seq"] for event in received) == list(range(1, expected + 1))
    assert Membership.objects.filter(room=room).count() == AUTHORS
