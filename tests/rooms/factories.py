"""Rooms built through the services, the way people build them."""

from rooms import services
from rooms.models import Membership


def group_room(owner, *members, public: bool = False, title: str = "Book club", admins=()):
    room = services.room_create_group(creator=owner, title=title, is_public=public)
    for person in (*members, *admins):
        Membership.objects.create(room=room, user=person)
    if admins:
        Membership.objects.filter(room=room, user__in=admins).update(role=Membership.Role.ADMIN)
    return room


def role_of(room, user) -> str | None:
    membership = Membership.objects.filter(room=room, user=user).first()
    return membership.role if membership else None
