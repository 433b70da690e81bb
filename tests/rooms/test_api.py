import pytest
from django.utils import timezone

from rooms import services
from rooms.models import Room, RoomInvite
from tests.rooms.factories import group_room, role_of

pytestmark = pytest.mark.django_db


def test_my_rooms_come_most_recently_active_first_with_my_membership(ann, ben, api_as):
    quiet = group_room(ann, title="Quiet")
    busy = group_room(ann, ben, title="Busy")
    Room.objects.filter(pk=busy.pk).update(last_message_at=timezone.now(), last_seq=3)
    direct, _ = services.direct_room_get_or_create(user=ann, other=ben)

    response = api_as(ann).get("/api/rooms/")

    assert response.status_code == 200
    rooms = response.json()
    assert [item["room"]["id"] for item in rooms] == [busy.pk, direct.pk, quiet.pk]
    first = rooms[0]
    assert first["membership"] == {"role": "owner", "last_read_seq": 0, "notification_level": "all"}
    assert first["unread"] == 3 and first["peer"] is None
    assert rooms[1]["peer"]["handle"] == "ben"


def test_creating_a_group_room(ann, api_as):
    response = api_as(ann).post("/api/rooms/", {"title": "Poetry", "is_public": True}, format="json")
    assert response.status_code == 201
    assert (response.data["title"], response.data["kind"], response.data["is_public"]) == ("Poetry", "group", True)
    assert role_of(Room.objects.get(pk=response.data["id"]), ann) == "owner"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "title"), ({"title": "x" * 81}, "title"), ({"title": "ok", "is_public": "maybe"}, "is_public")],
)
def test_bad_room_input_answers_400_with_the_field(ann, api_as, body, field):
    response = api_as(ann).post("/api/rooms/", body, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "invalid" and field in response.data["fields"]


def test_unverified_people_get_nothing(make_user, api_as):
    assert api_as(make_user(verified=False)).get("/api/rooms/").status_code == 403


def test_a_private_room_looks_exactly_like_a_missing_one_to_outsiders(ann, ben, api_as):
    private = group_room(ann)
    client = api_as(ben)
    for path in ("/api/rooms/{}/", "/api/rooms/{}/members/", "/api/rooms/{}/messages/"):
        hidden, missing = client.get(path.format(private.pk)), client.get(path.format(999_999))
        assert hidden.status_code == missing.status_code == 404
        assert hidden.data == missing.data


def test_room_detail_lists_members_owners_first(ann, ben, make_user, api_as):
    room = group_room(ann, ben, admins=[make_user("cat")])
    response = api_as(ben).get(f"/api/rooms/{room.pk}/")
    assert response.status_code == 200
    assert [(member["user"]["handle"], member["role"]) for member in response.data["members"]] == [
        ("ann", "owner"),
        ("cat", "admin"),
        ("ben", "member"),
    ]


def test_a_public_room_can_be_looked_at_and_joined(ann, ben, api_as):
    room = group_room(ann, public=True)
    client = api_as(ben)
    assert client.get(f"/api/rooms/{room.pk}/").status_code == 200
    joined = client.post(f"/api/rooms/{room.pk}/members/", {}, format="json")
    assert joined.status_code == 200 and joined.data["role"] == "member"
    assert role_of(room, ben) == "member"


def test_joining_a_private_room_is_404(ann, ben, api_as):
    room = group_room(ann)
    assert api_as(ben).post(f"/api/rooms/{room.pk}/members/", {}, format="json").status_code == 404


def test_owners_and_admins_change_a_room_members_may_not(ann, ben, api_as):
    room = group_room(ann, ben)
    assert api_as(ben).patch(f"/api/rooms/{room.pk}/", {"title": "Mine"}, format="json").status_code == 403
    response = api_as(ann).patch(f"/api/rooms/{room.pk}/", {"title": "Poems", "category": "books"}, format="json")
    assert response.status_code == 200 and (response.data["title"], response.data["category"]) == ("Poems", "books")
    bad = api_as(ann).patch(f"/api/rooms/{room.pk}/", {"title": ""}, format="json")
    assert bad.status_code == 400 and "title" in bad.data["fields"]


def test_inviting_then_accepting(ann, ben, api_as):
    room = group_room(ann)
    invited = api_as(ann).post(f"/api/rooms/{room.pk}/members/", {"user": ben.pk}, format="json")
    assert invited.status_code == 201 and invited.data["room"]["id"] == room.pk

    mine = api_as(ben).get("/api/invites/")
    assert [invite["id"] for invite in mine.data] == [invited.data["id"]]
    assert mine.data[0]["invited_by"]["handle"] == "ann"

    accepted = api_as(ben).post(f"/api/invites/{invited.data['id']}/accept/")
    assert accepted.status_code == 200 and accepted.data["membership"]["role"] == "member"
    assert api_as(ben).get("/api/invites/").data == []
    assert RoomInvite.objects.get().accepted_at is not None


def test_inviting_a_member_or_nobody_is_a_400(ann, ben, api_as):
    room = group_room(ann, ben)
    client = api_as(ann)
    for user_id in (ben.pk, 999_999):
        response = client.post(f"/api/rooms/{room.pk}/members/", {"user": user_id}, format="json")
        assert response.status_code == 400 and "user" in response.data["fields"]


def test_invitations_past_the_burst_are_429_and_store_nothing(ann, ben, make_user, api_as, settings):
    settings.ROOM_INVITE_RATE_BURST, settings.ROOM_INVITE_RATE_PER_HOUR = 1, 1
    room = group_room(ann)
    client = api_as(ann)
    assert client.post(f"/api/rooms/{room.pk}/members/", {"user": ben.pk}, format="json").status_code == 201
    cat = make_user("cat")
    refused = client.post(f"/api/rooms/{room.pk}/members/", {"user": cat.pk}, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 3000 < int(refused["Retry-After"]) <= 3601
    assert not RoomInvite.objects.filter(user=cat).exists()


def test_accepting_someone_elses_invitation_is_404(ann, ben, make_user, api_as):
    invite = services.room_invite(by=ann, room_id=group_room(ann).pk, user=ben)
    assert api_as(make_user()).post(f"/api/invites/{invite.pk}/accept/").status_code == 404


def test_deleting_my_own_membership_leaves_deleting_another_removes(ann, ben, make_user, api_as):
    cat = make_user("cat")
    room = group_room(ann, ben, cat)
    assert api_as(ben).delete(f"/api/rooms/{room.pk}/members/{cat.pk}/").status_code == 403
    assert api_as(ann).delete(f"/api/rooms/{room.pk}/members/{cat.pk}/").status_code == 204
    assert api_as(ben).delete(f"/api/rooms/{room.pk}/members/{ben.pk}/").status_code == 204
    assert (role_of(room, ben), role_of(room, cat)) == (None, None)
    assert api_as(ann).delete(f"/api/rooms/{room.pk}/members/{cat.pk}/").status_code == 404


def test_changing_a_role(ann, ben, api_as):
    room = group_room(ann, ben)
    response = api_as(ann).patch(f"/api/rooms/{room.pk}/members/{ben.pk}/", {"role": "admin"}, format="json")
    assert response.status_code == 200 and response.data["role"] == "admin"
    bad = api_as(ann).patch(f"/api/rooms/{room.pk}/members/{ben.pk}/", {"role": "king"}, format="json")
    assert bad.status_code == 400 and "role" in bad.data["fields"]


def test_transferring_ownership(ann, ben, api_as):
    room = group_room(ann, ben)
    response = api_as(ann).post(f"/api/rooms/{room.pk}/transfer/", {"user": ben.pk}, format="json")
    assert response.status_code == 200 and response.data["role"] == "owner"
    assert role_of(room, ann) == "admin"
    assert api_as(ann).post(f"/api/rooms/{room.pk}/transfer/", {"user": ann.pk}, format="json").status_code == 403


def test_opening_a_direct_room_is_201_then_200(ann, ben, api_as):
    created = api_as(ann).post("/api/rooms/direct/", {"user": ben.pk}, format="json")
    again = api_as(ben).post("/api/rooms/direct/", {"user": ann.pk}, format="json")
    assert (created.status_code, again.status_code) == (201, 200)
    assert created.data["id"] == again.data["id"] and created.data["kind"] == "direct"


@pytest.mark.parametrize("target", ["self", "missing", "unverified"])
def test_a_direct_room_with_an_impossible_person_is_a_400(ann, make_user, api_as, target):
    user_id = {"self": ann.pk, "missing": 999_999, "unverified": None}[target] or make_user(verified=False).pk
    response = api_as(ann).post("/api/rooms/direct/", {"user": user_id}, format="json")
    assert response.status_code == 400 and "user" in response.data["fields"]
