"""Helpers of the room page's server rendering (templates/rooms/_message.html): day separators,
reactions with who reacted, and the report link. static/js/room_*.js redraw the same pieces live."""

from datetime import timedelta

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()

# The report page (issue 8's reporting work) is served under this URL name; until it exists the
# action is simply not shown.
REPORT_URL_NAME = "message-report"
_ID_SENTINEL = 987654321
# The picker's handful; any emoji others added (over the API) shows and can be joined just the same.
REACTION_CHOICES = ("👍", "❤️", "😂", "🎉", "😮", "😢")


@register.filter
def day_label(moment) -> str:
    """Today, Yesterday or the date, in the server's time zone (scripts redo it in the viewer's)."""
    day = timezone.localtime(moment).date()
    today = timezone.localdate()
    if day == today:
        return "Today"
    if day == today - timedelta(days=1):
        return "Yesterday"
    return date_format(day, "l, F j, Y")


@register.simple_tag
def reaction_summary(message, names: dict[int, str], viewer_id: int) -> list[dict]:
    """The message's reactions grouped by emoji, in first-reacted order, with who reacted."""
    summary: dict[str, dict] = {}
    for reaction in message.prefetched_reactions:
        entry = summary.setdefault(reaction.emoji, {"emoji": reaction.emoji, "user_ids": [], "names": []})
        entry["user_ids"].append(reaction.user_id)
        entry["names"].append(names.get(reaction.user_id, "a former member"))
    for entry in summary.values():
        entry["mine"] = viewer_id in entry["user_ids"]
        entry["ids"] = " ".join(map(str, entry["user_ids"]))
    return list(summary.values())


def report_url_pattern() -> str:
    """The report page's URL with "{id}" in place of the message id, or "" while there is none."""
    try:
        return reverse(REPORT_URL_NAME, args=[_ID_SENTINEL]).replace(str(_ID_SENTINEL), "{id}")
    except NoReverseMatch:
        return ""


@register.simple_tag
def report_url(message_id: int) -> str:
    pattern = report_url_pattern()
    return pattern.replace("{id}", str(message_id)) if pattern else ""
