from django.core.management.base import CommandError

from accounts.models import User
from accounts.selectors import anyone_by_handle


def person(handle: str) -> User:
    """The account a command names by handle (with or without the @), or a CommandError."""
    user = anyone_by_handle(handle)
    if user is None:
        raise CommandError(f"Nobody has the handle @{handle.lstrip('@')}.")
    return user
