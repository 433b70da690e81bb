"""Each member chooses how much of a room notifies them: all, mentions, or nothing (mute)."""

import pytest
from django.test import Client

from rooms.models import Membership

pytestmark = pytest.mark.django_db


def level_of(user, room) -> str:
    return Membership.objects.get(user=user, room=room).notification_level


def test_a_member_mutes_a_room_through_the_api(ann, ben, room, api_as):
    response = api_as(ben).patch(f"/api/rooms/{room.pk}/membership/", {"notification_level": "nothing"}, format="json")
    assert response.status_code == 200 and response.json()["notification_level"] == "nothing"
    assert level_of(ben, room) == "nothing" and level_of(ann, room) == "all"


def test_an_unknown_level_is_a_400_on_the_field(ben, room, api_as):
    response = api_as(ben).patch(f"/api/rooms/{room.pk}/membership/", {"notification_level": "loud"}, format="json")
    assert response.status_code == 400 and "notification_level" in response.json()["fields"]


def test_someone_outside_the_room_gets_a_404(bob, room, api_as):
    response = api_as(bob).patch(f"/api/rooms/{room.pk}/membership/", {"notification_level": "nothing"}, format="json")
    assert response.status_code == 404


def test_the_room_page_shows_the_choice_and_saves_it(ben, room):
    browser = Client()
    browser.force_login(ben)
    page = browser.get(f"/rooms/{room.pk}/").content.decode()
    assert '<option value="all" selected>' in page and 'name="notification_level"' in page
    response = browser.post(f"/rooms/{room.pk}/notifications/", {"notification_level": "mentions"})
    assert response.status_code == 302 and level_of(ben, room) == "mentions"
    assert '<option value="mentions" selected>' in browser.get(f"/rooms/{room.pk}/").content.decode()


def test_the_page_form_needs_a_csrf_token(ben, room):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ben)
    assert browser.post(f"/rooms/{room.pk}/notifications/", {"notification_level": "nothing"}).status_code == 403
    assert level_of(ben, room) == "all"
