"""Writes for rooms: creating them, who is in them, and in which role.

Every change of membership locks the room row first. That serializes joins, leaves, kicks and
role changes of one room, which is what keeps "a room with members always has an owner" true
under concurrency. Each change announces itself on commit through chat.events.
"""

from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ModerationAction, Report, User
from accounts.moderation import action_record, reason_clean, require_moderator
from accounts.selectors import blocked_between, dm_allowed, dm_is_request
from chat import events, limits
from rooms import selectors
from rooms.models import Membership, Room, RoomInvite
from rooms.selectors import RoomNotVisible

GROUP_FIELDS = ("title", "description", "category", "is_public")
Role = Membership.Role


# Shared checks


def require_verified(user) -> None:
    if not (user.is_active and user.is_verified):
        raise PermissionDenied("Verify your e-mail address first.")


def room_lock(*, room_id: int) -> Room:
    """The room row locked until commit (FOR NO KEY UPDATE: it does not block inserts referencing it)."""
    room = Room.objects.select_for_update(no_key=True).filter(pk=room_id).first()
    if room is None:
        raise RoomNotVisible()
    return room


def room_seq_next(*, room_id: int, now) -> int:
    """Take the room's next message seq: locks the row until commit, in one statement.

    One UPDATE ... RETURNING instead of SELECT FOR UPDATE then UPDATE: every message pays for
    this, and concurrent senders to the room wait on this row lock (PostgreSQL, SQLite 3.35+).
    """
    table = connection.ops.quote_name(Room._meta.db_table)  # The only interpolation: our own table.
    sql = f"UPDATE {table} SET last_seq = last_seq + 1, last_message_at = %s WHERE id = %s RETURNING last_seq"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), room_id])
        row = cursor.fetchone()
    if row is None:
        raise RoomNotVisible()
    return row[0]


def _membership(*, room: Room, user_id: int) -> Membership | None:
    return Membership.objects.select_related("user").filter(room=room, user_id=user_id).first()


def _member_of(*, room: Room, user) -> Membership:
    membership = _membership(room=room, user_id=user.pk)
    if membership is None:
        raise RoomNotVisible()
    return membership


def _target_member(*, room: Room, user_id: int) -> Membership:
    membership = _membership(room=room, user_id=user_id)
    if membership is None:
        raise RoomNotVisible("This person is not in the room.")
    return membership


def _require_group(room: Room) -> None:
    if room.kind != Room.Kind.GROUP:
        raise ValidationError("Only group rooms can be changed this way.", code="not_group")


def _require_manager(membership: Membership) -> None:
    if not membership.is_manager:
        raise PermissionDenied("Only the room's owners and admins can do this.")


def _require_owner(membership: Membership) -> None:
    if membership.role != Role.OWNER:
        raise PermissionDenied("Only the room's owners can do this.")


ARCHIVED = "This room is archived: it is read-only."


def _require_not_archived(room: Room) -> None:
    # An archived group room keeps its members and history, read-only (closed_at refuses every write
    # to its messages, as in an ended lobby chat); nobody new comes in.
    if room.closed_at is not None:
        raise PermissionDenied(ARCHIVED)


def _clean_group(room: Room) -> None:
    for name in ("title", "description", "category"):
        setattr(room, name, getattr(room, name).strip())
    if not room.title:
        raise ValidationError({"title": ["A group room needs a title."]}, code="required")
    room.full_clean(exclude=["creator"], validate_unique=False, validate_constraints=False)


def _add_member(*, room: Room, user) -> Membership:
    # Whoever enters a room left empty takes it over: a room with members always has an owner.
    has_owner = Membership.objects.filter(room=room, role=Role.OWNER).exists()
    membership = Membership.objects.create(room=room, user=user, role=Role.MEMBER if has_owner else Role.OWNER)
    RoomInvite.objects.filter(room=room, user=user, accepted_at__isnull=True).update(accepted_at=timezone.now())
    _announce_joined(membership)
    return membership


def _announce_joined(membership: Membership) -> None:
    groups = [events.room_group(membership.room_id), events.user_group(membership.user_id)]
    events.publish_on_commit(groups, partial(events.member_joined, membership))


def _announce_left(*, room_id: int, user_id: int, kicked_by: int | None = None) -> None:
    groups = [events.room_group(room_id), events.user_group(user_id)]
    events.publish_on_commit(groups, partial(events.member_left, room_id=room_id, user_id=user_id, kicked_by=kicked_by))


def _announce_role(membership: Membership) -> None:
    events.publish_on_commit(events.room_group(membership.room_id), partial(events.member_updated, membership))


# Creating rooms


@transaction.atomic
def room_create_group(
    *, creator, title: str, description: str = "", category: str = "", is_public: bool = False
) -> Room:
    require_verified(creator)
    room = Room(
        kind=Room.Kind.GROUP,
        title=title,
        description=description,
        category=category,
        is_public=is_public,
        creator=creator,
    )
    _clean_group(room)
    room.save()
    membership = Membership.objects.create(room=room, user=creator, role=Role.OWNER)
    _announce_joined(membership)
    return room


@transaction.atomic
def direct_room_get_or_create(*, user, other) -> tuple[Room, bool]:
    """The one direct room of two people, created on first use. Returns (room, created).

    A room a non-friend starts with someone who takes messages as requests is a message request
    for them (rooms.message_requests): they are not told of it until they accept, and opening the
    conversation themselves accepts it.
    """
    require_verified(user)
    if other.pk == user.pk:
        raise ValidationError({"user": ["You cannot start a direct conversation with yourself."]}, code="self")
    if not (other.is_active and other.is_verified):
        raise ValidationError({"user": ["This person cannot be messaged."]}, code="unavailable")
    key = Room.direct_key_for(user.pk, other.pk)
    room = Room.objects.filter(direct_key=key).first()
    if room is not None:
        _request_accept_if_any(user=user, room_id=room.pk)
        return room, False  # Even when blocked since: its history stays readable (message_send refuses).
    if not dm_allowed(sender=user, recipient=other):
        # The same words as for a closed account: a blocked person is not told they are blocked.
        raise ValidationError({"user": ["This person cannot be messaged."]}, code="unavailable")
    request = Membership.Request.PENDING if dm_is_request(sender=user, recipient=other) else ""
    try:
        with transaction.atomic():
            room = Room.objects.create(kind=Room.Kind.DIRECT, direct_key=key, creator=user)
            memberships = Membership.objects.bulk_create(
                [Membership(room=room, user=user), Membership(room=room, user=other, request=request)]
            )
    except IntegrityError:
        # The other person opened it at the same moment; their commit is visible now.
        return Room.objects.get(direct_key=key), False
    for membership in memberships:
        if not membership.request:  # A request is announced to its recipient when accepted.
            _announce_own_join(membership)
    return room, True


def _announce_own_join(membership: Membership) -> None:
    events.publish_on_commit(events.user_group(membership.user_id), partial(events.member_joined, membership))


# Message requests


def _request_accept_if_any(*, user, room_id: int) -> Membership | None:
    membership = (
        Membership.objects.select_for_update(no_key=True)
        .select_related("room")
        .filter(user=user, room_id=room_id)
        .exclude(request="")
        .first()
    )
    if membership is not None:
        membership.request = ""
        membership.save(update_fields=["request"])
        # The person's sockets start following the room, and their rooms list shows it.
        _announce_own_join(membership)
    return membership


@transaction.atomic
def message_request_accept(*, user, room_id: int) -> Membership:
    """Accept a message request (waiting or ignored): the conversation becomes one of my rooms."""
    membership = _request_accept_if_any(user=user, room_id=room_id)
    if membership is None:
        raise RoomNotVisible("No such message request.")
    return membership


@transaction.atomic
def message_request_ignore(*, user, room_id: int) -> None:
    """Ignore a message request: it leaves my requests, and the sender is told nothing (their
    messages are still stored, unseen). Ignoring twice is harmless; accepting later still works."""
    requests = Membership.objects.filter(user=user, room_id=room_id).exclude(request="")
    if not requests.exists():
        raise RoomNotVisible("No such message request.")
    requests.filter(request=Membership.Request.PENDING).update(request=Membership.Request.IGNORED)


def message_requests_befriended(*, a_id: int, b_id: int) -> None:
    """Two people became friends: a request between them (waiting or ignored) is an ordinary conversation now."""
    requests = Membership.objects.select_related("room").filter(room__direct_key=Room.direct_key_for(a_id, b_id))
    for membership in requests.exclude(request=""):
        membership.request = ""
        membership.save(update_fields=["request"])
        _announce_own_join(membership)


def message_requests_drop(*, a_id: int, b_id: int) -> int:
    """A block between two people ends a request either sent the other (it becomes ignored)."""
    return Membership.objects.filter(
        room__direct_key=Room.direct_key_for(a_id, b_id), request=Membership.Request.PENDING
    ).update(request=Membership.Request.IGNORED)


# Entering and leaving


@transaction.atomic
def room_join(*, user, room_id: int) -> Membership:
    """Join a public group room. Joining twice returns the existing membership."""
    require_verified(user)
    room = room_lock(room_id=room_id)
    membership = _membership(room=room, user_id=user.pk)
    if membership is not None:
        return membership
    if not (room.kind == Room.Kind.GROUP and room.is_public):
        raise RoomNotVisible()
    _require_not_archived(room)
    return _add_member(room=room, user=user)


@transaction.atomic
def room_invite(*, by, room_id: int, user) -> RoomInvite:
    """Invite someone into a group room: any member may for a public room, owners and admins for a private one."""
    require_verified(by)
    limits.room_invite_rate_take(user_id=by.pk)  # Before the room's lock: no Redis round trip while holding it.
    room = room_lock(room_id=room_id)
    inviter = _member_of(room=room, user=by)
    _require_group(room)
    _require_not_archived(room)
    if not room.is_public:
        _require_manager(inviter)
    # A block (either way) gets the same answer as an unavailable account: the block is not revealed.
    if not (user.is_active and user.is_verified) or blocked_between(a_id=by.pk, b_id=user.pk):
        raise ValidationError({"user": ["This person cannot be invited."]}, code="unavailable")
    if _membership(room=room, user_id=user.pk) is not None:
        raise ValidationError({"user": ["This person is already in the room."]}, code="already_member")
    pending = RoomInvite.objects.filter(room=room, user=user, accepted_at__isnull=True).first()
    if pending is not None:
        return pending
    invite = RoomInvite.objects.create(room=room, user=user, invited_by=by)
    events.publish_on_commit(events.user_group(user.pk), partial(events.room_invited, invite))
    return invite


@transaction.atomic
def invite_accept(*, user, invite_id: int) -> Membership:
    require_verified(user)
    invite = RoomInvite.objects.filter(pk=invite_id, user=user, accepted_at__isnull=True).first()
    if invite is None:
        raise RoomNotVisible("No such invitation.")
    room = room_lock(room_id=invite.room_id)
    membership = _membership(room=room, user_id=user.pk)
    if membership is not None:
        RoomInvite.objects.filter(pk=invite.pk).update(accepted_at=timezone.now())
        return membership
    _require_not_archived(room)
    return _add_member(room=room, user=user)


@transaction.atomic
def room_leave(*, user, room_id: int) -> None:
    """Leave a room. The last owner to leave hands the room to the longest-standing member.

    Leaving a lobby chat closes it instead: both keep it (read-only) until it is purged, so that
    either can still add the other as a friend or report them.
    """
    room = room_lock(room_id=room_id)
    membership = _member_of(room=room, user=user)
    if room.kind == Room.Kind.DIRECT:
        raise ValidationError("A direct conversation cannot be left.", code="direct")
    if room.kind == Room.Kind.RANDOM:
        _random_room_close(room=room, by_id=user.pk)
        return
    membership.delete()
    _announce_left(room_id=room.pk, user_id=user.pk)
    if membership.role == Role.OWNER and not selectors.owners_remaining(room_id=room.pk):
        successor = selectors.longest_standing_member(room_id=room.pk, excluding_user_id=user.pk)
        if successor is not None:
            successor.role = Role.OWNER
            successor.save(update_fields=["role"])
            _announce_role(successor)


def _actor_and_target(*, by, room_id: int, user_id: int, require) -> tuple[Room, Membership, Membership]:
    """The locked group room, the acting member (checked by `require`) and the member acted on."""
    room = room_lock(room_id=room_id)
    actor = _member_of(room=room, user=by)
    _require_group(room)
    _require_not_archived(room)
    require(actor)
    return room, actor, _target_member(room=room, user_id=user_id)


@transaction.atomic
def member_kick(*, by, room_id: int, user_id: int) -> None:
    """Remove someone from a group room: owners remove anyone, admins anyone but owners."""
    room, actor, target = _actor_and_target(by=by, room_id=room_id, user_id=user_id, require=_require_manager)
    if target.user_id == by.pk:
        raise ValidationError({"user": ["Leave the room instead of removing yourself."]}, code="self")
    if target.role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied("Admins cannot remove an owner.")
    target.delete()
    _announce_left(room_id=room.pk, user_id=user_id, kicked_by=by.pk)


# Roles and settings


@transaction.atomic
def member_set_role(*, by, room_id: int, user_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": [f"Choose one of: {', '.join(Role.values)}."]}, code="invalid_choice")
    room, actor, target = _actor_and_target(by=by, room_id=room_id, user_id=user_id, require=_require_owner)
    if target.role == role:
        return target
    if target.role == Role.OWNER and not selectors.owners_remaining(room_id=room.pk, excluding_user_id=user_id):
        raise ValidationError({"role": ["A room needs an owner: transfer ownership first."]}, code="last_owner")
    target.role = role
    target.save(update_fields=["role"])
    _announce_role(target)
    return target


@transaction.atomic
def ownership_transfer(*, by, room_id: int, user_id: int) -> Membership:
    """Make someone an owner; the previous owner stays on as an admin."""
    room, actor, target = _actor_and_target(by=by, room_id=room_id, user_id=user_id, require=_require_owner)
    if target.pk == actor.pk:
        raise ValidationError({"user": ["You already own this room."]}, code="self")
    for membership, role in ((target, Role.OWNER), (actor, Role.ADMIN)):
        membership.role = role
        membership.save(update_fields=["role"])
        _announce_role(membership)
    return target


def membership_notifications_set(*, user, room_id: int, level: str) -> Membership:
    """How much of a room reaches me as notifications and mail: all | mentions | nothing (mute)."""
    if level not in Membership.Notify.values:
        choices = ", ".join(Membership.Notify.values)
        raise ValidationError({"notification_level": [f"Choose one of: {choices}."]}, code="invalid_choice")
    membership = selectors.membership_access(user=user, room_id=room_id)
    if membership.notification_level != level:
        membership.notification_level = level
        membership.save(update_fields=["notification_level"])
    return membership


@transaction.atomic
def room_update(*, by, room_id: int, **changes) -> Room:
    """Rename a group room, or change its description, category or visibility (owners and admins)."""
    unknown = set(changes) - set(GROUP_FIELDS)
    if unknown:
        raise ValidationError({name: ["This field cannot be changed here."] for name in sorted(unknown)})
    room = room_lock(room_id=room_id)
    actor = _member_of(room=room, user=by)
    _require_group(room)
    _require_not_archived(room)
    _require_manager(actor)
    before = {name: getattr(room, name) for name in GROUP_FIELDS}
    for name, value in changes.items():
        setattr(room, name, value)
    _clean_group(room)
    changed = [name for name in GROUP_FIELDS if getattr(room, name) != before[name]]
    if changed:
        room.save(update_fields=changed)
        events.publish_on_commit(events.room_group(room.pk), partial(events.room_updated, room))
    return room


# Moderation: staff archive a group room (read-only, out of the directory) and bring it back


@transaction.atomic
def room_archive(*, moderator, room_id: int, reason: str) -> Room:
    """Make a group room read-only for good: no messages, edits, deletes, reactions, joins or invites
    (it is closed like an ended lobby chat, so every write path already refuses it under the room's
    lock), and out of the directory. Members keep reading it. Archiving twice records nothing."""
    require_moderator(moderator, "rooms.change_room")
    reason = reason_clean(reason)
    room = room_lock(room_id=room_id)
    _require_group(room)
    if room.closed_at is None:
        room.closed_at = timezone.now()
        _room_moderated(moderator=moderator, room=room, kind=ModerationAction.Kind.ROOM_ARCHIVE, reason=reason)
    return room


@transaction.atomic
def room_unarchive(*, moderator, room_id: int, reason: str = "") -> Room:
    require_moderator(moderator, "rooms.change_room")
    reason = reason_clean(reason, required=False)
    room = room_lock(room_id=room_id)
    _require_group(room)
    if room.closed_at is not None:
        room.closed_at = None
        # To each member's own group, not the room's: sockets opened while it was archived do not follow
        # it (rooms.selectors.room_ids_of_user), and this copy makes every socket follow it again.
        groups = [events.user_group(user_id) for user_id in selectors.member_ids(room_id=room.pk)]
        _room_moderated(
            moderator=moderator, room=room, kind=ModerationAction.Kind.ROOM_UNARCHIVE, reason=reason, groups=groups
        )
    return room


def _room_moderated(*, moderator, room: Room, kind: str, reason: str, groups: list[str] | None = None) -> None:
    room.save(update_fields=["closed_at"])
    events.publish_on_commit(groups or events.room_group(room.pk), partial(events.room_updated, room))
    action_record(moderator=moderator, kind=kind, reason=reason, room=room)


# Lobby chats (rooms.matching pairs the people; these are the rooms it opens and closes)


@transaction.atomic
def random_room_open(*, first_id: int, second_id: int) -> Room | None:
    """The temporary 1:1 room of two people the matcher paired; both are told with match.found.

    None when a block between them (made after they joined the queue), a closed account, or an
    open lobby chat of either forbids it.
    """
    # Both rows locked, in id order: a second tab's join, on another process, that paired the person
    # again waits here until the first pairing's room is committed, then sees it and refuses.
    ids = sorted((first_id, second_id))
    people = {person.pk: person for person in User.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    if len(people) != 2 or not all(person.is_active and person.is_verified for person in people.values()):
        return None
    if blocked_between(a_id=first_id, b_id=second_id) or selectors.random_chatting_ids(user_ids=ids):
        return None
    room = Room.objects.create(kind=Room.Kind.RANDOM)
    memberships = Membership.objects.bulk_create([Membership(room=room, user=people[pk]) for pk in people])
    announcements = []
    for membership in memberships:
        peer = people[second_id if membership.user_id == first_id else first_id]
        group = events.user_group(membership.user_id)
        # member.joined first: it makes the person's sockets listen to the room before match.found.
        announcements.append((group, partial(events.member_joined, membership)))
        announcements.append((group, partial(events.match_found, room=room, peer=peer)))
    # Four events, one hop to the event loop (a burst of joins pairs hundreds of people a second).
    transaction.on_commit(lambda: events.publish_each(announcements), robust=True)
    return room


def random_rooms_close_of(*, user_id: int) -> list[int]:
    """Close every open lobby chat of the person (they joined the queue again, left the lobby, or
    stayed offline past the grace: rooms.matching.lobby_offline).

    Usually there is none: then this is one query, without a transaction around it.
    """
    room_ids = list(
        Room.objects.filter(kind=Room.Kind.RANDOM, closed_at__isnull=True, memberships__user_id=user_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if room_ids:
        with transaction.atomic():
            for room_id in room_ids:
                _random_room_close(room=room_lock(room_id=room_id), by_id=user_id)
    return room_ids


def _random_room_close(*, room: Room, by_id: int) -> None:
    if room.closed_at is not None:
        return
    room.closed_at = timezone.now()
    room.save(update_fields=["closed_at"])
    member_ids = list(Membership.objects.filter(room=room).values_list("user_id", flat=True))
    groups = [events.user_group(member_id) for member_id in member_ids]
    events.publish_on_commit(groups, partial(events.match_ended, room_id=room.pk, by=by_id))


def random_room_keep(*, first_id: int, second_id: int) -> Room | None:
    """Two people became friends: their latest lobby chat becomes their direct conversation.

    The same room, converted (kind direct, with the pair's direct key, open again), so that its
    history stays where it was and links to it keep working. Nothing changes when they already
    have a direct room (the lobby chat is then purged like any other). Runs inside the
    friendship's transaction (accounts.services).
    """
    key = Room.direct_key_for(first_id, second_id)
    if Room.objects.filter(direct_key=key).exists():
        return None
    room = (
        Room.objects.filter(kind=Room.Kind.RANDOM, memberships__user_id=first_id)
        .filter(memberships__user_id=second_id)
        .order_by("-created_at", "-pk")
        .first()
    )
    if room is None:
        return None
    room.kind, room.direct_key, room.closed_at = Room.Kind.DIRECT, key, None
    room.save(update_fields=["kind", "direct_key", "closed_at"])
    # Their sockets stopped following the chat when it ended: member.joined makes them follow it again.
    announcements = []
    for membership in Membership.objects.filter(room=room).select_related("user"):
        group = events.user_group(membership.user_id)
        announcements.append((group, partial(events.member_joined, membership)))
        announcements.append((group, partial(events.room_updated, room)))
    transaction.on_commit(lambda: events.publish_each(announcements), robust=True)
    return room


def random_rooms_expired(*, now=None) -> QuerySet[Room]:
    """Lobby chats LOBBY_ROOM_TTL after they closed, or after their last activity when nobody closed
    them; not those with an open report, which wait for it (`manage.py purge --dry-run` counts these).
    """
    cutoff = (now or timezone.now()) - settings.LOBBY_ROOM_TTL
    reported = Exists(Report.objects.filter(room=OuterRef("pk"), status=Report.Status.OPEN))
    idle = Q(closed_at__isnull=True) & Q(last_active__lt=cutoff)
    return (
        Room.objects.filter(kind=Room.Kind.RANDOM)
        .annotate(last_active=Coalesce("last_message_at", "created_at"))
        .filter(Q(closed_at__lt=cutoff) | idle)
        .exclude(reported)
    )


def random_rooms_purge(*, now=None, batch: int = 500) -> int:
    """Delete the expired lobby chats (their messages go with them); friends' chats were kept as DMs.
    Returns how many rooms were deleted; each batch is its own transaction.
    """
    expired = random_rooms_expired(now=now)
    deleted = 0
    while ids := list(expired.order_by("pk").values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            Room.objects.filter(pk__in=ids, kind=Room.Kind.RANDOM).delete()
        deleted += len(ids)
    return deleted
