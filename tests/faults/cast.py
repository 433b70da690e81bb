"""The people and rooms of a fault test: everyone is a member of every room.

Made in the test's own process for the test database, or, for a PostgreSQL cluster the test
started itself, in a child process pointed at it (`python -m tests.faults.cast URL PEOPLE ROOMS`).
"""

import json
import os
import sys
import uuid


def make_cast(*, people: int, rooms: int) -> dict:
    """{"people": [{"id", "handle", "cookie"}], "rooms": [id, ...]}: verified people, signed in."""
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from tests.rooms.factories import group_room

    tag = uuid.uuid4().hex[:8]
    users = [
        User.objects.create_user(
            handle=f"f{tag}_{number}",
            email=f"f{tag}_{number}@example.com",
            password=None,  # Unusable: they sign in by session (the production hasher takes seconds for four).
            email_verified_at=timezone.now(),
        )
        for number in range(people)
    ]
    room_ids = [group_room(users[0], *users[1:], title=f"Fault room {number}").pk for number in range(rooms)]
    cast = []
    for user in users:
        browser = Client()
        browser.force_login(user)
        cast.append(
            {"id": user.pk, "handle": user.handle, "cookie": browser.cookies[settings.SESSION_COOKIE_NAME].value}
        )
    return {"people": cast, "rooms": room_ids}


if __name__ == "__main__":
    database_url, people, rooms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(make_cast(people=people, rooms=rooms)))
