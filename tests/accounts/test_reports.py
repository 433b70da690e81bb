"""Reports that name a message: only among what the reporter can see, and kept as it was reported."""

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from accounts import services
from accounts.models import Report
from chat import services as chat_services
from rooms.models import Room
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def send(author, room, body) -> int:
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4()).pk


def refusal(reporter, reported, message_id, room_id=None) -> dict:
    with pytest.raises(ValidationError) as refused:
        services.report_create(
            reporter=reporter, reported=reported, reason="spam", message_id=message_id, room_id=room_id
        )
    return refused.value.message_dict


def test_a_report_cannot_tell_who_wrote_what_in_a_room_the_reporter_is_not_in(ann, ben, bob, room):
    elsewhere = group_room(bob, ann, title="Not ben's")
    ann_s = send(ann, elsewhere, "written by ann")
    bob_s = send(bob, elsewhere, "written by bob")

    # ann did write ann_s, bob did not; ben sees neither: the answers must not differ.
    answers = [refusal(ben, ann, ann_s), refusal(ben, bob, ann_s), refusal(ben, ann, 10**9), refusal(bob, ann, bob_s)]
    answers.append(refusal(ben, ann, ann_s, room_id=room.pk))
    assert all(answer == answers[0] for answer in answers)
    assert not Report.objects.exists()


def test_a_report_keeps_the_message_as_it_was_reported(ann, ben, room, admin_browser):
    said = send(ann, room, "you are awful")
    report = services.report_create(reporter=ben, reported=ann, reason="harassment", message_id=said)
    chat_services.message_edit(user=ann, message_id=said, body="you are lovely")
    chat_services.message_delete(user=ann, message_id=said)

    report.refresh_from_db()
    assert (report.room_id, report.message_body, report.message_author_handle) == (room.pk, "you are awful", "ann")
    page = admin_browser.get(f"/admin/accounts/report/{report.pk}/change/").content.decode()
    assert "you are awful" in page and 'name="message_body"' not in page  # Shown, read-only.


def test_the_reported_person_cannot_change_the_message_once_the_chat_ended(ann, ben, room):
    said = send(ann, room, "you are awful")
    services.report_create(reporter=ben, reported=ann, reason="harassment", message_id=said)
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    with pytest.raises(PermissionDenied):
        chat_services.message_delete(user=ann, message_id=said)
