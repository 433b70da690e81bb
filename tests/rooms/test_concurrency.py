import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rooms import lobby, matching, services
from rooms.models import Membership, Room
from tests.chat.concurrency import own_connection, race_against_open_transaction

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_opening_a_direct_room_while_the_other_person_is_creating_it_finds_theirs(make_user):
    ann, ben = make_user("ann"), make_user("ben")

    def ann_opens():
        return services.direct_room_get_or_create(user=ann, other=ben)

    def ben_opens():
        # Ben sees no room, tries to insert his and waits on the unique index for Ann's commit.
        return services.direct_room_get_or_create(user=ben, other=ann)

    (ann_room, ann_created), (ben_room, ben_created) = race_against_open_transaction(ann_opens, ben_opens)

    assert ann_room.pk == ben_room.pk
    assert (ann_created, ben_created) == (True, False)
    assert Room.objects.count() == 1
    assert Membership.objects.filter(room=ann_room).count() == 2


def test_two_threads_opening_the_same_direct_rooms_at_the_same_moment_get_one_room_each_pair(make_user):
    pairs = [(make_user(), make_user()) for _ in range(8)]
    start = threading.Barrier(2)

    def opens(user, other):
        start.wait(10)
        return services.direct_room_get_or_create(user=user, other=other)

    with ThreadPoolExecutor(2) as pool:
        for ann, ben in pairs:
            first = pool.submit(own_connection(opens), ann, ben)
            second = pool.submit(own_connection(opens), ben, ann)
            (room_a, created_a), (room_b, created_b) = first.result(10), second.result(10)
            assert room_a.pk == room_b.pk
            assert sorted([created_a, created_b]) == [False, True]

    assert Room.objects.count() == len(pairs)
    assert Membership.objects.count() == 2 * len(pairs)


def test_a_second_tab_pairing_the_person_while_their_first_pairing_commits_is_refused(make_user, online):
    ann, ben, cat = make_user(), make_user(), make_user()
    online(ann, ben, cat)

    def first_tab_pairs():
        return services.random_room_open(first_id=ann.pk, second_id=ben.pk)

    def second_tab_pairs():
        # Ann's other tab, on another process, joined before that room was committed and got cat.
        return matching._pair(cat.pk, ann.pk)

    opened, refused = race_against_open_transaction(first_tab_pairs, second_tab_pairs)

    assert opened is not None and refused is None
    assert Room.objects.filter(kind=Room.Kind.RANDOM, memberships__user=ann).count() == 1
    assert lobby.is_waiting(user_id=cat.pk) and not lobby.is_waiting(user_id=ann.pk)
