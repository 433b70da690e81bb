"""Moderators remove messages: the text leaves every payload, search and page; members see why."""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ModerationAction
from chat import services
from chat.models import Attachment, Message, Notification, Reaction
from rooms.models import Room
from tests.chat.attachments import upload_id
from tests.chat.sockets import connected

pytestmark = pytest.mark.django_db


def send(author, room, body, **extra) -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4(), **extra)


def history(client, room) -> list[dict]:
    return client.get(f"/api/rooms/{room.pk}/messages/").json()["results"]


def test_a_removed_message_keeps_its_place_but_loses_its_text_files_and_reactions(
    ann, ben, room, moderator, api_as, django_capture_on_commit_callbacks
):
    file_id = upload_id(api_as(ann))
    with django_capture_on_commit_callbacks(execute=True):  # The mention's notification.
        said = send(ann, room, "buy cheap pills @ben", attachment_ids=[file_id])
    services.reaction_add(user=ben, message_id=said.pk, emoji="👍")

    services.message_remove(moderator=moderator, message_id=said.pk, reason="Spam")

    [payload] = history(api_as(ben), room)
    assert payload["seq"] == said.seq and payload["deleted"] and payload["removal_reason"] == "Spam"
    assert (payload["body"], payload["attachments"], payload["reactions"], payload["preview"]) == ("", [], [], None)
    assert not Attachment.objects.filter(pk=file_id).exists() and not Reaction.objects.exists()
    assert api_as(ben).get("/api/search/", {"q": "pills"}).json()["results"] == []
    mention = Notification.objects.get(user=ben, kind=Notification.Kind.MENTION)
    assert api_as(ben).get("/api/notifications/").json()["results"][0]["preview"] == ""
    assert mention.message_id == said.pk


def test_a_members_own_delete_has_no_removal_reason(ann, room, api_as):
    said = send(ann, room, "oops")
    services.message_delete(user=ann, message_id=said.pk)
    [payload] = history(api_as(ann), room)
    assert payload["deleted"] and payload["removal_reason"] is None


def test_the_room_page_shows_who_removed_it_and_why(ann, ben, room, moderator, client):
    said = send(ann, room, "something awful")
    services.message_remove(moderator=moderator, message_id=said.pk, reason="Harassment")
    client.force_login(ben)
    page = client.get(f"/rooms/{room.pk}/").content.decode()
    assert "Removed by a moderator: Harassment" in page and "something awful" not in page


def test_the_removal_is_logged_with_the_text_and_who_did_it(ann, room, moderator):
    said = send(ann, room, "the evidence")
    services.message_remove(moderator=moderator, message_id=said.pk, reason="Spam")
    services.message_remove(moderator=moderator, message_id=said.pk, reason="Again")  # Changes nothing.

    [entry] = ModerationAction.objects.all()
    assert (entry.kind, entry.moderator, entry.reason) == (ModerationAction.Kind.MESSAGE_REMOVE, moderator, "Spam")
    assert (entry.target_message_id, entry.target_user, entry.target_room_id) == (said.pk, ann, room.pk)
    assert entry.target_label == "the evidence"
    assert Message.objects.get(pk=said.pk).removal_reason == "Spam"


def test_moderators_remove_in_ended_chats_too(ann, room, moderator):
    said = send(ann, room, "said before the end")
    Room.objects.filter(pk=room.pk).update(closed_at=timezone.now())
    assert services.message_remove(moderator=moderator, message_id=said.pk, reason="Spam").is_removed


def test_only_moderators_remove_and_always_with_a_reason(ann, ben, room, moderator, make_user):
    said = send(ann, room, "hello")
    room_owner = ann  # Owners delete messages of their room, but do not moderate the site.
    for person in (room_owner, make_user("staffer", is_staff=True)):
        with pytest.raises(PermissionDenied):
            services.message_remove(moderator=person, message_id=said.pk, reason="Spam")
    with pytest.raises(ValidationError) as refused:
        services.message_remove(moderator=moderator, message_id=said.pk, reason="   ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.message_remove(moderator=moderator, message_id=10**9, reason="Spam")
    assert not Message.objects.get(pk=said.pk).is_deleted and not ModerationAction.objects.exists()


# The admin


def test_the_admin_removes_selected_messages_after_asking_why(ann, room, moderator_browser):
    first, second = send(ann, room, "one"), send(ann, room, "two")
    selection = {"action": "remove_messages", "_selected_action": [first.pk, second.pk]}

    asked = moderator_browser.post("/admin/chat/message/", selection)
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    refused = moderator_browser.post("/admin/chat/message/", {**selection, "apply": "1", "reason": ""})
    assert b"This field is required" in refused.content
    assert not Message.objects.filter(deleted_at__isnull=False).exists()

    done = moderator_browser.post("/admin/chat/message/", {**selection, "apply": "1", "reason": "Spam"})
    assert done.status_code == 302
    assert set(Message.objects.values_list("removal_reason", flat=True)) == {"Spam"}
    assert ModerationAction.objects.filter(kind=ModerationAction.Kind.MESSAGE_REMOVE).count() == 2


def test_the_admin_filters_messages_by_room_author_and_state(ann, ben, bob, room, moderator, moderator_browser):
    from tests.rooms.factories import group_room

    other = group_room(bob, ann, title="Elsewhere")
    in_room, by_ben, elsewhere = send(ann, room, "a"), send(ben, room, "b"), send(ann, other, "c")
    services.message_remove(moderator=moderator, message_id=by_ben.pk, reason="Spam")

    def listed(**params) -> set[int]:
        response = moderator_browser.get("/admin/chat/message/", params)
        assert response.status_code == 200
        return {message.pk for message in response.context["cl"].result_list}

    assert listed(room=str(room.pk)) == {in_room.pk, by_ben.pk}
    assert listed(author="@BEN") == {by_ben.pk}
    assert listed(author="ann", room=str(other.pk)) == {elsewhere.pk}
    assert listed(state="removed") == {by_ben.pk}
    assert listed(room="not a number") == set()
    assert listed(room="²") == set()  # A digit to str.isdigit(), not to int().
    assert listed(room="9" * 30) == set()  # Beyond bigint.


def test_the_admin_search_reads_the_indexed_search_vector(ann, room, admin_browser):
    hit = send(ann, room, "The needle is here")
    send(ann, room, "needles are not needle-less")  # 'needles' is another word: no stemming.
    send(ann, room, "nothing to see")
    with CaptureQueriesContext(connection) as queries:
        response = admin_browser.get("/admin/chat/message/", {"q": "needle here"})
    assert [message.pk for message in response.context["cl"].result_list] == [hit.pk]
    listing = next(query["sql"] for query in queries if query["sql"].startswith('SELECT "chat_message"."id"'))
    if connection.vendor == "postgresql":
        assert '"search_vector" @@' in listing and "LIKE" not in listing


def test_the_message_list_costs_the_same_queries_for_5_or_50_messages(ann, ben, room, admin_browser, settings):
    settings.MESSAGE_RATE_BURST = 1000

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_browser.get("/admin/chat/message/").status_code == 200
        return len(queries)

    for number in range(5):
        send(ann if number % 2 else ben, room, f"message {number}")
    few = queries_for_list()
    for number in range(45):
        send(ann if number % 2 else ben, room, f"more {number}")
    assert queries_for_list() == few


@pytest.mark.django_db(transaction=True)
async def test_members_see_the_removal_live_with_its_reason(ann, ben, room, moderator):
    said = await database_sync_to_async(send)(ann, room, "something awful")
    async with connected(ben) as ben_ws:
        await database_sync_to_async(services.message_remove)(moderator=moderator, message_id=said.pk, reason="Abuse")
        event = await ben_ws.expect("message.deleted")
    message = event["message"]
    assert (message["id"], message["deleted"], message["body"], message["removal_reason"]) == (
        said.pk,
        True,
        "",
        "Abuse",
    )
