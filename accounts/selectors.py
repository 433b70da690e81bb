from django.db.models import Q, QuerySet

from accounts.models import User

USER_SEARCH_LIMIT = 20


def handle_is_taken(handle: str, *, excluding: User | None = None) -> bool:
    users = User.objects.filter(handle__iexact=handle)
    if excluding is not None:
        users = users.exclude(pk=excluding.pk)
    return users.exists()


def active_users() -> QuerySet[User]:
    return User.objects.filter(is_active=True, email_verified_at__isnull=False)


def user_by_handle(handle: str) -> User | None:
    return active_users().filter(handle__iexact=handle).first()


def user_search(*, query: str, viewer: User) -> QuerySet[User]:
    query = query.strip().lstrip("@")
    if not query:
        return User.objects.none()
    matches = Q(handle__istartswith=query) | Q(display_name__istartswith=query)
    return active_users().filter(matches).exclude(pk=viewer.pk).order_by("handle")[:USER_SEARCH_LIMIT]
