"""Message search: GET /api/search/ and the /search/ page.

Unmarked tests hold on either database (full-text search on PostgreSQL, the contains-match on
SQLite); `services` tests are about PostgreSQL full-text search itself; `sqlite_only` ones pin the
embedded fallback.
"""

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from chat import search, services
from chat.models import Message
from rooms import services as room_services
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="the embedded fallback"
)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.MESSAGE_RATE_BURST = 100_000
    settings.MESSAGE_RATE_PER_SECOND = 100_000.0


def say(author, room, body) -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def find(client, q, **params):
    return client.get("/api/search/", {"q": q, **params})


def hit_ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [hit["id"] for hit in response.json()["results"]]


def all_pages(client, q, **params) -> list[list[int]]:
    response = find(client, q, **params)
    pages = [hit_ids(response)]
    while response.json()["next"]:
        response = client.get(response.json()["next"])
        pages.append(hit_ids(response))
    return pages


def browser_for(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


# Who sees what


def test_only_messages_of_my_rooms_are_found(ann, ben, bob, room, api_as):
    mine = say(ann, room, "the heron flew over the lake")
    elsewhere = group_room(bob, title="Birds")
    theirs = say(bob, elsewhere, "a heron in my garden")

    assert hit_ids(find(api_as(ben), "heron")) == [mine.pk]
    assert hit_ids(find(api_as(bob), "heron")) == [theirs.pk]


def test_a_room_i_left_is_not_searched_any_more(ann, ben, room, api_as):
    say(ann, room, "the heron flew over the lake")
    room_services.room_leave(user=ben, room_id=room.pk)

    assert hit_ids(find(api_as(ben), "heron")) == []


def test_deleted_messages_never_appear(ann, ben, room, api_as):
    kept = say(ann, room, "heron at dawn")
    gone = say(ben, room, "heron at dusk")
    services.message_delete(user=ben, message_id=gone.pk)
    # Even a tombstone that somehow kept its text stays out.
    Message.objects.filter(pk=gone.pk).update(body="heron at dusk")

    assert hit_ids(find(api_as(ann), "heron")) == [kept.pk]


def test_a_hit_carries_its_room_seq_author_time_and_a_link_to_the_message(ann, room, api_as):
    message = say(ann, room, "the heron flew over the lake")

    hit = find(api_as(ann), "heron").json()["results"][0]

    assert hit["id"] == message.pk and hit["room"] == room.pk and hit["seq"] == message.seq
    assert hit["author"]["handle"] == "ann" and hit["author"]["display_name"] == "Ann"
    assert hit["created_at"].startswith(message.created_at.strftime("%Y-%m-%dT%H:%M"))
    assert hit["url"] == f"/rooms/{room.pk}/?around={message.pk}"
    assert "<mark>" in hit["snippet"] and "heron" in hit["snippet"].lower()


# The room filter


def test_the_room_filter_keeps_one_of_my_rooms(ann, ben, room, api_as):
    other = group_room(ann, ben, title="Birds")
    in_room = say(ann, room, "heron one")
    say(ann, other, "heron two")

    assert hit_ids(find(api_as(ben), "heron", room=room.pk)) == [in_room.pk]


def test_filtering_on_a_room_that_is_not_mine_is_a_404_like_any_hidden_room(ann, bob, room, api_as):
    say(ann, room, "heron")

    for room_id in (room.pk, 999_999):
        response = find(api_as(bob), "heron", room=room_id)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# Odd input


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE chat_message; --",
        '"unbalanced quote',
        "heron & | ! ( ) :* <-> \\",
        "or and not -",
        "%_%",
        "!!!",
        "' OR 1=1 --",
        "héron 鳥 🐦",
    ],
)
def test_quotes_operators_and_sql_looking_queries_are_just_text(ann, room, api_as, query):
    say(ann, room, "heron")

    response = find(api_as(ann), query)

    assert response.status_code == 200, response.content
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * (search.QUERY_MAX_CHARS + 1)}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "heron", "cursor": "nonsense"}, "cursor"),
        ({"q": "heron", "cursor": search.SearchCursor(ceiling=1, rank=0.5, id=1).encode()[:-2]}, "cursor"),
        ({"q": "heron", "limit": 0}, "limit"),
        ({"q": "heron", "limit": search.MAX_LIMIT + 1}, "limit"),
        ({"q": "heron", "room": "abc"}, "room"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(ann, api_as, params, field):
    response = api_as(ann).get("/api/search/", params)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


def test_strangers_and_unverified_people_cannot_search(api, make_user, api_as):
    assert find(api, "heron").status_code == 401
    assert find(api_as(make_user("newbie", verified=False)), "heron").status_code == 403


# Snippets


def test_the_snippet_is_escaped_with_only_the_marks_as_html(ann, room, api_as):
    say(ann, room, 'look <script>alert("heron")</script> & <b>heron</b> \x02 \x03 here')

    snippet = find(api_as(ann), "heron").json()["results"][0]["snippet"]

    assert "<script>" not in snippet and "<b>" not in snippet
    assert "&lt;script&gt;" in snippet and "&amp;" in snippet
    assert re.sub(r"</?mark>", "", snippet) == re.sub(r"</?mark>", "", snippet).replace("<", "").replace(">", "")
    assert "<mark>heron</mark>" in snippet
    # The text's own control characters cannot pose as marks.
    assert "\x02" not in snippet and "\x03" not in snippet


def test_snippet_html_escapes_first_and_only_then_marks():
    text = f"<i>{search.MARK_START}heron{search.MARK_STOP}</i>"

    assert search.snippet_html(text) == "&lt;i&gt;<mark>heron</mark>&lt;/i&gt;"


# Pages


def test_pages_never_overlap_and_reach_every_hit(ann, ben, room, api_as):
    # Varied texts give varied ranks, and repeated ones tie: both must page cleanly.
    expected = {say(ann, room, "heron " * (1 + number % 4) + f"note {number}").pk for number in range(23)}
    say(ben, room, "nothing to see")

    pages = all_pages(api_as(ben), "heron", limit=5)

    found = [message_id for page in pages for message_id in page]
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    assert len(found) == len(set(found)) and set(found) == expected


def test_the_next_link_carries_an_opaque_cursor_and_keeps_the_query(ann, room, api_as):
    for number in range(3):
        say(ann, room, f"heron {number}")

    page = find(api_as(ann), "heron", limit=2, room=room.pk).json()

    query = parse_qs(urlsplit(page["next"]).query)
    assert query["q"] == ["heron"] and query["limit"] == ["2"] and query["room"] == [str(room.pk)]
    assert "heron" not in query["cursor"][0]


def test_messages_sent_after_the_first_page_do_not_shift_the_later_ones(ann, room, api_as):
    first = [say(ann, room, f"heron {number}").pk for number in range(6)]
    client = api_as(ann)
    page = find(client, "heron", limit=3).json()

    late = say(ann, room, "heron late")
    rest = client.get(page["next"]).json()

    seen = [hit["id"] for hit in page["results"]] + [hit["id"] for hit in rest["results"]]
    assert sorted(seen) == sorted(first) and late.pk not in seen and rest["next"] is None


def test_only_the_newest_candidates_are_ranked(ann, room, api_as, monkeypatch):
    monkeypatch.setattr(search, "CANDIDATES", 4)
    sent = [say(ann, room, "heron " * (1 + number % 3)).pk for number in range(7)]

    pages = all_pages(api_as(ann), "heron", limit=3)

    assert sorted(message_id for page in pages for message_id in page) == sorted(sent[-4:])


def test_the_openapi_schema_documents_search(ann, api_as):
    schema = api_as(ann).get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/search/"]["get"]
    assert {"200", "400", "404"} <= set(operation["responses"])
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"q", "room", "cursor", "limit"}


# The search page


def test_the_search_page_lists_hits_linking_to_the_message_escaped(ann, ben, room):
    message = say(ben, room, "<img src=x onerror=alert(1)> heron sighting")

    page = browser_for(ann).get("/search/", {"q": "heron"})

    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/rooms/{room.pk}/?around={message.pk}"' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<mark>heron</mark>" in html
    assert "# Book club" in html and "Ben" in html


def test_the_search_page_says_when_nothing_matches_and_when_the_query_is_bad(ann, room):
    browser = browser_for(ann)

    assert (
        "No messages in your rooms match “&lt;b&gt;zebra&lt;/b&gt;”"
        in browser.get("/search/", {"q": "<b>zebra</b>"}).content.decode()
    )
    assert "Type something to search for." in browser.get("/search/", {"q": "  "}).content.decode()
    assert "at most" in browser.get("/search/", {"q": "x" * 500}).content.decode()
    assert "search again" in browser.get("/search/", {"q": "x", "cursor": "junk"}).content.decode()


def test_the_search_page_offers_my_rooms_and_filters_on_one(ann, ben, bob, room):
    other = group_room(ann, title="Birds")
    group_room(bob, title="Secret")
    say(ann, room, "heron one")
    in_other = say(ann, other, "heron two")
    browser = browser_for(ann)

    html = browser.get("/search/", {"q": "heron", "room": other.pk}).content.decode()

    assert f'<option value="{room.pk}">' in html and "Secret" not in html
    assert f"around={in_other.pk}" in html and html.count("around=") == 1


def test_the_search_page_has_more_results_through_the_cursor(ann, room):
    ids = {say(ann, room, f"heron {number}").pk for number in range(search.DEFAULT_LIMIT + 5)}
    browser = browser_for(ann)

    first = browser.get("/search/", {"q": "heron"}).content.decode()
    more = re.search(r'href="(\?[^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = browser.get(f"/search/{more}").content.decode()

    found = [int(found) for html in (first, second) for found in re.findall(r"around=(\d+)", html)]
    assert len(found) == len(ids) and set(found) == ids
    assert 'rel="next"' not in second


def test_the_search_page_needs_a_verified_sign_in(make_user):
    assert Client().get("/search/", {"q": "x"}).status_code == 302
    response = browser_for(make_user("newbie", verified=False)).get("/search/")
    assert response.status_code == 302 and response.url.endswith("/verify/")


def test_the_navigation_links_to_search(ann):
    assert b'href="/search/">Search</a>' in browser_for(ann).get("/rooms/").content


@pytest.mark.parametrize("count", [3, search.DEFAULT_LIMIT + 5])
def test_a_page_of_results_costs_a_fixed_number_of_queries(ann, ben, bob, room, count, django_assert_num_queries):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    for number in range(count):
        say(ben if number % 2 else ann, room, f"heron {number}")
        say(bob, direct, f"heron {number}")
    browser = browser_for(ann)
    api = browser_for(ann)

    # session, person, my rooms (memberships, direct peers, newest messages), the search itself,
    # the header's unread-notifications badge, and the app shell's sidebar (rooms, peers and blocks in one
    # on PostgreSQL, three queries elsewhere).
    with django_assert_num_queries(8 if connection.vendor == "postgresql" else 10):
        page = browser.get("/search/", {"q": "heron"})
    assert page.content.decode().count("around=") == min(2 * count, search.DEFAULT_LIMIT)
    # session, person, the search.
    with django_assert_num_queries(3):
        assert len(hit_ids(api.get("/api/search/", {"q": "heron"}))) == min(2 * count, search.DEFAULT_LIMIT)


# PostgreSQL full-text search


@pytest.mark.services
def test_a_message_about_the_words_ranks_above_one_mentioning_them_in_passing(ann, room, api_as):
    passing = say(
        ann, room, "yesterday we walked for hours along the river and near the end saw a heron, then went home"
    )
    about = say(ann, room, "heron heron! a grey heron")
    both = say(ann, room, "grey heron fishing")

    assert hit_ids(find(api_as(ann), "heron")) == [about.pk, both.pk, passing.pk]
    assert hit_ids(find(api_as(ann), "grey heron")) == [about.pk, both.pk]


@pytest.mark.services
def test_web_search_syntax_phrases_or_and_exclusions(ann, room, api_as):
    grey_heron = say(ann, room, "a grey heron")
    heron_grey = say(ann, room, "heron, grey")
    egret = say(ann, room, "an egret")
    client = api_as(ann)

    assert hit_ids(find(client, '"grey heron"')) == [grey_heron.pk]
    assert set(hit_ids(find(client, "heron or egret"))) == {grey_heron.pk, heron_grey.pk, egret.pk}
    assert set(hit_ids(find(client, "heron -grey"))) == set()
    assert hit_ids(find(client, "HERON -a")) == [heron_grey.pk]


@pytest.mark.services
def test_words_match_whole_and_case_insensitively_without_stemming(ann, room, api_as):
    say(ann, room, "Herons everywhere")
    exact = say(ann, room, "one HERON")

    assert hit_ids(find(api_as(ann), "heron")) == [exact.pk]


@pytest.mark.services
def test_the_stored_words_follow_edits_and_deletes(ann, room, api_as):
    message = say(ann, room, "a grey heron")
    services.message_edit(user=ann, message_id=message.pk, body="a white Egret")
    client = api_as(ann)

    assert (hit_ids(find(client, "heron")), hit_ids(find(client, "egret"))) == ([], [message.pk])
    assert stored_words(message) == "'a':1 'egret':3 'white':2"
    services.message_delete(user=ann, message_id=message.pk)
    assert stored_words(message) == ""


def stored_words(message) -> str:
    return Message.objects.values_list("search_vector", flat=True).get(pk=message.pk)


@pytest.mark.services
def test_search_over_a_big_room_uses_the_gin_index(ann, ben, room):
    # Big enough that the planner prefers the index to reading the table (the stored vectors make a
    # full read cheap: at 20,000 messages it still does).
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO chat_message (room_id, author_id, seq, body, client_id, created_at)
               SELECT %s, %s, g, 'message number ' || g || CASE WHEN g %% 1000 = 0 THEN ' heron' ELSE '' END,
                      gen_random_uuid(), now()
               FROM generate_series(1, 100000) g""",
            [room.pk, ann.pk],
        )
        cursor.execute("ANALYZE chat_message")
    queries = []

    def record(execute, sql, params, many, context):
        queries.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        page = search.message_search(user=ben, query="heron", limit=5)
    assert len(page.hits) == 5 and page.next is not None

    sql, params = queries[0]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_search_vector" in plan, plan


# The embedded fallback


@sqlite_only
def test_embedded_mode_finds_every_word_case_insensitively_newest_first(ann, room, api_as):
    older = say(ann, room, "The Heron and the egret")
    newer = say(ann, room, "egrets and herons")
    say(ann, room, "only an egret")

    response = find(api_as(ann), "heron EGRET")

    assert hit_ids(response) == [newer.pk, older.pk]
    assert [hit["rank"] for hit in response.json()["results"]] == [0.0, 0.0]
    assert "<mark>Heron</mark>" in response.json()["results"][1]["snippet"]


@sqlite_only
def test_embedded_mode_finds_nothing_for_a_query_without_words(ann, room, api_as):
    say(ann, room, "!!! ???")

    assert hit_ids(find(api_as(ann), "!!!")) == []


def test_the_fallback_snippet_is_a_window_around_the_first_hit_with_every_hit_marked():
    body = "x" * 200 + " Heron and heron " + "y" * 200

    headline = search.contains_headline(body, ["heron"])

    assert headline.startswith("… ") and headline.endswith(" …")
    assert f"{search.MARK_START}Heron{search.MARK_STOP} and {search.MARK_START}heron{search.MARK_STOP}" in headline
    assert len(headline) < 2 * search.SNIPPET_CONTEXT_CHARS + 40
