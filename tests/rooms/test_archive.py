"""Moderators archive group rooms: read-only for their members, gone from the directory, and back on unarchive."""

import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from accounts.models import ModerationAction
from chat import selectors as chat_selectors
from chat import services as chat_services
from rooms import selectors, services
from rooms.models import Membership
from rooms.selectors import RoomNotVisible
from tests.chat.sockets import connected
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def send(author, room, body="hello"):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


@pytest.fixture
def public_room(ann, ben):
    return group_room(ann, ben, public=True, title="Open talk")


def test_an_archived_room_is_read_only_for_its_members(ann, ben, public_room, moderator, make_user):
    said = send(ann, public_room)
    services.room_archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")

    for write in (
        lambda: send(ben, public_room),
        lambda: chat_services.message_edit(user=ann, message_id=said.pk, body="changed"),
        lambda: chat_services.message_delete(user=ann, message_id=said.pk),
        lambda: chat_services.reaction_add(user=ben, message_id=said.pk, emoji="👍"),
        lambda: services.room_join(user=make_user("newcomer"), room_id=public_room.pk),
        lambda: services.room_invite(by=ann, room_id=public_room.pk, user=make_user("guest")),
        lambda: services.room_update(by=ann, room_id=public_room.pk, title="Renamed"),
        lambda: services.member_set_role(by=ann, room_id=public_room.pk, user_id=ben.pk, role="admin"),
        lambda: services.member_kick(by=ann, room_id=public_room.pk, user_id=ben.pk),
    ):
        with pytest.raises(PermissionDenied):
            write()
    history = chat_selectors.messages_recent(room_id=public_room.pk)
    assert [message.body for message in history] == ["hello"]  # Members still read it.


def test_an_archived_room_leaves_the_directory_and_comes_back_unarchived(ann, public_room, moderator, make_user):
    stranger = make_user("stranger")
    services.room_archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")
    assert list(selectors.public_rooms(viewer=stranger)) == []
    assert selectors.room_visible(user=stranger, room_id=public_room.pk) is None
    assert selectors.room_visible(user=ann, room_id=public_room.pk) == public_room

    services.room_unarchive(moderator=moderator, room_id=public_room.pk)
    assert [room.pk for room in selectors.public_rooms(viewer=stranger)] == [public_room.pk]
    assert send(ann, public_room).seq == 1
    kinds = list(ModerationAction.objects.order_by("id").values_list("kind", "target_room", "reason"))
    assert kinds == [
        (ModerationAction.Kind.ROOM_ARCHIVE, public_room.pk, "Abandoned"),
        (ModerationAction.Kind.ROOM_UNARCHIVE, public_room.pk, ""),
    ]


def test_only_moderators_archive_only_group_rooms_and_always_say_why(ann, bob, direct, public_room, moderator):
    with pytest.raises(PermissionDenied):
        services.room_archive(moderator=ann, room_id=public_room.pk, reason="Mine")  # Its owner is no moderator.
    with pytest.raises(ValidationError):
        services.room_archive(moderator=moderator, room_id=public_room.pk, reason="")
    with pytest.raises(ValidationError):
        services.room_archive(moderator=moderator, room_id=direct.pk, reason="Private talk")
    with pytest.raises(RoomNotVisible):
        services.room_archive(moderator=moderator, room_id=10**9, reason="None")
    assert not ModerationAction.objects.exists()


def test_the_room_page_says_it_is_archived_and_hides_the_composer(ann, public_room, moderator, client):
    services.room_archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")
    client.force_login(ann)
    page = client.get(f"/rooms/{public_room.pk}/").content.decode()
    assert "This room is archived: it is read-only." in page and 'class="room closed"' in page


def test_the_admin_archives_after_asking_why_and_shows_members_inline(ann, ben, public_room, moderator_browser):
    selection = {"action": "archive_rooms", "_selected_action": [public_room.pk]}
    assert b'name="reason"' in moderator_browser.post("/admin/rooms/room/", selection).content
    moderator_browser.post("/admin/rooms/room/", {**selection, "apply": "1", "reason": "Spam ring"})
    public_room.refresh_from_db()
    assert public_room.closed_at is not None

    listing = moderator_browser.get("/admin/rooms/room/", {"archived": "yes"})
    assert [room.pk for room in listing.context["cl"].result_list] == [public_room.pk]
    page = moderator_browser.get(f"/admin/rooms/room/{public_room.pk}/change/")
    members = page.context["inline_admin_formsets"][0].formset.queryset
    assert {membership.user for membership in members} == {ann, ben}


def test_the_settings_page_of_an_archived_room_shows_its_details_read_only(ann, ben, public_room, moderator):
    services.room_archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")
    owner = Client()
    owner.force_login(ann)
    page = owner.get(f"/rooms/{public_room.pk}/settings/").content.decode()
    assert "This room is archived: it is read-only." in page
    for form in ("settings", "invite", f"members/{ben.pk}/role", f"members/{ben.pk}/remove"):
        assert f'action="/rooms/{public_room.pk}/{form}/"' not in page

    refused = owner.post(f"/rooms/{public_room.pk}/settings/", {"title": "Renamed"}, follow=True)
    assert "This room is archived: it is read-only." in refused.content.decode()
    public_room.refresh_from_db()
    assert public_room.title == "Open talk"


def test_an_invitation_to_a_room_archived_since_is_not_listed_and_says_why(ann, public_room, moderator, make_user):
    guest = make_user("guest")
    invite = services.room_invite(by=ann, room_id=public_room.pk, user=guest)
    services.room_archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")
    assert list(selectors.invites_pending(user=guest)) == []

    browser = Client()
    browser.force_login(guest)
    answer = browser.post(f"/rooms/invites/{invite.pk}/accept/", follow=True)
    assert answer.status_code == 200 and answer.redirect_chain == [("/rooms/", 302)]
    assert "This room is archived: it is read-only." in answer.content.decode()
    assert not Membership.objects.filter(room=public_room, user=guest).exists()

    services.room_unarchive(moderator=moderator, room_id=public_room.pk)
    assert list(selectors.invites_pending(user=guest)) == [invite]


@pytest.mark.django_db(transaction=True)
async def test_after_unarchiving_every_open_socket_follows_the_room_again(ann, ben, public_room, moderator):
    archive = database_sync_to_async(services.room_archive)
    async with connected(ben) as before:  # Opened before the archiving: it never stopped following the room.
        await archive(moderator=moderator, room_id=public_room.pk, reason="Abandoned")
        await before.expect("room.updated")
        async with connected(ben) as during:  # Opened while archived: it does not follow the room.
            await database_sync_to_async(services.room_unarchive)(moderator=moderator, room_id=public_room.pk)
            for socket in (before, during):
                assert (await socket.expect("room.updated"))["room"]["closed_at"] is None
                assert await socket.nothing()  # Once, on the person's own group.

            await database_sync_to_async(send)(ann, public_room, "we are back")
            for socket in (before, during):
                assert (await socket.expect("message.new"))["message"]["body"] == "we are back"
