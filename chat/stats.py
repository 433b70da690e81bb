"""Figures for operators (`manage.py chat_stats`): who is online, rooms by kind, messages per day."""

from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from chat import presence
from chat.models import Message
from rooms.models import Room


def chat_stats(*, days: int, today: date | None = None) -> dict:
    """Four queries and one Redis command, however large the tables (days of no messages count 0)."""
    today = today or timezone.localdate()
    first_day = today - timedelta(days=days - 1)
    people = User.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(is_active=True)),
        verified=Count("pk", filter=Q(is_active=True, email_verified_at__isnull=False)),
    )
    rooms = dict.fromkeys(Room.Kind.values, 0) | dict(
        Room.objects.values_list("kind").annotate(count=Count("pk")).order_by()
    )
    per_day = dict(
        Message.objects.filter(created_at__date__gte=first_day)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {
        "online": presence.online_count_now(),
        "people": people,
        "rooms": rooms,
        "messages_total": Message.objects.count(),
        "messages_per_day": [
            {"day": day.isoformat(), "messages": per_day.get(day, 0)}
            for day in (first_day + timedelta(days=offset) for offset in range(days))
        ],
    }
