"""The public room directory (API and page), the lobby's counts endpoint and page, and reports."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Report
from chat import services as chat_services
from rooms import matching
from rooms.models import Membership, Room
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def browser_for(user):
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def directory(ann, ben, bob, make_user):
    """Three public rooms (chess is the busiest, garden the largest, books in between) and a private one."""
    cat, dan = make_user("cat"), make_user("dan")
    garden = group_room(ann, ben, bob, cat, public=True, title="Garden friends")
    garden.category = "Outdoors"
    garden.save()
    chess = group_room(bob, public=True, title="Chess club")
    chess.category = "games"
    chess.save()
    books = group_room(dan, ben, public=True, title="Book club")
    books.category = "Games"  # The same category, spelt differently.
    books.save()
    group_room(ann, ben, title="Secret chess")
    chat_services.message_send(author=bob, room_id=chess.pk, body="e4", client_id=uuid.uuid4())
    return {"garden": garden, "chess": chess, "books": books, "dan": dan}


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [room["title"] for room in response.json()["results"]]


def test_the_directory_lists_public_rooms_only_by_activity_then_by_size(directory, ann, api_as):
    client = api_as(ann)
    body = client.get("/api/rooms/public/").json()
    assert [room["title"] for room in body["results"]] == ["Chess club", "Book club", "Garden friends"]
    assert body["count"] == 3 and body["categories"] == ["Games", "Outdoors"]
    garden = body["results"][2]
    assert garden["member_count"] == 4 and garden["joined"] is True and garden["kind"] == "group"
    assert body["results"][0]["joined"] is False
    assert titles(client.get("/api/rooms/public/?sort=size")) == ["Garden friends", "Book club", "Chess club"]


def test_the_directory_filters_by_category_and_searches_titles(directory, ann, api_as):
    client = api_as(ann)
    assert titles(client.get("/api/rooms/public/?category=GAMES")) == ["Chess club", "Book club"]
    assert titles(client.get("/api/rooms/public/?q=CLUB&sort=size")) == ["Book club", "Chess club"]
    assert titles(client.get("/api/rooms/public/?q=secret")) == []
    page = client.get("/api/rooms/public/?limit=1&offset=1").json()
    assert page["count"] == 3 and [room["title"] for room in page["results"]] == ["Book club"]


def test_bad_directory_parameters_are_field_errors(ann, api_as):
    response = api_as(ann).get("/api/rooms/public/?sort=random&limit=0")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"sort", "limit"}


def test_the_directory_costs_three_queries_however_many_rooms(directory, ann, api_as, django_assert_num_queries):
    client = api_as(ann)
    with django_assert_num_queries(4):  # The person (JWT), the count, the categories, the page.
        client.get("/api/rooms/public/")
    for number in range(10):
        group_room(ann, public=True, title=f"More {number}")
    with django_assert_num_queries(4):
        assert len(client.get("/api/rooms/public/").json()["results"]) == 13


def test_the_directory_page_filters_and_joins_with_one_click(directory):
    dan = directory["dan"]
    browser = browser_for(dan)
    page = browser.get("/rooms/directory/?category=outdoors&sort=size")
    assert page.status_code == 200
    assert b"Garden friends" in page.content and b"Chess club" not in page.content
    garden = directory["garden"]
    assert f'action="/rooms/{garden.pk}/join/"'.encode() in page.content

    joined = browser.post(f"/rooms/{garden.pk}/join/")

    assert joined.url == f"/rooms/{garden.pk}/"
    assert Membership.objects.filter(room=garden, user=dan).exists()


def test_titles_in_the_directory_are_escaped(ann):
    group_room(ann, public=True, title="<script>x</script>")
    page = browser_for(ann).get("/rooms/directory/")
    assert b"&lt;script&gt;x&lt;/script&gt;" in page.content and b"<script>x</script>" not in page.content


def test_the_lobby_counts_endpoint(directory, ann, api_as, online):
    online(ann)
    body = api_as(ann).get("/api/lobby/").json()
    assert body["online"] >= 1 and body["waiting"] == 0
    assert body["rooms"][0] == {"id": directory["garden"].pk, "members": 4}


def test_the_lobby_page_shows_counts_public_rooms_and_is_in_the_navigation(directory, ann):
    page = browser_for(ann).get("/lobby/")
    assert page.status_code == 200
    assert b'id="online-count"' in page.content and b'id="waiting-count"' in page.content
    public_rooms = page.content.split(b'id="public-rooms"')[1]  # the sidebar lists ann's private rooms too
    assert b"Garden friends" in public_rooms and b"Secret chess" not in public_rooms
    assert b'<label for="lobby-tags">' in page.content
    assert b'href="/lobby/"' in page.content and b'href="/rooms/directory/"' in page.content


def test_the_lobby_needs_a_verified_account(make_user):
    response = browser_for(make_user("new", verified=False)).get("/lobby/")
    assert response.status_code in (302, 403)


# A lobby chat's page: controls, leaving without JavaScript, reporting


@pytest.fixture
def chat(ann, ben, online):
    online(ann, ben)
    matching.lobby_join(user=ann)
    return matching.lobby_join(user=ben).room


def test_a_lobby_chat_page_has_next_leave_add_friend_and_report(chat, ann):
    page = browser_for(ann).get(f"/rooms/{chat.pk}/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "Stranger: Ben" in content and 'id="stranger-next"' in content
    assert f'action="/lobby/rooms/{chat.pk}/leave/"' in content and 'action="/u/ben/friend/"' in content
    assert f'action="/rooms/{chat.pk}/report/"' in content and "js/stranger.js" in content


def test_leaving_a_lobby_chat_without_javascript_closes_it_and_opens_the_lobby(chat, ann, ben):
    response = browser_for(ann).post(f"/lobby/rooms/{chat.pk}/leave/")
    assert response.url == "/lobby/"
    chat.refresh_from_db()
    assert chat.closed_at is not None
    assert b"This conversation has ended" in browser_for(ben).get(f"/rooms/{chat.pk}/").content


def test_nobody_else_can_open_leave_or_report_from_a_lobby_chat(chat, bob):
    browser = browser_for(bob)
    assert browser.get(f"/rooms/{chat.pk}/").status_code == 404
    assert browser.post(f"/lobby/rooms/{chat.pk}/leave/").status_code == 404
    browser.post(f"/rooms/{chat.pk}/report/", {"user": chat.memberships.first().user_id, "reason": "spam"})
    assert not Report.objects.exists()
    chat.refresh_from_db()
    assert chat.closed_at is None


def test_reporting_the_stranger_from_the_chat_page(chat, ann, ben):
    response = browser_for(ben).post(
        f"/rooms/{chat.pk}/report/", {"user": ann.pk, "reason": "harassment", "details": "rude"}
    )
    assert response.url == f"/rooms/{chat.pk}/"
    report = Report.objects.get()
    assert (report.reporter, report.reported, report.room_id, report.reason) == (ben, ann, chat.pk, "harassment")
    assert report.status == Report.Status.OPEN and report.details == "rude"


def test_the_report_api_takes_a_message_of_the_reported_person(chat, ann, ben, api_as):
    message = chat_services.message_send(author=ann, room_id=chat.pk, body="spam spam", client_id=uuid.uuid4())
    response = api_as(ben).post("/api/reports/", {"user": ann.pk, "reason": "spam", "message": message.pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["room"] == chat.pk and body["message"] == message.pk and body["status"] == "open"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user": "self"}, "user"),
        ({"reason": "boring"}, "reason"),
        ({"room": "other"}, "room"),
        ({"message": "own"}, "message"),
        ({"user": 10**9}, "user"),
    ],
)
def test_bad_reports_are_field_errors(chat, ann, ben, bob, api_as, changes, field):
    other = group_room(bob, title="Elsewhere")
    own = chat_services.message_send(author=ben, room_id=chat.pk, body="mine", client_id=uuid.uuid4())
    values = {"self": ben.pk, "other": other.pk, "own": own.pk}
    body = {"user": ann.pk, "reason": "spam", "room": chat.pk}
    body.update({name: values.get(value, value) for name, value in changes.items()})
    response = api_as(ben).post("/api/reports/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Report.objects.exists()


def test_reports_show_in_the_admin(chat, ann, ben, admin_browser):
    from accounts import services as account_services

    account_services.report_create(reporter=ben, reported=ann, reason="spam", room_id=chat.pk)
    page = admin_browser.get("/admin/accounts/report/")
    assert page.status_code == 200 and b"ann" in page.content


def test_a_closed_lobby_chat_stays_readable_to_both(chat, ann):
    Room.objects.filter(pk=chat.pk).update(closed_at=timezone.now())
    assert browser_for(ann).get(f"/api/rooms/{chat.pk}/messages/").status_code == 200


def test_a_lobby_chat_is_named_as_such_in_my_rooms(chat, ann):
    content = browser_for(ann).get("/rooms/").content.decode()
    assert "Lobby chat" in content and f'href="/rooms/{chat.pk}/"' in content
