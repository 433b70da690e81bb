"""Reporting from the pages: a person from their profile, a message from its room."""

import uuid

import pytest
from django.test import Client

from accounts.models import Report
from chat import services as chat_services
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def send(author, room, body):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def test_a_profile_links_to_its_report_page_and_the_report_reaches_the_queue(ann, ben):
    browser = signed_in(ben)
    assert "/u/ann/report/" in browser.get("/u/ann/").content.decode()
    assert "/u/ben/report/" not in browser.get("/u/ben/").content.decode()  # Not on my own.
    assert browser.get("/u/ann/report/").status_code == 200

    response = browser.post("/u/ann/report/", {"reason": "harassment", "details": " Rude in the lobby "})

    assert response.status_code == 302 and response.url == "/u/ann/"
    report = Report.objects.get()
    assert (report.reporter, report.reported, report.reason, report.details) == (
        ben,
        ann,
        "harassment",
        "Rude in the lobby",
    )
    assert (report.status, report.message_id) == ("open", None)


def test_a_bad_report_is_answered_with_the_form_again(ann, ben):
    browser = signed_in(ben)
    response = browser.post("/u/ann/report/", {"reason": "because"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert browser.get("/u/ben/report/").status_code == 404  # Myself.
    assert browser.get("/u/nobody/report/").status_code == 404
    assert Client().get("/u/ann/report/").status_code == 302  # Signed in first.
    assert not Report.objects.exists()


def test_a_message_is_reported_from_its_page_with_what_it_said(ann, ben, room):
    said = send(ann, room, "you are <b>awful</b>")
    browser = signed_in(ben)
    form = browser.get(f"/messages/{said.pk}/report/").content.decode()
    assert "you are &lt;b&gt;awful&lt;/b&gt;" in form and "Report a message of @ann" in form

    response = browser.post(f"/messages/{said.pk}/report/", {"reason": "harassment"})

    assert response.status_code == 302 and response.url == f"/rooms/{room.pk}/?around={said.pk}"
    report = Report.objects.get()
    assert (report.reported, report.message_id, report.room_id, report.message_body) == (
        ann,
        said.pk,
        room.pk,
        "you are <b>awful</b>",
    )


def test_only_messages_of_others_in_my_rooms_can_be_reported(ann, ben, bob, room):
    elsewhere = group_room(bob, ann, title="Not ben's")
    theirs, mine, gone = send(bob, elsewhere, "hidden"), send(ben, room, "mine"), send(ann, room, "gone")
    chat_services.message_delete(user=ann, message_id=gone.pk)
    browser = signed_in(ben)
    for message_id in (theirs.pk, mine.pk, gone.pk, 10**9):
        assert browser.get(f"/messages/{message_id}/report/").status_code == 404
        assert browser.post(f"/messages/{message_id}/report/", {"reason": "spam"}).status_code == 404
    assert not Report.objects.exists()


def test_reporting_from_pages_is_rate_limited_like_the_api(ann, ben, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "report": "2/hour"},
    }
    browser = signed_in(ben)
    answers = [browser.post("/u/ann/report/", {"reason": "spam"}).status_code for _ in range(3)]
    assert answers == [302, 302, 400]
    assert Report.objects.count() == 2
