"""Talk to a stranger: the queue, the matcher's rules, and the lobby chats' life and end.

The matcher's state is in Redis (service runs) or in this process (embedded runs): every test
here runs both ways. People must be online to be paired (their sockets' presence entries).
"""

import time
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Report
from chat import services as chat_services
from chat.limits import RateLimited
from chat.models import Message
from rooms import lobby, matching, services
from rooms.models import Membership, Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, online):
    """people(n) -> n verified people, online."""

    def make(count):
        made = [make_user() for _ in range(count)]
        online(*made)
        return made

    return make


def members_of(room) -> set[int]:
    return set(Membership.objects.filter(room=room).values_list("user_id", flat=True))


def test_the_second_person_to_join_is_paired_with_the_first_in_a_new_random_room(people):
    ann, ben = people(2)
    assert matching.lobby_join(user=ann).room is None
    assert lobby.is_waiting(user_id=ann.pk) and lobby.waiting_count() == 1

    room = matching.lobby_join(user=ben).room

    assert room.kind == Room.Kind.RANDOM and room.closed_at is None
    assert members_of(room) == {ann.pk, ben.pk}
    assert lobby.waiting_count() == 0


def test_the_longest_waiting_person_is_paired_first(people):
    ann, ben, cat = people(3)
    matching.lobby_join(user=ann)
    time.sleep(0.01)
    matching.lobby_join(user=ben)  # Paired with ann.
    matching.lobby_join(user=cat)
    assert lobby.is_waiting(user_id=cat.pk) and not lobby.is_waiting(user_id=ann.pk)


def test_people_in_a_block_are_never_paired_either_way(people):
    ann, ben, cat = people(3)
    account_services.block_create(blocker=ben, blocked=ann)
    matching.lobby_join(user=ann)
    assert matching.lobby_join(user=ben).room is None  # ann waits, but ben blocked her.
    assert lobby.waiting_count() == 2
    room = matching.lobby_join(user=cat).room
    assert members_of(room) == {ann.pk, cat.pk}


def test_a_block_made_while_both_wait_is_caught_when_the_room_would_open(people):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    # The queue knows ann's blocks as of her joining; the database knows better.
    account_services.block_create(blocker=ann, blocked=ben)
    assert matching.lobby_join(user=ben).room is None
    assert not Room.objects.filter(kind=Room.Kind.RANDOM).exists()
    assert lobby.waiting_count() == 2  # Both wait on, for someone else.


def test_someone_already_in_a_lobby_chat_is_not_paired_again_and_the_other_waits_on(people):
    ann, ben, cat = people(3)
    matching.lobby_join(user=ann)
    first = matching.lobby_join(user=ben).room
    # Ann's second tab joined while the first pairing was committing (its "close my chat" saw none).
    matching.lobby_join(user=cat)
    assert lobby.join(user_id=ann.pk, tags=[], blocked=set()) == cat.pk
    assert matching._pair(ann.pk, cat.pk) is None
    assert list(Room.objects.filter(kind=Room.Kind.RANDOM, closed_at__isnull=True)) == [first]
    assert lobby.is_waiting(user_id=cat.pk) and not lobby.is_waiting(user_id=ann.pk)


@pytest.mark.parametrize("change", [{"is_active": False}, {"email_verified_at": None}])
def test_someone_whose_account_closed_while_waiting_is_not_queued_again(people, change):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    type(ann).objects.filter(pk=ann.pk).update(**change)
    assert matching.lobby_join(user=ben).room is None
    assert lobby.is_waiting(user_id=ben.pk) and not lobby.is_waiting(user_id=ann.pk)


def test_people_just_paired_are_not_paired_again(people):
    ann, ben, cat = people(3)
    matching.lobby_join(user=ann)
    first = matching.lobby_join(user=ben).room
    # "Next" for both: each closes the chat and waits again, but not for each other.
    assert matching.lobby_join(user=ann).room is None
    assert matching.lobby_join(user=ben).room is None
    first.refresh_from_db()
    assert first.closed_at is not None
    room = matching.lobby_join(user=cat).room
    assert members_of(room) == {ann.pk, cat.pk}


def test_a_shared_tag_is_preferred_over_someone_who_waited_longer(people):
    ann, ben, cat = people(3)
    matching.lobby_join(user=ann, tags=["music"])
    matching.lobby_join(user=ben, tags=["chess"])
    room = matching.lobby_join(user=cat, tags=["Chess", "#go"]).room
    assert members_of(room) == {ben.pk, cat.pk}


def test_someone_with_tags_waits_for_a_shared_one_then_takes_anyone(people, settings):
    settings.LOBBY_TAG_WAIT_SECONDS = 0.3
    settings.LOBBY_TICK_SECONDS = 0.1  # One tick per interval across processes: the second one is due.
    ann, ben = people(2)
    matching.lobby_join(user=ann, tags=["chess"])
    assert matching.lobby_join(user=ben).room is None  # ann still hopes for a chess player.
    assert matching.lobby_tick() == []

    time.sleep(0.35)
    [room] = matching.lobby_tick()

    assert members_of(room) == {ann.pk, ben.pk}
    assert lobby.waiting_count() == 0


def test_the_tick_never_pairs_people_in_a_block(people, settings):
    settings.LOBBY_TAG_WAIT_SECONDS = 0
    ann, ben = people(2)
    account_services.block_create(blocker=ann, blocked=ben)
    matching.lobby_join(user=ann, tags=["chess"])
    matching.lobby_join(user=ben, tags=["go"])
    assert matching.lobby_tick() == []
    assert lobby.waiting_count() == 2


@pytest.mark.services
def test_someone_whose_sockets_all_expired_is_not_paired(people, make_user):
    (ann,) = people(1)
    gone = make_user("gone")  # Never online: as if their process had died since they joined.
    lobby.join(user_id=gone.pk, tags=[], blocked=set())
    assert matching.lobby_join(user=ann).room is None
    assert not lobby.is_waiting(user_id=gone.pk)


def test_leaving_takes_the_person_out_of_the_queue(people):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    matching.lobby_leave(user=ann)
    assert not lobby.is_waiting(user_id=ann.pk)
    assert matching.lobby_join(user=ben).room is None


def test_leaving_closes_the_open_chat_which_then_refuses_messages(people):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    room = matching.lobby_join(user=ben).room
    chat_services.message_send(author=ann, room_id=room.pk, body="hi", client_id=uuid.uuid4())

    matching.lobby_leave(user=ben)

    room.refresh_from_db()
    assert room.closed_at is not None
    with pytest.raises(PermissionDenied, match="ended"):
        chat_services.message_send(author=ann, room_id=room.pk, body="still there?", client_id=uuid.uuid4())
    assert members_of(room) == {ann.pk, ben.pk}  # Both can still read it, befriend or report.


def test_leaving_a_random_room_through_the_rooms_api_closes_it(people, api_as):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    room = matching.lobby_join(user=ben).room
    assert api_as(ann).delete(f"/api/rooms/{room.pk}/members/{ann.pk}/").status_code == 204
    room.refresh_from_db()
    assert room.closed_at is not None and members_of(room) == {ann.pk, ben.pk}
    # Both still read it, and see that it ended.
    assert api_as(ben).get(f"/api/rooms/{room.pk}/").json()["closed_at"] == room.closed_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_joining_and_next_are_rate_limited_per_person(people, settings):
    settings.LOBBY_RATE_BURST, settings.LOBBY_RATE_PER_SECOND = 2, 0.5
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    matching.lobby_join(user=ann, tags=["chess"])
    with pytest.raises(RateLimited) as caught:
        matching.lobby_join(user=ann)
    assert 0 < caught.value.retry_after <= 2
    assert matching.lobby_join(user=ben).room is None  # ben's bucket is his own (ann wants chess).


@pytest.mark.parametrize("tags", [["one", "two", "three", "four", "five", "six"], ["no spaces"], ["x" * 31], ["émoji"]])
def test_bad_tags_are_refused_with_a_field_error(people, tags):
    (ann,) = people(1)
    with pytest.raises(ValidationError) as caught:
        matching.lobby_join(user=ann, tags=tags)
    assert "tags" in caught.value.message_dict
    assert not lobby.is_waiting(user_id=ann.pk)


def test_unverified_people_cannot_join(make_user):
    with pytest.raises(PermissionDenied):
        matching.lobby_join(user=make_user("new", verified=False))


# After the chat: friends keep it, the rest is purged


def paired(people):
    ann, ben = people(2)
    matching.lobby_join(user=ann)
    room = matching.lobby_join(user=ben).room
    chat_services.message_send(author=ann, room_id=room.pk, body="hello stranger", client_id=uuid.uuid4())
    return ann, ben, room


def test_strangers_who_become_friends_keep_the_chat_as_their_direct_conversation(people):
    ann, ben, room = paired(people)
    matching.lobby_leave(user=ann)
    account_services.friend_request_send(sender=ann, recipient=ben)
    assert account_services.friend_request_send(sender=ben, recipient=ann).status == "friends"

    room.refresh_from_db()
    assert room.kind == Room.Kind.DIRECT and room.direct_key == Room.direct_key_for(ann.pk, ben.pk)
    assert room.closed_at is None
    chat_services.message_send(author=ben, room_id=room.pk, body="friends now", client_id=uuid.uuid4())
    assert services.random_rooms_purge(now=timezone.now() + timedelta(days=365)) == 0
    assert Message.objects.filter(room=room).count() == 2


def test_the_purge_deletes_expired_lobby_chats_with_their_messages_and_keeps_the_rest(people, settings):
    settings.LOBBY_ROOM_TTL = timedelta(hours=1)
    ann, ben, closed = paired(people)
    matching.lobby_leave(user=ann)
    cat, dan = people(2)
    matching.lobby_join(user=cat)
    still_open = matching.lobby_join(user=dan).room

    assert services.random_rooms_purge(now=timezone.now() + timedelta(minutes=59)) == 0
    assert services.random_rooms_purge(now=timezone.now() + timedelta(minutes=61)) == 2
    assert not Room.objects.filter(pk__in=[closed.pk, still_open.pk]).exists()
    assert not Message.objects.filter(room_id=closed.pk).exists()


def test_a_lobby_chat_with_an_open_report_waits_for_the_report(people, settings):
    settings.LOBBY_ROOM_TTL = timedelta(hours=1)
    ann, ben, room = paired(people)
    report = account_services.report_create(reporter=ben, reported=ann, reason="harassment", room_id=room.pk)
    later = timezone.now() + timedelta(hours=2)
    assert services.random_rooms_purge(now=later) == 0
    Report.objects.filter(pk=report.pk).update(status=Report.Status.DISMISSED)
    assert services.random_rooms_purge(now=later) == 1
    report.refresh_from_db()
    assert report.room_id is None  # The report stays; what it pointed at is gone.


def test_the_beat_task_purges(people, settings):
    from rooms.tasks import random_rooms_purge

    settings.LOBBY_ROOM_TTL = timedelta(seconds=0)
    ann, ben, room = paired(people)
    matching.lobby_leave(user=ann)
    assert random_rooms_purge.delay().get() == 1
    assert not Room.objects.filter(pk=room.pk).exists()


def test_the_purge_is_scheduled_on_celery_beat():
    from config.celery import app

    assert any(entry["task"] == "rooms.tasks.random_rooms_purge" for entry in app.conf.beat_schedule.values())


# Counts


def test_counts_say_who_is_online_waiting_and_how_big_the_public_rooms_are(people):
    from tests.rooms.factories import group_room

    ann, ben, cat = people(3)
    big = group_room(ann, ben, cat, public=True, title="Big")
    small = group_room(ann, public=True, title="Small")
    group_room(ann, ben, title="Private")
    matching.lobby_join(user=ann)

    counts = matching.lobby_counts()

    assert counts["online"] >= 3 and counts["waiting"] == 1
    assert counts["rooms"] == [{"id": big.pk, "members": 3}, {"id": small.pk, "members": 1}]


def test_an_ended_chat_is_not_followed_and_shows_nobody_else_online(people, client):
    from rooms import selectors

    ann, ben = people(2)
    matching.lobby_join(user=ann)
    room = matching.lobby_join(user=ben).room
    client.force_login(ann)
    assert client.get(f"/rooms/{room.pk}/").context["online"] == {ann.pk, ben.pk}
    matching.lobby_leave(user=ben)
    assert client.get(f"/rooms/{room.pk}/").context["online"] == {ann.pk}
    # The settings page lists the same people the same way.
    assert client.get(f"/rooms/{room.pk}/settings/").context["online"] == {ann.pk}
    assert selectors.room_presence_ids(user=ann, room_id=room.pk) == [ann.pk]
    assert room.pk not in selectors.room_ids_of_user(user_id=ann.pk)
