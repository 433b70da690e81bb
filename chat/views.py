"""Pages of messages (the room page itself is in rooms/views.py)."""

from django import forms
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.decorators import verified_required
from accounts.views import report_page
from chat import notifications, search, selectors
from rooms.models import Membership, Room
from rooms.selectors import memberships_of_user


class SearchForm(forms.Form):
    """The search page's GET form; `rooms` are the person's rooms as (id, label) choices."""

    q = forms.CharField(
        label="Search messages",
        max_length=search.QUERY_MAX_CHARS,
        error_messages={"required": "Type something to search for."},
    )
    room = forms.TypedChoiceField(label="In", coerce=int, required=False, empty_value=None)
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, rooms: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["room"].choices = [("", "All my rooms"), *rooms]

    def clean_cursor(self) -> search.SearchCursor | None:
        token = self.cleaned_data["cursor"]
        if not token:
            return None
        try:
            return search.SearchCursor.decode(token)
        except ValueError as error:
            raise forms.ValidationError("That link to more results is broken; search again.") from error


@verified_required
def search_page(request):
    labels = {membership.room_id: _room_label(membership) for membership in memberships_of_user(user=request.user)}
    form = SearchForm(request.GET or None, rooms=list(labels.items()))
    page = more_url = None
    if form.is_valid():
        data = form.cleaned_data
        page = search.message_search(user=request.user, query=data["q"], room_id=data["room"], after=data["cursor"])
        for hit in page.hits:
            # .get: a room joined between the two queries has no label yet.
            hit.room_label, hit.url = labels.get(hit.room_id, ""), search.message_url(hit)
        if page.next is not None:
            more = request.GET.copy()
            more["cursor"] = page.next.encode()
            more_url = f"?{more.urlencode()}"
    return render(request, "chat/search.html", {"form": form, "page": page, "more_url": more_url})


def _room_label(membership: Membership) -> str:
    room = membership.room
    if room.kind == Room.Kind.DIRECT:
        return membership.peer.name if membership.peer else "Direct message"
    return f"# {room.title}"


# Notifications

NOTIFICATIONS_PAGE_SIZE = 50


@verified_required
def notifications_page(request):
    before = request.GET.get("before", "")
    # A hand-edited ?before= starts from the newest rather than failing.
    before_id = int(before) if before.isdigit() and len(before) <= 18 else None
    page = notifications.notifications_page(user=request.user, before_id=before_id, limit=NOTIFICATIONS_PAGE_SIZE)
    for notification in page.notifications:
        notification.text = notifications.notification_text(notification)
    return render(request, "chat/notifications.html", {"page": page})


@verified_required
def notifications_read_all(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    notifications.notifications_mark_all_read(user=request.user)
    return redirect("notifications")


@verified_required
@require_POST
def notification_read(request, notification_id: int):
    """Mark one notification read without JavaScript (the page's script uses the API instead)."""
    notifications.notification_mark_read(user=request.user, notification_id=notification_id)
    return redirect("notifications")


# Exempt from CSRF: mail clients POST here without a token (RFC 8058 one-click); the signed token
# in the URL is what proves the request comes from the recipient's mail.
@csrf_exempt
def notifications_unsubscribe(request, token: str):
    """Turn notification mail off without signing in: GET asks to confirm, POST does it."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user_id = notifications.unsubscribe_user_id(token)
    if user_id is None:
        return render(request, "chat/unsubscribe.html", {"broken": True}, status=400)
    done = request.method == "POST"
    if done:
        notifications.email_notifications_off(user_id=user_id)
    return render(request, "chat/unsubscribe.html", {"done": done})


@verified_required
def message_report(request, message_id):
    """Report a message (and so its author) from the room it is in; back to it afterwards."""
    message = selectors.message_reportable(user=request.user, message_id=message_id)
    if message is None:
        raise Http404("No such message.")
    return report_page(request, reported=message.author, message=message, back=search.message_url(message))
