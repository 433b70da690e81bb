from functools import partial

from django.conf import settings

from chat.notifications import notifications_unread_count


def site(request):
    return {"SITE_NAME": settings.SITE_NAME}


def notifications(request):
    """The header badge's unread count, counted only if a page renders it (templates call callables)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified:
        return {}
    return {"notification_unread": partial(notifications_unread_count, user_id=user.pk)}
