"""Notifications: who is told about what, mentions, direct messages while away, the list, read marks,
the page, the badge and its live events."""

import itertools
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from accounts.models import Block, EmailVerification
from chat import events, notifications, services, tasks
from chat.models import Message, Notification
from chat.notification_api import cursor_encode
from chat.templatetags.mentions import mentions
from rooms import services as room_services
from rooms.models import Membership
from tests.chat.realtime import published, run_all
from tests.chat.sockets import connected

pytestmark = pytest.mark.django_db
Kind = Notification.Kind


def send(author, room, body="hello"):
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def set_level(user, room, level):
    Membership.objects.filter(user=user, room=room).update(notification_level=level)


def kinds_of(user) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("id").values_list("kind", flat=True))


def browser_for(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


# Who is told


def test_a_notification_is_published_to_its_person_with_the_unread_count(ann, ben, django_capture_on_commit_callbacks):
    Notification.objects.create(user=ben, kind=Kind.FRIEND_ACCEPTED, actor=ann)
    with django_capture_on_commit_callbacks() as callbacks:
        made = notifications.notification_create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    [event] = published(events.user_group(ben.pk), run_all(callbacks))
    assert event["type"] == "notification.new" and event["unread"] == 2
    assert event["notification"]["id"] == made.pk and event["notification"]["kind"] == "friend_request"
    assert event["notification"]["actor"]["handle"] == "ann" and event["notification"]["url"] == "/friends/"


def test_nobody_is_notified_about_themselves(ann, room):
    assert notifications.notification_create(user=ann, kind=Kind.MENTION, actor=ann, room=room) is None
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("level", "expected"),
    [("all", ["mention", "dm"]), ("mentions", ["mention"]), ("nothing", [])],
)
def test_the_rooms_notification_level_decides(ann, ben, room, level, expected):
    set_level(ben, room, level)
    message = send(ann, room, "hi")
    for kind in (Kind.MENTION, Kind.DM):
        notifications.notification_create(user=ben, kind=kind, actor=ann, room=room, message=message)
    assert kinds_of(ben) == expected


def test_people_outside_a_room_hear_only_invitations_to_it(ann, bob, room):
    assert notifications.notification_create(user=bob, kind=Kind.MENTION, actor=ann, room=room) is None
    assert notifications.notification_create(user=bob, kind=Kind.ROOM_INVITE, actor=ann, room=room) is not None


@pytest.mark.parametrize("blocker", ["recipient", "actor"])
def test_a_block_either_way_silences_notifications(ann, ben, blocker):
    pair = (ben, ann) if blocker == "recipient" else (ann, ben)
    Block.objects.create(blocker=pair[0], blocked=pair[1])
    assert notifications.notification_create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann) is None
    assert not Notification.objects.exists()


def test_one_message_notifies_a_person_once_per_kind(ann, ben, room):
    message = send(ann, room, "@ben")
    first = notifications.notification_create(user=ben, kind=Kind.MENTION, actor=ann, room=room, message=message)
    again = notifications.notification_create(user=ben, kind=Kind.MENTION, actor=ann, room=room, message=message)
    assert again.pk == first.pk and Notification.objects.count() == 1


def test_an_invitation_notifies_the_invited_person_announced_once(ann, bob, room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        room_services.room_invite(by=ann, room_id=room.pk, user=bob)
    # room.invited alone reaches bob's sockets; the page's badge counts it (static/js/notifications.js).
    assert [event["type"] for event in published(events.user_group(bob.pk), run_all(callbacks))] == ["room.invited"]
    [notification] = Notification.objects.filter(user=bob)
    assert notification.kind == Kind.ROOM_INVITE and notification.actor == ann and notification.room_id == room.pk
    assert notification.target_url == "/rooms/"


# Mentions


@pytest.mark.parametrize(
    ("body", "handles"),
    [
        ("@ben hi", ["BEN"]),
        ("hi @Ben, and @ANN!", ["BEN", "ANN"]),
        ("(@ben) @ben's turn", ["BEN"]),
        ("mail ben@example.com", []),
        ("@@ben", []),
        ("@be is too short", []),
        ("@benjamin is someone else", ["BENJAMIN"]),
        ("@" + "x" * 31, []),
        ("@benö", []),
        ("line\n@ben_2", ["BEN_2"]),
    ],
)
def test_mentions_are_parsed_precisely(body, handles):
    assert notifications.mentioned_handles(body) == handles


def test_a_mention_notifies_a_member_but_not_the_author_or_outsiders(ann, ben, bob, room, make_user):
    make_user("cat")  # Exists, but is not in the room.
    message = send(ann, room, "@ben @ann @bob @cat @nobody look")
    made = notifications.mentions_notify(message_id=message.pk)
    assert [notification.user for notification in made] == [ben]
    assert made[0].kind == Kind.MENTION and made[0].message == message and made[0].actor == ann
    assert Notification.objects.count() == 1


def test_mentions_are_case_insensitive_and_a_rerun_adds_nothing(ann, ben, room):
    message = send(ann, room, "@BEN and again @ben")
    tasks.message_mentions_notify(message.pk)
    tasks.message_mentions_notify(message.pk)  # A retried task.
    assert kinds_of(ben) == ["mention"]


def test_a_blocked_person_mentioning_me_notifies_nothing(ann, ben, room):
    Block.objects.create(blocker=ben, blocked=ann)
    assert notifications.mentions_notify(message_id=send(ann, room, "@ben").pk) == []


def test_the_send_path_queues_the_mention_task_only_for_bodies_with_an_at(
    ann, ben, room, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as plain:
        send(ann, room, "no mention here")
    with django_capture_on_commit_callbacks(execute=True) as mentioning:
        send(ann, room, "hey @ben")
    # The message event only; then the message event, the task (run eagerly here) and the event it queued.
    assert (len(plain), len(mentioning)) == (1, 3)
    assert kinds_of(ben) == ["mention"]


def test_a_mention_added_by_an_edit_notifies_the_new_person_once(
    ann, ben, bob, room, django_capture_on_commit_callbacks
):
    Membership.objects.create(room=room, user=bob)
    with django_capture_on_commit_callbacks(execute=True):
        message = send(ann, room, "hi @ben")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(user=ann, message_id=message.pk, body="hi @ben and @bob")
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(user=ann, message_id=message.pk, body="hi @ben and @bob!")

    assert kinds_of(ben) == ["mention"] and kinds_of(bob) == ["mention"]
    assert Notification.objects.get(user=bob).message_id == message.pk


def test_an_edit_without_a_mention_queues_no_mention_task(ann, ben, room, django_capture_on_commit_callbacks):
    message = send(ann, room, "plain")
    with django_capture_on_commit_callbacks() as callbacks:
        services.message_edit(user=ann, message_id=message.pk, body="still plain")
    assert len(callbacks) == 1  # the message.edited event only


def test_the_mention_filter_escapes_the_text_and_marks_mentions():
    html = mentions("<b>@ann</b> & @ben ann@x.org", "Ben")
    assert html == (
        '&lt;b&gt;<span class="mention">@ann</span>&lt;/b&gt; &amp; '
        '<span class="mention mention-me">@ben</span> ann@x.org'
    )


def test_the_room_page_highlights_mentions_safely(ann, ben, room):
    send(ann, room, "<script>x</script> @ben")
    page = browser_for(ben).get(f"/rooms/{room.pk}/").content.decode()
    assert '&lt;script&gt;x&lt;/script&gt; <span class="mention mention-me">@ben</span>' in page


# Direct messages while away


def test_an_unread_direct_message_to_someone_offline_notifies_once_per_unread_stretch(ann, bob, direct):
    first = send(ann, direct, "are you there?")
    send(ann, direct, "hello?")
    assert notifications.dm_away_notify() == 1
    assert notifications.dm_away_notify() == 0
    [notification] = Notification.objects.filter(user=bob)
    assert (notification.kind, notification.message, notification.actor) == (Kind.DM, first, ann)
    assert notification.target_url == f"/rooms/{direct.pk}/?around={first.pk}"

    services.read_mark(user=bob, room_id=direct.pk, seq=2)
    assert notifications.dm_away_notify() == 0
    third = send(ann, direct, "new stretch")
    assert notifications.dm_away_notify() == 1
    assert Notification.objects.filter(user=bob).latest("id").message == third
    assert not Notification.objects.filter(user=ann).exists(), "my own messages are never unread to me"


def test_nobody_online_or_on_mentions_only_hears_of_direct_messages(ann, bob, direct, online, make_user):
    online(bob)
    send(ann, direct, "hi")
    assert notifications.dm_away_notify() == 0
    cat = make_user("cat")
    other, _ = room_services.direct_room_get_or_create(user=ann, other=cat)
    set_level(cat, other, "mentions")
    send(ann, other, "hi cat")
    assert notifications.dm_away_notify() == 0
    assert not Notification.objects.exists()


def test_people_skipped_by_one_batch_do_not_keep_the_next_from_being_reached(
    ann, bob, direct, online, make_user, monkeypatch
):
    monkeypatch.setattr(notifications, "SCAN_BATCH", 1)
    online(bob)  # first by pk, and skipped on every scan while he is online
    send(ann, direct, "hi bob")
    cat = make_user("cat")
    other, _ = room_services.direct_room_get_or_create(user=ann, other=cat)
    send(ann, other, "hi cat")
    assert notifications.dm_away_notify() == 1
    assert Notification.objects.get().user == cat


def test_the_scan_ignores_group_rooms_and_quiet_old_rooms(ann, ben, bob, room, direct):
    send(ann, room, "group chatter")
    send(ann, direct, "old news")
    direct.__class__.objects.filter(pk=direct.pk).update(last_message_at=timezone.now() - timedelta(days=2))
    assert notifications.dm_away_notify() == 0


# The list


def test_the_list_is_newest_first_in_keyset_pages_with_the_unread_count(ann, ben, api_as):
    made = [Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann) for _ in range(5)]
    Notification.objects.filter(pk=made[0].pk).update(read_at=timezone.now())
    Notification.objects.create(user=ann, kind=Kind.FRIEND_REQUEST, actor=ben)  # Someone else's.
    client = api_as(ben)

    first = client.get("/api/notifications/", {"limit": 2}).json()
    assert [item["id"] for item in first["results"]] == [made[4].pk, made[3].pk]
    assert first["unread"] == 4
    second = client.get(first["next"]).json()
    assert [item["id"] for item in second["results"]] == [made[2].pk, made[1].pk]
    third = client.get(second["next"]).json()
    assert [item["id"] for item in third["results"]] == [made[0].pk] and third["next"] is None
    assert third["results"][0]["read_at"] is not None


def test_a_page_of_the_list_costs_the_same_queries_for_3_or_60(ann, ben, room, api_as, django_assert_num_queries):
    client = api_as(ben)
    seqs = itertools.count(1)
    for count in (3, 60):
        Notification.objects.all().delete()
        for number in range(count):
            # Stored directly: sixty sends in a row would meet the sending rate limit.
            message = Message.objects.create(
                room=room, author=ann, seq=next(seqs), body=f"@ben {number}", client_id=uuid.uuid4()
            )
            Notification.objects.create(user=ben, kind=Kind.MENTION, actor=ann, room=room, message=message)
        # The person (JWT), the page with actors, rooms and messages, the unread count.
        with django_assert_num_queries(3):
            response = client.get("/api/notifications/", {"limit": 50})
        assert len(response.json()["results"]) == min(count, 50)
        assert response.json()["results"][0]["preview"].startswith("@ben")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "garbage"}, "cursor"),
        ({"cursor": cursor_encode(5).replace("b", "c")}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_the_field(ben, api_as, query, field):
    response = api_as(ben).get("/api/notifications/", query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]


def test_the_list_needs_a_verified_person(api, api_as, make_user):
    assert api.get("/api/notifications/").status_code == 401
    unverified = make_user("newbie", verified=False)
    response = api_as(unverified).get("/api/notifications/")
    assert response.status_code == 403 and response.json()["code"] == "email_not_verified"


# Reading


def test_marking_one_read_lowers_the_count_and_tells_my_sockets(ann, ben, api_as, django_capture_on_commit_callbacks):
    one, two = (Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann) for _ in range(2))
    client = api_as(ben)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/api/notifications/{one.pk}/read/")
    assert response.status_code == 200 and response.json() == {"unread": 1}
    [event] = published(events.user_group(ben.pk), run_all(callbacks))
    assert event == {"type": "notification.read", "unread": 1, "ids": [one.pk]}

    with django_capture_on_commit_callbacks() as again:
        assert client.post(f"/api/notifications/{one.pk}/read/").json() == {"unread": 1}
    assert again == [], "marking it read again announces nothing"


def test_anybody_elses_notification_is_a_404(ann, ben, api_as):
    theirs = Notification.objects.create(user=ann, kind=Kind.FRIEND_REQUEST, actor=ben)
    for target in (theirs.pk, 999999, 10**30):
        response = api_as(ben).post(f"/api/notifications/{target}/read/")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_marking_all_read(ann, ben, api_as, django_capture_on_commit_callbacks):
    for _ in range(3):
        Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    mine_too = Notification.objects.create(user=ann, kind=Kind.FRIEND_REQUEST, actor=ben)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(ben).post("/api/notifications/read/")
    assert response.json() == {"unread": 0, "marked": 3}
    [event] = published(events.user_group(ben.pk), run_all(callbacks))
    assert event == {"type": "notification.read", "unread": 0, "ids": None}
    assert Notification.objects.get(pk=mine_too.pk).read_at is None


def test_the_api_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/notifications/", "/api/notifications/read/", "/api/notifications/{notification_id}/read/"):
        assert path in schema["paths"]
    assert "404" in schema["paths"]["/api/notifications/{notification_id}/read/"]["post"]["responses"]


# The page and the badge


def test_the_page_lists_what_happened_with_links_to_it(ann, ben, room):
    message = send(ann, room, "@ben see this")
    Notification.objects.create(user=ben, kind=Kind.MENTION, actor=ann, room=room, message=message)
    Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    Notification.objects.create(user=ben, kind=Kind.ROOM_INVITE, actor=ann, room=room)
    page = browser_for(ben).get("/notifications/").content.decode()
    assert f'href="/rooms/{room.pk}/?around={message.pk}"' in page and "Ann mentioned you in # Book club" in page
    assert 'href="/friends/"' in page and "Ann sent you a friend request" in page
    assert 'href="/rooms/"' in page and "Ann invited you to # Book club" in page
    assert "data-notification-badge>3</span>" in page


def test_mark_all_read_on_the_page(ann, ben):
    Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    browser = browser_for(ben)
    assert browser.get("/notifications/read/").status_code == 405
    response = browser.post("/notifications/read/")
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert "data-notification-badge hidden>0</span>" in browser.get("/notifications/").content.decode()


def test_the_page_needs_a_verified_person(make_user):
    assert Client().get("/notifications/")["Location"].startswith("/login/")
    assert browser_for(make_user("newbie", verified=False)).get("/notifications/")["Location"] == "/verify/"


def test_the_badge_is_in_every_signed_in_page_header(ann, ben):
    Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    page = browser_for(ben).get("/rooms/").content.decode()
    assert 'href="/notifications/"' in page and "data-notification-badge>1</span>" in page
    assert "js/notifications.js" in page
    assert "data-notification-badge" not in Client().get("/").content.decode()


def test_admin_lists_notifications(admin_browser, ann, ben):
    Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann)
    response = admin_browser.get("/admin/chat/notification/", {"kind__exact": "friend_request"})
    assert response.status_code == 200 and "@ben" in response.content.decode()


# Clean-ups


def test_clean_up_deletes_old_read_notifications_and_long_expired_codes(ann, ben, settings):
    settings.NOTIFICATION_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    stale = Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann, read_at=old)
    unread_old = Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann, created_at=old)
    recent = Notification.objects.create(user=ben, kind=Kind.FRIEND_REQUEST, actor=ann, read_at=timezone.now())
    expired = EmailVerification.objects.create(user=ann, code_hash="x", link_hash="a", expires_at=old)
    fresh = EmailVerification.objects.create(user=ann, code_hash="x", link_hash="b", expires_at=timezone.now())
    assert tasks.notifications_clean_up() == {"notifications": 1, "verifications": 1}
    assert set(Notification.objects.values_list("pk", flat=True)) == {unread_old.pk, recent.pk}
    assert not Notification.objects.filter(pk=stale.pk).exists()
    assert list(EmailVerification.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert expired.pk != fresh.pk


def test_the_beat_schedule_runs_mails_the_away_scan_and_clean_ups():
    from config.celery import app

    app.loader.import_default_modules()  # What a worker does at start: every app's tasks module.
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled >= {
        "chat.tasks.notifications_mail_due",
        "chat.tasks.notifications_dm_away",
        "chat.tasks.notifications_clean_up",
        "chat.tasks.attachments_purge_unsent",
    }
    assert all(name in app.tasks for name in scheduled)


# Live on the socket


@pytest.mark.django_db(transaction=True)
async def test_the_badge_event_reaches_the_persons_socket_and_nobody_elses(ann, ben, room):
    async with connected(ben) as ben_ws, connected(ann) as ann_ws:
        message = await database_sync_to_async(send)(ann, room, "@ben over here")
        await ben_ws.expect("message.new")
        await ann_ws.expect("message.new")
        event = await ben_ws.expect("notification.new")
        assert event["unread"] == 1 and event["notification"]["kind"] == "mention"
        assert event["notification"]["message"] == message.pk and event["notification"]["actor"]["id"] == ann.pk

        await database_sync_to_async(notifications.notifications_mark_all_read)(user=ben)
        assert await ben_ws.expect("notification.read") == {"type": "notification.read", "unread": 0, "ids": None}
        assert await ann_ws.nothing()
