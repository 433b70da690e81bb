import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from chat import events
from rooms import services
from rooms.models import Membership, Room, RoomInvite
from rooms.selectors import RoomNotVisible
from tests.chat.realtime import published, run_all
from tests.rooms.factories import group_room, role_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    return [make_user(name) for name in ("ann", "ben", "cat", "dan")]


# Creating


def test_the_creator_of_a_group_room_owns_it(people):
    ann = people[0]
    room = services.room_create_group(creator=ann, title="  Book club  ", description="Books", is_public=True)
    assert (room.kind, room.title, room.is_public, room.creator) == ("group", "Book club", True, ann)
    assert role_of(room, ann) == "owner"


@pytest.mark.parametrize(("title", "field"), [("   ", "title"), ("x" * 81, "title")])
def test_a_group_room_needs_a_sensible_title(people, title, field):
    with pytest.raises(ValidationError) as caught:
        services.room_create_group(creator=people[0], title=title)
    assert field in caught.value.message_dict
    assert not Room.objects.exists()


def test_unverified_people_cannot_create_rooms(make_user):
    with pytest.raises(PermissionDenied):
        services.room_create_group(creator=make_user(verified=False), title="Nope")


# Direct rooms


def test_two_people_share_one_direct_room_whoever_opens_it(people):
    ann, ben = people[:2]
    room, created = services.direct_room_get_or_create(user=ann, other=ben)
    again, created_again = services.direct_room_get_or_create(user=ben, other=ann)
    assert (created, created_again) == (True, False)
    assert again == room
    assert room.kind == "direct" and room.direct_key == f"{min(ann.pk, ben.pk)}:{max(ann.pk, ben.pk)}"
    assert set(room.memberships.values_list("user", flat=True)) == {ann.pk, ben.pk}


def test_nobody_opens_a_direct_room_with_themselves(people):
    with pytest.raises(ValidationError) as caught:
        services.direct_room_get_or_create(user=people[0], other=people[0])
    assert "user" in caught.value.message_dict


@pytest.mark.parametrize("state", [{"verified": False}, {"is_active": False}])
def test_unverified_or_inactive_people_cannot_be_messaged(people, make_user, state):
    with pytest.raises(ValidationError) as caught:
        services.direct_room_get_or_create(user=people[0], other=make_user(**state))
    assert "user" in caught.value.message_dict
    assert not Room.objects.exists()


def test_a_direct_room_cannot_be_left(people):
    room, _ = services.direct_room_get_or_create(user=people[0], other=people[1])
    with pytest.raises(ValidationError):
        services.room_leave(user=people[0], room_id=room.pk)


def test_a_new_direct_room_is_announced_to_both_people(people, django_capture_on_commit_callbacks):
    ann, ben = people[:2]
    with django_capture_on_commit_callbacks() as callbacks:
        room, _ = services.direct_room_get_or_create(user=ann, other=ben)
    received = published([events.user_group(ann.pk), events.user_group(ben.pk)], run_all(callbacks), expect=2)
    assert sorted(event["member"]["user"]["id"] for event in received) == sorted([ann.pk, ben.pk])
    assert {(event["type"], event["room"]) for event in received} == {("member.joined", room.pk)}


# Joining and invitations


def test_anyone_verified_joins_a_public_group_once(people):
    ann, ben = people[:2]
    room = group_room(ann, public=True)
    first = services.room_join(user=ben, room_id=room.pk)
    second = services.room_join(user=ben, room_id=room.pk)
    assert first == second and first.role == "member"


def test_private_and_direct_rooms_cannot_be_joined_and_look_absent(people):
    ann, ben, cat = people[:3]
    private = group_room(ann)
    direct, _ = services.direct_room_get_or_create(user=ann, other=ben)
    for room_id in (private.pk, direct.pk, 999_999):
        with pytest.raises(RoomNotVisible):
            services.room_join(user=cat, room_id=room_id)
    assert not Membership.objects.filter(user=cat).exists()


def test_joining_announces_the_member_to_the_room_and_to_their_own_sockets(people, django_capture_on_commit_callbacks):
    ann, ben = people[:2]
    room = group_room(ann, public=True)
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_join(user=ben, room_id=room.pk)
    in_room = published(events.room_group(room.pk), run_all(callbacks))
    to_ben = published(events.user_group(ben.pk), run_all(callbacks))
    assert in_room == to_ben
    assert in_room[0]["type"] == "member.joined"
    assert in_room[0]["room"] == room.pk
    assert in_room[0]["member"]["user"]["handle"] == "ben" and in_room[0]["member"]["role"] == "member"


def test_only_owners_and_admins_invite_into_a_private_room(people):
    ann, ben, cat, dan = people
    room = group_room(ann, ben, admins=[cat])
    with pytest.raises(PermissionDenied):
        services.room_invite(by=ben, room_id=room.pk, user=dan)
    invite = services.room_invite(by=cat, room_id=room.pk, user=dan)
    assert services.room_invite(by=ann, room_id=room.pk, user=dan) == invite
    assert RoomInvite.objects.count() == 1


def test_any_member_invites_into_a_public_room(people):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, public=True)
    assert services.room_invite(by=ben, room_id=room.pk, user=cat).invited_by == ben


def test_invitations_to_members_or_unverified_people_are_refused(people, make_user):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    for person in (ben, make_user(verified=False)):
        with pytest.raises(ValidationError) as caught:
            services.room_invite(by=ann, room_id=room.pk, user=person)
        assert "user" in caught.value.message_dict


@pytest.mark.parametrize("blocker", ["inviter", "invited"])
def test_invitations_across_a_block_are_refused_like_any_unavailable_person(people, blocker):
    from accounts import services as account_services

    ann, ben = people[:2]
    room = group_room(ann)
    first, second = (ann, ben) if blocker == "inviter" else (ben, ann)
    account_services.block_create(blocker=first, blocked=second)
    with pytest.raises(ValidationError) as caught:
        services.room_invite(by=ann, room_id=room.pk, user=ben)
    assert caught.value.message_dict == {"user": ["This person cannot be invited."]}
    assert not RoomInvite.objects.exists()


def test_outsiders_cannot_invite_into_a_private_room(people):
    ann, ben, cat = people[:3]
    room = group_room(ann)
    with pytest.raises(RoomNotVisible):
        services.room_invite(by=ben, room_id=room.pk, user=cat)


def test_an_accepted_invitation_makes_a_member(people, django_capture_on_commit_callbacks):
    ann, ben = people[:2]
    room = group_room(ann)
    with django_capture_on_commit_callbacks() as callbacks:
        invite = services.room_invite(by=ann, room_id=room.pk, user=ben)
    received = published(events.user_group(ben.pk), run_all(callbacks))
    assert received[0]["type"] == "room.invited"
    assert received[0]["invite"]["id"] == invite.pk and received[0]["invite"]["room"]["id"] == room.pk

    membership = services.invite_accept(user=ben, invite_id=invite.pk)
    assert membership.role == "member"
    invite.refresh_from_db()
    assert invite.accepted_at is not None
    with pytest.raises(RoomNotVisible):
        services.invite_accept(user=ben, invite_id=invite.pk)


def test_only_the_invited_person_can_accept(people):
    ann, ben, cat = people[:3]
    invite = services.room_invite(by=ann, room_id=group_room(ann).pk, user=ben)
    with pytest.raises(RoomNotVisible):
        services.invite_accept(user=cat, invite_id=invite.pk)


def test_joining_a_public_room_settles_a_pending_invitation(people):
    ann, ben = people[:2]
    room = group_room(ann, public=True)
    invite = services.room_invite(by=ann, room_id=room.pk, user=ben)
    services.room_join(user=ben, room_id=room.pk)
    invite.refresh_from_db()
    assert invite.accepted_at is not None


# Leaving: a room with members always has an owner


def test_when_the_last_owner_leaves_the_longest_standing_member_owns_the_room(people):
    ann, ben, cat, dan = people
    room = group_room(ann, ben, cat, admins=[dan])  # ben joined first, dan (an admin) last
    services.room_leave(user=ann, room_id=room.pk)
    assert [role_of(room, person) for person in (ann, ben, cat, dan)] == [None, "owner", "member", "admin"]


def test_an_owner_leaving_with_another_owner_present_promotes_nobody(people):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, cat)
    services.member_set_role(by=ann, room_id=room.pk, user_id=cat.pk, role="owner")
    services.room_leave(user=ann, room_id=room.pk)
    assert (role_of(room, ben), role_of(room, cat)) == ("member", "owner")


def test_an_emptied_group_room_is_kept_and_the_next_person_in_owns_it(people):
    ann, ben = people[:2]
    room = group_room(ann, public=True)
    services.room_leave(user=ann, room_id=room.pk)
    assert Room.objects.filter(pk=room.pk).exists() and not room.memberships.exists()
    assert services.room_join(user=ben, room_id=room.pk).role == "owner"


def test_leaving_tells_the_persons_own_sockets_which_room_to_drop(people, django_capture_on_commit_callbacks):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_leave(user=ann, room_id=room.pk)
    to_ann = published(events.user_group(ann.pk), run_all(callbacks))
    assert to_ann == [{"type": "member.left", "room": room.pk, "user": ann.pk, "kicked": False, "by": None}]
    in_room = published(events.room_group(room.pk), run_all(callbacks), expect=2)
    assert [event["type"] for event in in_room] == ["member.left", "member.updated"]
    assert in_room[1]["member"]["user"]["id"] == ben.pk and in_room[1]["member"]["role"] == "owner"


def test_outsiders_cannot_leave(people):
    with pytest.raises(RoomNotVisible):
        services.room_leave(user=people[1], room_id=group_room(people[0]).pk)


# Kicking and roles


def test_admins_remove_members_but_not_owners(people):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, admins=[cat])
    services.member_kick(by=cat, room_id=room.pk, user_id=ben.pk)
    assert role_of(room, ben) is None
    with pytest.raises(PermissionDenied):
        services.member_kick(by=cat, room_id=room.pk, user_id=ann.pk)
    assert role_of(room, ann) == "owner"


def test_members_remove_nobody(people):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, cat)
    with pytest.raises(PermissionDenied):
        services.member_kick(by=ben, room_id=room.pk, user_id=cat.pk)


def test_removing_yourself_or_a_stranger_is_refused(people):
    ann, _, _, dan = people
    room = group_room(ann)
    with pytest.raises(ValidationError):
        services.member_kick(by=ann, room_id=room.pk, user_id=ann.pk)
    with pytest.raises(RoomNotVisible):
        services.member_kick(by=ann, room_id=room.pk, user_id=dan.pk)


def test_a_removed_person_is_told_on_their_own_group(people, django_capture_on_commit_callbacks):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    with django_capture_on_commit_callbacks() as callbacks:
        services.member_kick(by=ann, room_id=room.pk, user_id=ben.pk)
    to_ben = published(events.user_group(ben.pk), run_all(callbacks))
    assert to_ben == [{"type": "member.left", "room": room.pk, "user": ben.pk, "kicked": True, "by": ann.pk}]


def test_only_owners_change_roles(people):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, admins=[cat])
    assert services.member_set_role(by=ann, room_id=room.pk, user_id=ben.pk, role="admin").role == "admin"
    with pytest.raises(PermissionDenied):
        services.member_set_role(by=cat, room_id=room.pk, user_id=ben.pk, role="member")
    assert services.member_set_role(by=ann, room_id=room.pk, user_id=cat.pk, role="member").role == "member"


def test_the_only_owner_cannot_be_demoted(people):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    with pytest.raises(ValidationError) as caught:
        services.member_set_role(by=ann, room_id=room.pk, user_id=ann.pk, role="member")
    assert "role" in caught.value.message_dict
    assert role_of(room, ann) == "owner"


def test_an_unknown_role_is_refused(people):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    with pytest.raises(ValidationError) as caught:
        services.member_set_role(by=ann, room_id=room.pk, user_id=ben.pk, role="king")
    assert "role" in caught.value.message_dict


def test_ownership_transfer_leaves_the_old_owner_an_admin(people):
    ann, ben = people[:2]
    room = group_room(ann, ben)
    services.ownership_transfer(by=ann, room_id=room.pk, user_id=ben.pk)
    assert (role_of(room, ann), role_of(room, ben)) == ("admin", "owner")
    with pytest.raises(PermissionDenied):
        services.ownership_transfer(by=ann, room_id=room.pk, user_id=ben.pk)


# Settings


def test_owners_and_admins_change_a_room_and_everyone_in_it_hears(people, django_capture_on_commit_callbacks):
    ann, ben, cat = people[:3]
    room = group_room(ann, ben, admins=[cat])
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_update(by=cat, room_id=room.pk, title="Poetry", is_public=True)
    received = published(events.room_group(room.pk), run_all(callbacks))
    assert received[0]["type"] == "room.updated"
    assert (received[0]["room"]["title"], received[0]["room"]["is_public"]) == ("Poetry", True)
    with pytest.raises(PermissionDenied):
        services.room_update(by=ben, room_id=room.pk, title="Mine")


def test_an_update_that_changes_nothing_announces_nothing(people, django_capture_on_commit_callbacks):
    room = group_room(people[0])
    with django_capture_on_commit_callbacks() as callbacks:
        services.room_update(by=people[0], room_id=room.pk, title="Book club")
    assert callbacks == []


@pytest.mark.parametrize(
    ("changes", "field"), [({"title": ""}, "title"), ({"kind": "direct"}, "kind"), ({"category": "x" * 41}, "category")]
)
def test_room_updates_are_validated(people, changes, field):
    room = group_room(people[0])
    with pytest.raises(ValidationError) as caught:
        services.room_update(by=people[0], room_id=room.pk, **changes)
    assert field in caught.value.message_dict


def test_nothing_is_announced_when_the_transaction_rolls_back(people, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        services.room_create_group(creator=people[0], title="Doomed")
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert not Room.objects.exists()
