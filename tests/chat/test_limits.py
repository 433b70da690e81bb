import time
import uuid

import pytest

from chat import limits, redis_sync, services
from chat.limits import RateLimited, message_rate_take
from chat.models import Message
from tests.conftest import free_port
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_bucket(settings):
    settings.MESSAGE_RATE_BURST = 3
    settings.MESSAGE_RATE_PER_SECOND = 1


def test_a_burst_passes_then_the_next_send_waits_for_a_token(slow_bucket, make_user):
    ann = make_user("ann")
    room = group_room(ann)
    for _ in range(3):
        services.message_send(author=ann, room_id=room.pk, body="hi", client_id=uuid.uuid4())
    with pytest.raises(RateLimited) as caught:
        services.message_send(author=ann, room_id=room.pk, body="hi", client_id=uuid.uuid4())
    assert 0 < caught.value.retry_after <= 1
    assert Message.objects.count() == 3


def test_retries_of_a_stored_message_spend_no_tokens(slow_bucket, make_user):
    ann = make_user("ann")
    room = group_room(ann)
    client_id = uuid.uuid4()
    for _ in range(10):
        services.message_send(author=ann, room_id=room.pk, body="hi", client_id=client_id)
    assert Message.objects.count() == 1


def test_each_person_has_their_own_bucket(slow_bucket):
    for _ in range(3):
        message_rate_take(user_id=1)
    with pytest.raises(RateLimited):
        message_rate_take(user_id=1)
    message_rate_take(user_id=2)


def test_tokens_come_back_at_the_configured_rate(settings):
    settings.MESSAGE_RATE_BURST = 2
    settings.MESSAGE_RATE_PER_SECOND = 20
    message_rate_take(user_id=1)
    message_rate_take(user_id=1)
    with pytest.raises(RateLimited) as caught:
        message_rate_take(user_id=1)
    assert caught.value.retry_after <= 0.05
    time.sleep(0.06)
    message_rate_take(user_id=1)


def test_the_defaults_are_a_burst_of_ten(settings):
    del settings.MESSAGE_RATE_BURST, settings.MESSAGE_RATE_PER_SECOND
    for _ in range(10):
        message_rate_take(user_id=1)
    with pytest.raises(RateLimited) as caught:
        message_rate_take(user_id=1)
    assert caught.value.retry_after == pytest.approx(0.5, abs=0.05)


@pytest.mark.services
def test_with_redis_unreachable_messages_go_through_unlimited(settings, make_user):

    settings.MESSAGE_RATE_BURST = 1
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    redis_sync.client.cache_clear()
    try:
        ann = make_user("ann")
        room = group_room(ann)
        for _ in range(3):
            services.message_send(author=ann, room_id=room.pk, body="hi", client_id=uuid.uuid4())
        assert limits.message_rate_take_many(user_ids=[ann.pk, ann.pk]) == [None, None]
    finally:
        redis_sync.client.cache_clear()
        assert Message.objects.count() == 3


@pytest.mark.services
def test_the_bucket_still_counts_after_redis_forgets_its_script(slow_bucket):
    message_rate_take(user_id=1)
    redis_sync.client().script_flush()  # As after a Redis restart.
    message_rate_take(user_id=1)
    message_rate_take(user_id=1)
    with pytest.raises(RateLimited):
        message_rate_take(user_id=1)
