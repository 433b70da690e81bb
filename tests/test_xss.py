"""Markup written by people stays text on every server-rendered page: names, bios, room titles and
descriptions, messages, replies, file names and report details, on the pages people use and in the admin.

Each page is rendered twice: with the corpus everywhere, then with every one of those texts replaced by
plain words. The two must be made of the same elements with the same attributes (nothing injected),
nothing on the first may be able to run script, and the corpus must be there as text (not dropped)."""

import uuid

import pytest
from django.test import Client

from accounts import services as account_services
from accounts.models import Report, User
from chat import services as chat_services
from chat.models import Attachment, Message
from rooms import services as room_services
from rooms.models import Room
from tests.accounts.images import upload
from tests.accounts.social import befriend
from tests.rooms.factories import group_room
from tests.xss import BENIGN, CORPUS, PageShape, dangers

pytestmark = pytest.mark.django_db


@pytest.fixture
def written(make_user, api_as, settings):
    """Everything people write, written as attacks, through the services and the API."""
    settings.FRIEND_REQUEST_RATE_BURST = settings.MESSAGE_RATE_BURST = 100  # setup, not spam
    reader = make_user("reader")
    authors = [make_user(f"writer{number}") for number in range(len(CORPUS))]
    room = group_room(reader, *authors, public=True, title=CORPUS[0])
    room_services.room_update(by=reader, room_id=room.pk, description=CORPUS[1])
    for number, (author, attack) in enumerate(zip(authors, CORPUS, strict=True)):
        account_services.profile_update(user=author, display_name=attack, bio=attack)
        befriend(author, reader)
        group_room(author, title=attack[:80], public=True)
        upload = api_as(author).post(
            "/api/uploads/",
            {"file": upload_of(attack)},
            format="multipart",
        )
        assert upload.status_code == 201, upload.content
        message = chat_services.message_send(
            author=author,
            room_id=room.pk,
            body=f"hello {attack} @reader",
            client_id=uuid.uuid4(),
            attachment_ids=[upload.json()["id"]],
        )
        chat_services.message_send(
            author=reader, room_id=room.pk, body="hello again", client_id=uuid.uuid4(), reply_to_id=message.pk
        )
        account_services.report_create(
            reporter=reader, reported=author, reason="other", details=attack, room_id=room.pk, message_id=message.pk
        )
    return reader, room


def upload_of(attack: str):
    return upload(b"just text " * 10, name=f"{attack}.txt", content_type="text/plain")


def made_plain():
    """Every text the fixture wrote, now plain words (and the same length of list everywhere)."""
    User.objects.filter(handle__startswith="writer").update(display_name=BENIGN, bio=BENIGN)
    Room.objects.exclude(title="").update(title=BENIGN)
    Room.objects.exclude(description="").update(description=BENIGN)
    Message.objects.filter(body__startswith="hello ", reply_to__isnull=True).exclude(body="hello again").update(
        body=f"hello {BENIGN} @reader"
    )
    Attachment.objects.update(name=f"{BENIGN}.txt")
    Report.objects.update(details=BENIGN, message_body=BENIGN)


def pages(reader, room) -> dict[str, str]:
    person = Client()
    person.force_login(reader)
    admin = Client()
    boss = User.objects.filter(handle="boss").first() or User.objects.create_superuser(
        "boss@x.example", "x", handle="boss"
    )
    admin.force_login(boss)
    people = {
        url: person.get(url)
        for url in (
            f"/rooms/{room.pk}/",
            "/rooms/",
            "/rooms/directory/",
            "/u/writer1/",
            "/u/writer2/",
            "/friends/",
            "/search/?q=hello",
            "/notifications/",
        )
    }
    staff = {
        url: admin.get(url)
        for url in (
            "/admin/accounts/user/",
            f"/admin/accounts/user/{User.objects.get(handle='writer3').pk}/change/",
            "/admin/rooms/room/",
            "/admin/chat/message/",
            "/admin/accounts/report/",
            f"/admin/accounts/report/{Report.objects.first().pk}/change/",
            "/admin/chat/notification/",
        )
    }
    answers = {**people, **staff}
    assert {url: response.status_code for url, response in answers.items()} == dict.fromkeys(answers, 200)
    return {url: response.content.decode() for url, response in answers.items()}


def test_the_corpus_renders_as_text_and_injects_nothing(written):
    reader, room = written
    attacked = pages(reader, room)
    made_plain()
    plain = pages(reader, room)
    for url, html in attacked.items():
        # The shell and the admin draw their own icons as inline SVG: what the attack pages have beyond
        # the same pages written with plain words is what the corpus injected.
        assert dangers(html) == dangers(plain[url]), url
        assert PageShape(html).elements == PageShape(plain[url]).elements, url


def test_every_attack_is_shown_as_the_text_it_is(written):
    reader, room = written
    room_page = PageShape(pages(reader, room)[f"/rooms/{room.pk}/"]).text
    for attack in CORPUS:
        assert f"hello {attack}" in room_page  # the body, character for character
        assert attack in room_page  # the author's name
    profile = PageShape(pages(reader, room)["/u/writer1/"]).text
    assert CORPUS[1] in profile


def test_the_checks_find_what_they_look_for():
    """The reader is not blind: an injected element or handler is seen."""
    page = "<html><body><p>hi</p></body></html>"
    injected = "<html><body><p>hi<img src=x onerror=alert(1)></p><a href=' javascript:x'>a</a><svg></svg></body></html>"
    assert dangers(injected) == ["<img onerror>", "<a href= javascript:x>", "<svg>"]
    assert PageShape(page).elements != PageShape(injected).elements
