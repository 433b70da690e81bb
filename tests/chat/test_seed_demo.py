"""`manage.py seed_demo`: a demo a newcomer can log into, created once however often it runs."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Friendship, User
from chat.demo import DEMO_PASSWORD
from chat.models import Message, Notification, Reaction
from rooms.models import Membership, Room, RoomInvite

pytestmark = pytest.mark.django_db(transaction=True)  # The services' on_commit work runs, as for real.
TABLES = (User, Friendship, Room, Membership, RoomInvite, Message, Reaction, Notification)


def seed() -> str:
    out = StringIO()
    # pytest-django runs with DEBUG=False, as production does.
    call_command("seed_demo", "--even-with-debug-off", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def test_the_demo_has_people_friends_rooms_and_conversations():
    output = seed()
    assert "Created 6 people, 5 friendships, 6 rooms, 17 messages." in output
    assert User.objects.filter(email_verified_at__isnull=False).count() == 6
    assert Friendship.objects.count() == 10  # Five friendships, one row per direction.
    public = Room.objects.filter(kind="group", is_public=True)
    assert set(public.values_list("category", flat=True)) == {"Community", "Hobbies", "Programming"}
    assert Room.objects.filter(kind="group", is_public=False).count() == 1
    assert Room.objects.filter(kind="direct").count() == 2
    general = Room.objects.get(title="General")
    assert list(general.messages.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 5]
    assert general.messages.filter(reply_to__isnull=False).count() == 2
    assert Reaction.objects.count() == 3
    # The mention of @alan went through the real notification path.
    assert Notification.objects.filter(user__handle="alan", kind="mention").exists()


def test_running_it_again_creates_nothing_new():
    seed()
    before = counts()
    output = seed()
    assert "nothing new was created" in output
    assert counts() == before


def test_it_prints_logins_that_work():
    output = seed()
    assert f"password: {DEMO_PASSWORD}" in output
    email = "ada@demo.parley.localhost"
    assert email in output
    browser = Client()
    response = browser.post("/login/", {"username": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert browser.get("/rooms/").context["user"].handle == "ada"


def test_a_real_person_s_handle_is_not_taken_over(make_user):
    make_user("ada")
    with pytest.raises(CommandError, match="@ada belongs to someone who is not a demo person"):
        seed()


def test_it_refuses_a_production_like_installation_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is False"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    assert User.objects.count() == 6
