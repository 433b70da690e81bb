"""The friends list on PostgreSQL and Redis: the stored sort key, each person's friend set, the prepared page."""

import contextlib
import threading
from functools import partial

import pytest
from asgiref.sync import async_to_sync
from django.db import NotSupportedError, connection, transaction

from accounts import friend_sets, selectors, services
from accounts.authentication import user_for_token
from accounts.models import Friendship, User
from chat import presence, redis_sync
from tests.accounts.social import befriend
from tests.conftest import connect_aside

# Committed transactions: the friend sets are dropped once a friendship commits.
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def key_of(user, friend) -> str:
    return Friendship.objects.get(user=user, friend=friend).friend_key


def handles(page) -> list[str]:
    return [friend.handle for friend in page.friends]


def set_key(user) -> str:
    return friend_sets._key(user.pk)


@pytest.fixture
def online():
    """online(user, ...) for these tests: their own connections, closed at the end."""
    opened = []

    def mark(*users):
        for person in users:
            async_to_sync(presence.connection_alive)(user_id=person.pk, connection=f"cache-test-{person.pk}")
            opened.append(person)

    yield mark
    for person in opened:
        async_to_sync(presence.connection_gone)(user_id=person.pk, connection=f"cache-test-{person.pk}")


def test_the_sort_key_follows_the_friend_through_new_rows_and_renames(make_user):
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    befriend(ann, ben)
    Friendship.objects.bulk_create([Friendship(user=ann, friend=cat), Friendship(user=cat, friend=ann)])

    assert key_of(ann, ben) == "BEN" and key_of(ann, cat) == "CAT" and key_of(ben, ann) == "ANN"
    ben.handle = "zed_9"
    ben.save()

    assert key_of(ann, ben) == "ZED_9"
    assert handles(selectors.friends_page(user=ann)) == ["cat", "zed_9"]


def test_a_key_written_by_hand_is_put_right(make_user):
    ann, ben = make_user("ann"), make_user("ben")
    befriend(ann, ben)

    Friendship.objects.filter(user=ann, friend=ben).update(friend_key="AAA")

    assert key_of(ann, ben) == "BEN"


def test_a_row_written_while_the_friend_is_renamed_gets_the_new_name(make_user):
    # A write that does not lock the friend's user row first (the admin, a script) inserts a
    # friendship while a rename of that friend is not yet committed.
    ann, ben = make_user("ann"), make_user("ben")
    failures = []

    def insert(inserting):
        try:
            inserting.execute(
                "INSERT INTO accounts_friendship (user_id, friend_id, created_at, friend_key)"
                " VALUES (%s, %s, now(), '')",
                [ann.pk, ben.pk],
            )
        except Exception as error:  # seen by the test below
            failures.append(error)

    with connect_aside(autocommit=False) as renaming, connect_aside() as inserting:
        renaming.execute("UPDATE accounts_user SET handle = 'zed' WHERE id = %s", [ben.pk])
        writer = threading.Thread(target=insert, args=[inserting])
        writer.start()
        writer.join(0.5)
        renaming.commit()
        writer.join(10)

    assert not writer.is_alive() and failures == []
    assert key_of(ann, ben) == "ZED"


def test_a_second_look_costs_the_token_s_user_and_one_statement(make_user, api_as, online, django_assert_num_queries):
    ann = make_user("ann")
    friends = [make_user(f"pal{number}") for number in range(5)]
    for friend in friends:
        befriend(ann, friend)
    online(friends[3])
    client = api_as(ann)
    client.get("/api/friends/")  # builds ann's friend set

    with django_assert_num_queries(2):
        body = client.get("/api/friends/").json()

    assert [row["user"]["handle"] for row in body["results"]] == ["pal3", "pal0", "pal1", "pal2", "pal4"]
    assert body["count"] == 5 and body["online_count"] == 1 and body["results"][0]["online"]


def test_a_new_friend_shows_online_as_soon_as_the_friendship_commits(make_user, online):
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    befriend(ann, ben)
    online(cat)
    assert handles(selectors.friends_page(user=ann)) == ["ben"]  # ann's set is kept now

    befriend(ann, cat)

    page = selectors.friends_page(user=ann)
    assert handles(page) == ["cat", "ben"] and page.online == 1


def test_a_friendship_committed_while_the_set_is_built_is_not_left_out_of_it(make_user, online, monkeypatch):
    # ann has no set: her page reads her friends' ids from PostgreSQL, and cat's friendship with her
    # commits (dropping her set) before the set made from those ids reaches Redis.
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    befriend(ann, ben)
    online(ben, cat)
    read_ids = friend_sets._friend_ids_joined

    def read_then_befriend(user_id):
        ids = read_ids(user_id)
        monkeypatch.setattr(friend_sets, "_friend_ids_joined", read_ids)
        befriend(ann, cat)
        return ids

    monkeypatch.setattr(friend_sets, "_friend_ids_joined", read_then_befriend)
    during = selectors.friends_page(user=ann)  # answered from the ids it read: ben online

    assert handles(during) == ["ben", "cat"] and during.online == 1
    assert redis_sync.client().exists(set_key(ann)) == 0
    after = selectors.friends_page(user=ann)
    assert handles(after) == ["ben", "cat"] and after.online == 2


def test_ending_a_friendship_or_blocking_drops_both_sets(make_user):
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    befriend(ann, ben)
    befriend(ann, cat)
    for person in (ann, ben, cat):
        selectors.friends_page(user=person)
    redis = redis_sync.client()
    assert redis.exists(set_key(ann), set_key(ben), set_key(cat)) == 3

    services.friendship_end(user=ann, friend=ben)
    assert redis.exists(set_key(ann)) == redis.exists(set_key(ben)) == 0
    assert redis.exists(set_key(cat)) == 1

    selectors.friends_page(user=ann)
    services.block_create(blocker=cat, blocked=ann)
    assert redis.exists(set_key(ann)) == redis.exists(set_key(cat)) == 0


def test_deleting_someone_drops_every_friend_s_set_in_one_call(make_user, monkeypatch):
    # The deletion cascades to the friendships row by row (a post_delete each, both directions).
    ann = make_user("ann")
    friends = [make_user(f"pal{number}") for number in range(5)]
    for friend in friends:
        befriend(ann, friend)
    everyone = [ann, *friends]
    for person in everyone:
        selectors.friends_page(user=person)
    ids, redis = {person.pk for person in everyone}, redis_sync.client()
    generations = {pk: int(redis.get(friend_sets._generation_key(pk)) or 0) for pk in ids}
    drops = []
    drop = friend_sets._delete
    monkeypatch.setattr(friend_sets, "_delete", lambda user_ids: drops.append(user_ids) or drop(user_ids))

    ann.delete()

    assert drops == [ids]
    assert redis.exists(*(friend_sets._key(pk) for pk in ids)) == 0
    counted_up = {pk: int(redis.get(friend_sets._generation_key(pk))) - generations[pk] for pk in ids}
    assert counted_up == dict.fromkeys(ids, 1)


def test_an_id_left_behind_in_a_set_shows_nobody(make_user, online):
    # A read that lost a race with an unfriending can put back a set that still holds the old friend.
    ann, ben, stranger = make_user("ann"), make_user("ben"), make_user("stranger")
    befriend(ann, ben)
    selectors.friends_page(user=ann)
    redis_sync.client().sadd(set_key(ann), stranger.pk)
    online(stranger)

    page = selectors.friends_page(user=ann)

    assert handles(page) == ["ben"] and page.total == 1 and page.online == 0


def test_someone_with_no_friends_is_remembered_too(make_user):
    loner = make_user("loner")

    page = selectors.friends_page(user=loner)

    assert page.friends == [] and page.total == 0 and page.next_cursor is None
    assert redis_sync.client().exists(set_key(loner)) == 1


def test_the_page_statement_is_prepared_on_its_connection(make_user):
    ann, ben = make_user("ann"), make_user("ben")
    befriend(ann, ben)

    def prepared_pages() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%WITH online AS%"])
            return cursor.fetchone()[0]

    # Counted after a first call: a pooled connection can hold it already, prepared by an earlier
    # test for other parameter types (the online ids' array is smallint[] to bigint[] by their size).
    selectors.friends_page(user=ann)
    prepared = prepared_pages()
    selectors.friends_page(user=ann)

    assert prepared_pages() == prepared >= 1


@pytest.fixture
def retype_display_name(retype_column):
    """retype_display_name("text"): accounts_user.display_name's type changed as by a migration elsewhere."""
    return partial(retype_column, "accounts_user", "display_name")


def test_a_prepared_statement_survives_a_column_changing_type(make_user, api_as, retype_display_name):
    # A statement prepared before a migration changed the type of a column it returns is refused
    # by PostgreSQL ("cached plan must not change result type") until it is prepared again.
    ann, ben = make_user("ann"), make_user("ben")
    befriend(ann, ben)
    User.objects.filter(pk=ben.pk).update(display_name="Ben B")
    client = api_as(ann)
    for _ in range(4):  # prepared on the connections the pool hands out in turn, and on this one
        assert client.get("/api/friends/").status_code == 200
        user_for_token(id=ann.pk)

    retype_display_name("text")

    assert user_for_token(id=ben.pk).display_name == "Ben B"
    assert [friend.display_name for friend in selectors.friends_page(user=ann).friends] == ["Ben B"]
    user_for_token(id=ben.pk)
    with connection.cursor() as cursor:  # prepared afresh on this connection
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s OR statement LIKE %s",
            ["%FROM accounts_user WHERE id%", "%WITH online AS%"],
        )
        assert cursor.fetchone()[0] == 2
    for _ in range(4):
        response = client.get("/api/friends/")
        assert response.status_code == 200 and response.json()["results"][0]["user"]["display_name"] == "Ben B"


def test_a_statement_refused_inside_a_transaction_is_dropped_at_its_next_use(make_user, retype_display_name):
    # The failure aborts the transaction, so it is raised. psycopg drops its statements when it sees
    # a rollback, but it recognises a ROLLBACK TO SAVEPOINT only by a statement text new to it:
    # Django's savepoint names repeat here (clean_savepoints, as a new thread's connection does).
    ben = make_user("ben")
    connection.close()
    connection.close_pool()  # a connection with nothing prepared yet
    with transaction.atomic():
        transaction.clean_savepoints()
        with contextlib.suppress(ZeroDivisionError), transaction.atomic():
            1 / 0  # noqa: B018  (a savepoint rolled back while nothing is prepared)
    retype_display_name("text")
    user_for_token(id=ben.pk)  # prepared while the column is text
    retype_display_name("varchar(60)")

    with transaction.atomic():
        transaction.clean_savepoints()
        with pytest.raises(NotSupportedError), transaction.atomic():
            user_for_token(id=ben.pk)
        assert user_for_token(id=ben.pk).handle == "ben"
    assert user_for_token(id=ben.pk).handle == "ben"
