import uuid

import pytest

from chat import services
from chat.models import Message, Reaction
from rooms import services as room_services
from rooms.models import Membership, Room, RoomInvite
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture
def content(make_user):
    ann, ben = make_user("ann"), make_user("ben")
    room = group_room(ann, ben)
    message = services.message_send(author=ann, room_id=room.pk, body="needle in a haystack", client_id=uuid.uuid4())
    services.reaction_add(user=ben, message_id=message.pk, emoji="👍")
    room_services.room_invite(by=ann, room_id=room.pk, user=make_user("cat"))
    return room, message


@pytest.mark.parametrize("model", [Room, Membership, RoomInvite, Message, Reaction])
def test_staff_can_browse_and_open_every_chat_model(admin_browser, content, model):
    opts = model._meta
    listing = admin_browser.get(f"/admin/{opts.app_label}/{opts.model_name}/")
    assert listing.status_code == 200
    change = admin_browser.get(f"/admin/{opts.app_label}/{opts.model_name}/{model.objects.first().pk}/change/")
    assert change.status_code == 200


def test_messages_are_found_by_their_text(admin_browser, content):
    _, message = content
    response = admin_browser.get("/admin/chat/message/", {"q": "needle"})
    assert list(response.context["cl"].result_list) == [message]
    assert list(admin_browser.get("/admin/chat/message/", {"q": "absent"}).context["cl"].result_list) == []


def test_a_room_page_shows_its_members_inline(admin_browser, content):
    room, _ = content
    response = admin_browser.get(f"/admin/rooms/room/{room.pk}/change/")
    assert response.context["inline_admin_formsets"][0].formset.queryset.count() == 2
