"""`manage.py chat_stats`: online people (from presence), rooms by kind, messages per day."""

import json
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat import services
from chat.models import Message
from chat.stats import chat_stats

pytestmark = pytest.mark.django_db


def stats_json(*args) -> dict:
    out = StringIO()
    call_command("chat_stats", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def history(ann, ben, room, direct):
    for body in ("one", "two", "three"):
        services.message_send(author=ann, room_id=room.pk, body=body, client_id=uuid.uuid4())
    old = services.message_send(author=ben, room_id=room.pk, body="two days ago", client_id=uuid.uuid4())
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    services.message_send(author=ann, room_id=direct.pk, body="hi", client_id=uuid.uuid4())


def test_rooms_by_kind_and_messages_per_day(history):
    stats = stats_json("--days", "3")
    assert stats["rooms"] == {"direct": 1, "group": 1, "random": 0}
    assert stats["messages_total"] == 5
    today = timezone.localdate()
    assert stats["messages_per_day"] == [
        {"day": (today - timedelta(days=2)).isoformat(), "messages": 1},
        {"day": (today - timedelta(days=1)).isoformat(), "messages": 0},
        {"day": today.isoformat(), "messages": 4},
    ]
    assert stats["people"] == {"total": 3, "active": 3, "verified": 3}  # ann, ben and bob.


def test_people_online_come_from_presence(ann, ben, online):
    assert stats_json()["online"] == 0
    online(ann, ben)
    assert stats_json()["online"] == 2


def test_the_figures_cost_a_fixed_number_of_queries(history, django_assert_num_queries):
    with django_assert_num_queries(4):
        chat_stats(days=30)


def test_the_text_report_and_bad_days(history):
    out = StringIO()
    call_command("chat_stats", "--days", "2", stdout=out)
    text = out.getvalue()
    assert "Rooms: 1 direct, 1 group, 0 random" in text and "Messages: 5 in all" in text
    assert len([line for line in text.splitlines() if line.startswith("  20")]) == 2
    with pytest.raises(CommandError, match="--days"):
        call_command("chat_stats", "--days", "0")
