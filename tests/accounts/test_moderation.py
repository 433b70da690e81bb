"""Moderation of people and reports, by staff in the Moderators group, every step in the audit log."""

import uuid

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import moderation
from accounts import services as account_services
from accounts.admin_moderation import EstimatingPaginator
from accounts.models import ModerationAction, Report, User
from chat import services as chat_services
from rooms import services as room_services
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db
Kind = ModerationAction.Kind


def report_of(reporter, reported, room=None, body=None) -> Report:
    message_id = None
    if body is not None:
        message_id = chat_services.message_send(author=reported, room_id=room.pk, body=body, client_id=uuid.uuid4()).pk
    return account_services.report_create(reporter=reporter, reported=reported, reason="spam", message_id=message_id)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# Who moderates


def test_the_moderators_group_comes_with_the_moderation_permissions():
    granted = {
        f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name="Moderators").permissions.all()
    }
    assert {"chat.change_message", "accounts.change_report", "accounts.change_user", "rooms.change_room"} <= granted
    assert "accounts.view_moderationaction" in granted
    assert not any(name.startswith(("accounts.delete_", "accounts.add_")) for name in granted)


@pytest.mark.parametrize(
    "page", ["accounts/report", "accounts/user", "accounts/moderationaction", "chat/message", "rooms/room"]
)
def test_moderators_open_the_moderation_lists_and_other_staff_do_not(page, moderator_browser, make_user):
    assert moderator_browser.get(f"/admin/{page}/").status_code == 200
    assert signed_in(make_user("intern", is_staff=True)).get(f"/admin/{page}/").status_code == 403


def test_a_moderator_cannot_grant_themselves_more_nor_touch_other_staff(moderator, moderator_browser, admin_browser):
    form = moderator_browser.get(f"/admin/accounts/user/{moderator.pk}/change/")
    assert b'name="is_superuser"' not in form.content and b'name="groups"' not in form.content
    assert moderator_browser.get(f"/admin/accounts/user/{moderator.pk}/password/").status_code == 403
    boss = User.objects.get(handle="boss")
    with pytest.raises(PermissionDenied):
        moderation.user_deactivate(moderator=moderator, user=boss, reason="coup")
    with pytest.raises(ValidationError):
        moderation.user_deactivate(moderator=moderator, user=moderator, reason="tired")
    assert User.objects.filter(is_active=False).count() == 0


def test_services_refuse_staff_without_the_permission(make_user, ann):
    intern = make_user("intern", is_staff=True)
    with pytest.raises(PermissionDenied):
        moderation.user_deactivate(moderator=intern, user=ann, reason="spam")
    with pytest.raises(PermissionDenied):
        moderation.user_verify(moderator=ann, user=intern)


# People


def test_deactivation_signs_the_person_out_of_sessions_and_tokens_and_is_logged(ann, moderator, api_as):
    browser = signed_in(ann)
    refresh = RefreshToken.for_user(ann)
    api = api_as(ann)
    assert browser.get("/rooms/").status_code == 200 and api.get("/api/me/").status_code == 200

    moderation.user_deactivate(moderator=moderator, user=ann, reason="Spam bot")

    assert browser.get("/rooms/").status_code == 302  # Back to the login page.
    assert api.get("/api/me/").status_code == 401
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()
    assert Client().post("/api/auth/token/refresh/", {"refresh": str(refresh)}).status_code == 401
    [entry] = ModerationAction.objects.all()
    assert (entry.kind, entry.moderator, entry.target_user, entry.reason) == (
        Kind.USER_DEACTIVATE,
        moderator,
        ann,
        "Spam bot",
    )


def test_the_admin_deactivates_reactivates_and_verifies_with_a_log_entry_each(
    ann, make_user, moderator, moderator_browser
):
    pending = make_user("pending", verified=False)
    selection = {"_selected_action": [ann.pk]}
    moderator_browser.post(
        "/admin/accounts/user/", {**selection, "action": "deactivate_users", "apply": "1", "reason": "Abuse"}
    )
    moderator_browser.post("/admin/accounts/user/", {**selection, "action": "reactivate_users", "apply": "1"})
    moderator_browser.post("/admin/accounts/user/", {"action": "verify_users", "_selected_action": [pending.pk]})

    ann.refresh_from_db()
    pending.refresh_from_db()
    assert ann.is_active and pending.is_verified
    kinds = list(ModerationAction.objects.order_by("id").values_list("kind", "target_user", "moderator"))
    assert kinds == [
        (Kind.USER_DEACTIVATE, ann.pk, moderator.pk),
        (Kind.USER_REACTIVATE, ann.pk, moderator.pk),
        (Kind.USER_VERIFY, pending.pk, moderator.pk),
    ]


def test_unticking_active_in_the_form_deactivates_through_the_service(ann, admin_browser):
    refresh = RefreshToken.for_user(ann)
    fields = ("email", "handle", "display_name", "bio", "dm_policy", "friend_request_policy", "email_notifications")
    data = {name: getattr(ann, name) for name in fields} | {"is_active": ""}  # Unticked.
    response = admin_browser.post(f"/admin/accounts/user/{ann.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    ann.refresh_from_db()
    assert not ann.is_active
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()
    assert ModerationAction.objects.get().kind == Kind.USER_DEACTIVATE


# The reports queue


def test_the_queue_shows_open_reports_unless_asked_for_others(ann, ben, bob, moderator, moderator_browser):
    open_one, handled = report_of(ben, ann), report_of(bob, ann)
    moderation.report_dismiss(moderator=moderator, report_id=handled.pk)

    def listed(**params) -> list[int]:
        response = moderator_browser.get("/admin/accounts/report/", params)
        return [report.pk for report in response.context["cl"].result_list]

    assert listed() == [open_one.pk]
    assert listed(status="dismissed") == [handled.pk]
    assert listed(status="all") == [handled.pk, open_one.pk]


def test_resolving_says_what_was_done_and_a_handled_report_stays_handled(ann, ben, moderator, moderator_browser):
    report = report_of(ben, ann)
    selection = {"action": "resolve_reports", "_selected_action": [report.pk], "apply": "1"}
    refused = moderator_browser.post("/admin/accounts/report/", {**selection, "reason": ""})
    assert b"This field is required" in refused.content
    moderator_browser.post("/admin/accounts/report/", {**selection, "reason": "Warned them by e-mail"})

    report.refresh_from_db()
    assert (report.status, report.handled_by, report.resolution) == ("resolved", moderator, "Warned them by e-mail")
    assert report.handled_at is not None
    again = moderator_browser.post(
        "/admin/accounts/report/?status=all",
        {"action": "dismiss_reports", "_selected_action": [report.pk], "apply": "1", "reason": ""},
        follow=True,
    )
    assert "This report was handled already." in again.content.decode()
    assert list(ModerationAction.objects.values_list("kind", "target_report")) == [(Kind.REPORT_RESOLVE, report.pk)]


def test_the_shortcuts_remove_the_reported_message_or_deactivate_the_person(ann, ben, bob, room, moderator):
    about_message = report_of(ben, ann, room=room, body="buy my pills")
    about_person = report_of(bob, ann)

    moderation.report_remove_message(moderator=moderator, report_id=about_message.pk, reason="Spam")
    moderation.report_deactivate_user(moderator=moderator, report_id=about_person.pk, reason="Spammer")

    about_message.refresh_from_db()
    about_person.refresh_from_db()
    assert about_message.message.removal_reason == "Spam" and about_message.message_body == "buy my pills"
    assert (about_message.status, about_message.resolution) == ("resolved", "Message removed: Spam")
    assert (about_person.status, about_person.resolution) == ("resolved", "Account deactivated: Spammer")
    ann.refresh_from_db()
    assert not ann.is_active
    kinds = sorted(ModerationAction.objects.values_list("kind", flat=True))
    expected = [Kind.MESSAGE_REMOVE, Kind.REPORT_RESOLVE, Kind.REPORT_RESOLVE, Kind.USER_DEACTIVATE]
    assert kinds == sorted(expected)
    with pytest.raises(ValidationError):  # No message to remove.
        moderation.report_remove_message(moderator=moderator, report_id=report_of(ben, ann).pk, reason="Spam")


def test_the_report_page_shows_the_reported_message_read_only(ann, ben, room, moderator_browser):
    report = report_of(ben, ann, room=room, body="the words reported")
    page = moderator_browser.get(f"/admin/accounts/report/{report.pk}/change/").content.decode()
    assert "the words reported" in page and f"/admin/chat/message/{report.message_id}/change/" in page
    assert 'name="status"' not in page and moderator_browser.get("/admin/accounts/report/add/").status_code == 403


# The audit log


def test_the_audit_log_is_read_only(ann, moderator, moderator_browser, admin_browser):
    moderation.user_deactivate(moderator=moderator, user=ann, reason="Spam")
    entry = ModerationAction.objects.get()
    listing = moderator_browser.get("/admin/accounts/moderationaction/").content.decode()
    assert "Deactivated a person" in listing and f"/admin/accounts/user/{ann.pk}/change/" in listing
    for browser in (moderator_browser, admin_browser):
        assert browser.get("/admin/accounts/moderationaction/add/").status_code == 403
        assert browser.get(f"/admin/accounts/moderationaction/{entry.pk}/delete/").status_code == 403
        page = browser.get(f"/admin/accounts/moderationaction/{entry.pk}/change/")
        assert page.status_code == 200 and b'name="reason"' not in page.content


def test_the_log_outlives_what_it_names(ann, ben, room, moderator, admin_browser):
    said = chat_services.message_send(author=ann, room_id=room.pk, body="gone soon", client_id=uuid.uuid4())
    chat_services.message_remove(moderator=moderator, message_id=said.pk, reason="Spam")
    room_services.room_archive(moderator=moderator, room_id=room.pk, reason="Dead")
    room.delete()
    ann.delete()
    moderator.delete()
    assert ModerationAction.objects.count() == 2
    listing = admin_browser.get("/admin/accounts/moderationaction/")
    assert listing.status_code == 200 and b"gone soon" in listing.content


# Lists of many rows cost what lists of a few do


def queries_of(browser, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert browser.get(url).status_code == 200
    return len(queries)


def test_the_user_report_room_and_log_lists_cost_the_same_for_5_or_50_rows(make_user, moderator, admin_browser):
    urls = ["/admin/accounts/user/", "/admin/accounts/report/", "/admin/rooms/room/"]
    urls.append("/admin/accounts/moderationaction/")

    def add_rows(count: int) -> None:
        for _ in range(count):  # Each: two people, an open and a handled report, an archived room, log entries.
            person, reporter = make_user(), make_user()
            moderation.report_dismiss(moderator=moderator, report_id=report_of(reporter, person).pk)
            report_of(reporter, person)
            room = group_room(person, reporter, title=f"Room of {person.handle}")
            room_services.room_archive(moderator=moderator, room_id=room.pk, reason="Test")

    add_rows(5)
    few = {url: queries_of(admin_browser, url) for url in urls}
    add_rows(45)
    assert {url: queries_of(admin_browser, url) for url in urls} == few


def test_an_unfiltered_list_of_a_large_table_is_counted_from_statistics(ann, room, admin_browser, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL statistics")
    for number in range(3):
        chat_services.message_send(author=ann, room_id=room.pk, body=f"m{number}", client_id=uuid.uuid4())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE chat_message")
    monkeypatch.setattr(EstimatingPaginator, "exact_below", 0)

    with CaptureQueriesContext(connection) as queries:
        assert admin_browser.get("/admin/chat/message/").status_code == 200
    assert not any("COUNT(" in query["sql"] and "chat_message" in query["sql"] for query in queries)
    with CaptureQueriesContext(connection) as queries:  # A filtered list is counted exactly.
        assert admin_browser.get("/admin/chat/message/", {"room": room.pk}).context["cl"].result_count == 3
    assert any("COUNT(" in query["sql"] for query in queries)
