"""Reads for rooms. Each function fetches what its callers serialize, in a fixed number of queries."""

from django.core.exceptions import PermissionDenied
from django.db.models import Case, Exists, F, OuterRef, Prefetch, Q, QuerySet, Value, When

from rooms.models import Membership, Room, RoomInvite

ROLE_ORDER = (Membership.Role.OWNER, Membership.Role.ADMIN, Membership.Role.MEMBER)


class RoomNotVisible(PermissionDenied):
    """The room does not exist for this person. The API answers 404 so private rooms stay unknown."""

    def __init__(self, message: str = "No such room."):
        super().__init__(message)


def membership_access(*, user, room_id: int) -> Membership:
    """The person's membership of the room, with the room; RoomNotVisible for anyone outside it."""
    membership = Membership.objects.select_related("room").filter(user=user, room_id=room_id).first()
    if membership is None:
        raise RoomNotVisible()
    return membership


def room_ids_of_user(*, user_id: int) -> list[int]:
    """Ids of every room the person is in (a socket subscribes to each one's group)."""
    return list(Membership.objects.filter(user_id=user_id).order_by("room_id").values_list("room_id", flat=True))


def memberships_of_user(*, user) -> QuerySet[Membership]:
    """The person's rooms, most recently active first, each with the other person of a direct room.

    Two queries whatever the number of rooms: memberships with their rooms, then direct peers.
    """
    peers = Membership.objects.filter(room__kind=Room.Kind.DIRECT).exclude(user=user).select_related("user")
    return (
        Membership.objects.filter(user=user)
        .select_related("room")
        .prefetch_related(Prefetch("room__memberships", queryset=peers, to_attr="peers"))
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at", "-room_id")
    )


def room_visible(*, user, room_id: int) -> Room | None:
    """A room the person is in, or any public group room (which anyone may look at and join)."""
    is_member = Exists(Membership.objects.filter(room=OuterRef("pk"), user=user))
    return Room.objects.filter(Q(is_member) | Q(kind=Room.Kind.GROUP, is_public=True), pk=room_id).first()


def room_detail(*, user, room_id: int) -> Room | None:
    """A visible room with its members (owners first) in `member_list`: two queries."""
    room = room_visible(user=user, room_id=room_id)
    if room is not None:
        room.member_list = list(room_members(room_id=room.pk))
    return room


def room_members(*, room_id: int) -> QuerySet[Membership]:
    rank = Case(*(When(role=role, then=Value(order)) for order, role in enumerate(ROLE_ORDER)))
    return Membership.objects.filter(room_id=room_id).select_related("user").order_by(rank, "joined_at", "id")


def owners_remaining(*, room_id: int, excluding_user_id: int | None = None) -> int:
    owners = Membership.objects.filter(room_id=room_id, role=Membership.Role.OWNER)
    if excluding_user_id is not None:
        owners = owners.exclude(user_id=excluding_user_id)
    return owners.count()


def longest_standing_member(*, room_id: int, excluding_user_id: int) -> Membership | None:
    return (
        Membership.objects.filter(room_id=room_id)
        .exclude(user_id=excluding_user_id)
        .select_related("user")
        .order_by("joined_at", "id")
        .first()
    )


def invites_pending(*, user) -> QuerySet[RoomInvite]:
    return (
        RoomInvite.objects.filter(user=user, accepted_at__isnull=True)
        .select_related("room", "invited_by")
        .order_by("-created_at", "-id")
    )
