import itertools
import re
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from chat import services
from chat.models import Message, Reaction
from rooms import services as room_services
from tests.chat.concurrency import own_connection
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.MESSAGE_RATE_BURST = 100_000
    settings.MESSAGE_RATE_PER_SECOND = 100_000.0


_bodies = itertools.count(1)


def send(author, room, body=None, **extra) -> Message:
    body = body or f"message {next(_bodies)}"
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4(), **extra)


def fill(room, authors, count: int) -> list[Message]:
    return [send(authors[number % len(authors)], room) for number in range(count)]


def history(client, room, **params):
    return client.get(f"/api/rooms/{room.pk}/messages/", params)


def follow(client, link: str):
    response = client.get(link)
    assert response.status_code == 200, response.content
    return response.json()


def seqs(page: dict) -> list[int]:
    return [message["seq"] for message in page["results"]]


def stored_seqs(room) -> list[int]:
    return list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))


def test_the_first_page_is_the_newest_messages_oldest_first_with_a_link_to_older_ones(ann, ben, room, api_as):
    fill(room, [ann, ben], 60)

    page = history(api_as(ann), room).json()

    assert seqs(page) == list(range(11, 61))
    assert page["previous"] is None
    assert seqs(follow(api_as(ann), page["next"])) == list(range(1, 11))


def test_links_carry_an_opaque_cursor_and_keep_the_limit(ann, room, api_as):
    fill(room, [ann], 10)

    page = history(api_as(ann), room, before=8, limit=3).json()

    assert seqs(page) == [5, 6, 7]
    for link in (page["next"], page["previous"]):
        query = parse_qs(urlsplit(link).query)
        assert set(query) == {"cursor", "limit"} and query["limit"] == ["3"]
        assert not query["cursor"][0].isdigit()
    assert seqs(follow(api_as(ann), page["next"])) == [2, 3, 4]
    assert seqs(follow(api_as(ann), page["previous"])) == [8, 9, 10]


def test_walking_back_while_people_send_and_delete_never_overlaps_or_skips(ann, ben, room, api_as):
    fill(room, [ann, ben], 130)
    client = api_as(ann)
    first = history(client, room, limit=20).json()
    pages, page = [first], first
    while page["next"]:
        # Between two fetches: new messages arrive and old ones (fetched or not yet) are deleted.
        send(ben, room)
        send(ann, room)
        services.message_delete(user=ann, message_id=Message.objects.get(room=room, seq=len(pages) * 7).pk)
        page = follow(client, page["next"])
        pages.append(page)
    # The first page was the newest (no `previous`); what was sent during the walk comes after it.
    assert first["previous"] is None
    page = history(client, room, after=seqs(first)[-1], limit=20).json()
    pages.append(page)
    while page["previous"]:
        page = follow(client, page["previous"])
        pages.append(page)

    fetched = [seq for page in pages for seq in seqs(page)]
    assert sorted(fetched) == stored_seqs(room)
    assert len(fetched) == len(set(fetched)) == 130 + 2 * 6


def test_walking_forwards_from_the_start_while_people_send_and_delete(ann, ben, room, api_as):
    fill(room, [ann, ben], 95)
    client = api_as(ben)
    page = history(client, room, after=0, limit=20).json()
    assert page["next"] is None
    pages, rounds = [page], 0
    while page["previous"]:
        if rounds < 4:
            send(ann, room)
            # The next page to fetch holds seq 25, 45, ...; seq `rounds + 1` was fetched already.
            for seq in (20 * (rounds + 1) + 5, rounds + 1):
                services.message_delete(user=ann, message_id=Message.objects.get(room=room, seq=seq).pk)
        rounds += 1
        page = follow(client, page["previous"])
        pages.append(page)

    fetched = [seq for page in pages for seq in seqs(page)]
    assert fetched == stored_seqs(room) == list(range(1, 100))
    deleted = [message for page in pages for message in page["results"] if message["deleted"]]
    assert {message["seq"] for message in deleted} == {25, 45, 65, 85}


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_pages_stay_exact_while_another_connection_keeps_sending(ann, ben, room, api_as):
    fill(room, [ann, ben], 150)
    stop, sent = threading.Event(), []

    @own_connection
    def keep_sending():
        while not stop.is_set():
            sent.append(send(ben, room).seq)

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        client = api_as(ann)
        pages = [history(client, room, limit=15).json()]
        while pages[-1]["next"]:
            pages.append(follow(client, pages[-1]["next"]))
            # Deleting from this connection too, on pages fetched and not yet fetched.
            services.message_delete(user=ann, message_id=Message.objects.get(room=room, seq=len(pages) * 11).pk)
    finally:
        stop.set()
        sender.join()
    assert sent, "the other connection sent nothing during the walk"
    page = history(client, room, after=seqs(pages[0])[-1], limit=15).json()
    pages.append(page)
    while page["previous"]:
        page = follow(client, page["previous"])
        pages.append(page)

    fetched = [seq for page in pages for seq in seqs(page)]
    assert len(fetched) == len(set(fetched))
    assert sorted(fetched) == stored_seqs(room) == list(range(1, 151 + len(sent)))


def test_around_a_message_gives_half_before_it_and_half_after(ann, ben, room, api_as):
    messages = fill(room, [ann, ben], 100)
    target = messages[49]  # seq 50

    page = history(api_as(ben), room, around=target.pk, limit=10).json()

    assert seqs(page) == list(range(45, 55))
    assert page["results"][5]["id"] == target.pk
    assert seqs(follow(api_as(ben), page["next"]))[-1] == 44
    assert seqs(follow(api_as(ben), page["previous"]))[0] == 55


def test_around_near_either_end_stops_at_the_end(ann, room, api_as):
    messages = fill(room, [ann], 30)
    client = api_as(ann)

    near_start = history(client, room, around=messages[1].pk, limit=10).json()
    near_end = history(client, room, around=messages[-1].pk, limit=10).json()

    assert (seqs(near_start), near_start["next"]) == ([1, 2, 3, 4, 5, 6], None)
    assert (seqs(near_end), near_end["previous"]) == (list(range(25, 31)), None)


def test_around_counts_messages_not_seqs_across_a_hard_deleted_gap(ann, room, api_as):
    messages = fill(room, [ann], 30)
    Message.objects.filter(room=room, seq__in=[12, 13, 14]).delete()  # an admin's delete leaves a gap

    page = history(api_as(ann), room, around=messages[14].pk, limit=6).json()

    assert seqs(page) == [9, 10, 11, 15, 16, 17]


def test_deleted_messages_come_as_tombstones_in_place(ann, ben, room, api_as):
    kept, gone = send(ann, room, "kept"), send(ben, room, "regret")
    services.message_delete(user=ben, message_id=gone.pk)

    results = history(api_as(ann), room).json()["results"]

    assert [(m["id"], m["body"], m["deleted"]) for m in results] == [(kept.pk, "kept", False), (gone.pk, "", True)]


def test_each_message_says_whether_the_viewer_reacted(ann, ben, room, api_as):
    message = send(ann, room)
    services.reaction_add(user=ann, message_id=message.pk, emoji="👍")
    services.reaction_add(user=ben, message_id=message.pk, emoji="👍")
    services.reaction_add(user=ben, message_id=message.pk, emoji="🎉")

    for viewer, mine in ((ann, {"👍": True, "🎉": False}), (ben, {"👍": True, "🎉": True})):
        reactions = history(api_as(viewer), room).json()["results"][0]["reactions"]
        assert {r["emoji"]: r["mine"] for r in reactions} == mine
        assert {r["emoji"]: r["count"] for r in reactions} == {"👍": 2, "🎉": 1}


def test_replies_carry_a_preview_of_what_they_answer(ann, ben, room, api_as):
    question = send(ann, room, "q" * 150)
    send(ben, room, "answer", reply_to_id=question.pk)

    reply = history(api_as(ann), room).json()["results"][-1]["reply_to"]

    assert (reply["id"], reply["author"], reply["body"]) == (question.pk, "ann", "q" * 100)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "YjEyYWI"}, "cursor"),  # base64 of "b12ab"
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "Yjk5OTk5OTk5OTk5OTk5OTk5OTk5"}, "cursor"),  # "b" and a seq past any bigint
        ({"before": "abc"}, "before"),
        ({"before": 0}, "before"),
        ({"after": -1}, "after"),
        ({"after": 10**30}, "after"),
        ({"around": "x"}, "around"),
        ({"around": 999_999}, "around"),
        ({"around": 10**30}, "around"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before": 5, "after": 1}, "before"),
    ],
)
def test_bad_positions_and_limits_are_a_400_on_the_field(ann, room, api_as, params, field):
    fill(room, [ann], 3)

    response = history(api_as(ann), room, **params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"]


def test_around_a_message_of_another_room_is_a_400(ann, ben, room, api_as):
    elsewhere = send(ann, group_room(ann, title="Elsewhere"))
    response = history(api_as(ben), room, around=elsewhere.pk)
    assert response.status_code == 400 and "around" in response.json()["fields"]


def test_the_limit_may_be_anything_from_1_to_200(ann, room, api_as):
    fill(room, [ann], 210)
    assert len(history(api_as(ann), room, limit=200).json()["results"]) == 200
    assert seqs(history(api_as(ann), room, limit=1).json()) == [210]


def test_only_members_read_the_history(ann, ben, room, make_user, api, api_as):
    fill(room, [ann], 3)
    public = group_room(ann, public=True, title="Open")
    send(ann, public)

    assert history(api_as(make_user()), room).status_code == 404
    assert history(api_as(make_user()), public).status_code == 404  # join first
    assert history(api, room).status_code in (401, 403)
    assert history(api_as(make_user()), room, before="abc").status_code == 404  # hidden beats invalid


def test_a_former_member_sees_nothing_any_more(ann, ben, room, api_as):
    fill(room, [ann], 3)
    assert history(api_as(ben), room).status_code == 200

    room_services.room_leave(user=ben, room_id=room.pk)

    assert history(api_as(ben), room).status_code == 404
    assert history(api_as(ben), room, after=0).status_code == 404


@pytest.mark.parametrize("position", ["newest", "cursor", "after", "around"])
def test_a_page_costs_a_fixed_number_of_queries_whatever_it_holds(
    ann, ben, room, api_as, django_assert_num_queries, history_page_queries, position
):
    messages = fill(room, [ann, ben], 5)
    client = api_as(ann)

    def fetch():
        params = {
            "newest": {},
            "cursor": {"cursor": parse_qs(urlsplit(history(client, room, limit=2).json()["next"]).query)["cursor"][0]},
            "after": {"after": 1},
            "around": {"around": messages[2].pk},
        }[position]
        with django_assert_num_queries(history_page_queries):
            response = history(client, room, limit=60, **params)
        return response.json()["results"]

    fetch()
    for number in range(40):
        reply = send(ben, room, reply_to_id=messages[number % 5].pk)
        Reaction.objects.create(message=reply, user=ann, emoji="👍")
        Reaction.objects.create(message=reply, user=ben, emoji="🎉")
    assert len(fetch()) >= 30


# The room page opened at a message (search results link to /rooms/<id>/?around=<message id>)


def room_page(user, room, **params):
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    return browser.get(f"/rooms/{room.pk}/", params)


def listed_ids(page) -> list[int]:
    return [int(found) for found in re.findall(rb'<li class="message[^"]*"[^>]* id="m-(\d+)"', page.content)]


def test_the_room_page_opens_around_a_message_with_it_highlighted(ann, ben, room):
    messages = fill(room, [ann, ben], 120)
    target = messages[39]

    page = room_page(ben, room, around=target.pk)

    assert page.status_code == 200
    assert listed_ids(page) == [message.pk for message in messages[14:64]]
    assert re.search(rf'class="message[^"]* highlight" aria-current="true" id="m-{target.pk}"'.encode(), page.content)
    assert page.content.count(b"highlight") == 1
    # The socket resumes from the newest seq, and the page says newer messages are not shown.
    assert b'data-last-seq="120"' in page.content and f'data-around="{target.pk}"'.encode() in page.content
    assert b'id="newer-hidden"' in page.content


def test_the_room_page_around_a_recent_message_reaches_the_newest_one(ann, room):
    messages = fill(room, [ann], 30)

    page = room_page(ann, room, around=messages[-2].pk)

    assert listed_ids(page) == [message.pk for message in messages[-27:]]  # 25 before, it, the newest
    assert b'id="newer-hidden"' not in page.content


@pytest.mark.parametrize("around", ["abc", "999999", "-3", str(10**30), "other-room"])
def test_the_room_page_with_a_bad_around_shows_the_newest_messages(ann, room, around):
    messages = fill(room, [ann], 60)
    if around == "other-room":
        around = str(send(ann, group_room(ann, title="Elsewhere")).pk)

    page = room_page(ann, room, around=around)

    assert page.status_code == 200
    assert listed_ids(page) == [message.pk for message in messages[10:]]
    assert b"highlight" not in page.content and b'data-last-seq="60"' in page.content


def test_the_room_page_around_a_message_is_hidden_from_outsiders(ann, room, make_user):
    message = send(ann, room)
    assert room_page(make_user(), room, around=message.pk).status_code == 404


# The page is one prepared statement on PostgreSQL, whose parameters are bigints: the largest values
# the query accepts must still answer as the ORM did (an empty page, a 404), never overflow into a 500.


def test_the_largest_seqs_and_room_ids_answer_an_empty_page_or_404(ann, ben, room, api_as):
    fill(room, [ann, ben], 3)
    client = api_as(ann)
    largest = 2**63 - 1

    assert seqs(history(client, room, after=largest).json()) == []
    assert seqs(history(client, room, before=largest).json()) == [1, 2, 3]
    assert seqs(history(client, room, before=1).json()) == []
    assert history(client, room, around=largest).status_code == 400
    for room_id in (largest, 2**63, 10**30):
        assert client.get(f"/api/rooms/{room_id}/messages/").status_code == 404


def test_a_page_around_a_message_near_either_end_keeps_what_there_is(ann, ben, room, api_as):
    messages = fill(room, [ann, ben], 9)
    client = api_as(ann)

    assert seqs(history(client, room, around=messages[0].pk, limit=5).json()) == [1, 2, 3]
    assert seqs(history(client, room, around=messages[-1].pk, limit=5).json()) == [7, 8, 9]
    assert seqs(history(client, room, around=messages[4].pk, limit=1).json()) == [5]
    assert seqs(history(client, room, around=messages[4].pk, limit=2).json()) == [4, 5]
