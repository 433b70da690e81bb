import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.decorators import verified_required
from accounts.models import User
from chat import attachments
from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.limits import RateLimited
from chat.templatetags import room_view
from rooms import matching, message_requests, selectors, services
from rooms.forms import DirectoryForm, InviteForm, MemberRoleForm, MessageForm, ReportForm, RoomCreateForm
from rooms.models import Membership, Room
from rooms.selectors import RoomNotVisible


@verified_required
def rooms_index(request):
    form = RoomCreateForm(request.POST or None)
    created = _created(request, form)
    if created:
        return created
    memberships = selectors.memberships_of_user(user=request.user)
    context = {
        "memberships": memberships,
        "requests": message_requests.message_requests_of(user=request.user),
        "invites": selectors.invites_pending(user=request.user),
        "form": form,
    }
    return render(request, "rooms/index.html", context)


def _created(request, form: RoomCreateForm):
    """A redirect to the room the posted form created; None otherwise (then the form carries the errors)."""
    if request.method != "POST" or not form.is_valid():
        return None
    try:
        room = services.room_create_group(creator=request.user, **form.cleaned_data)
    except ValidationError as error:
        form.add_error(None, error)
        return None
    return redirect("room", room_id=room.pk)


@verified_required
def room_page(request, room_id):
    room = selectors.room_detail(user=request.user, room_id=room_id)
    if room is None:
        raise Http404("No such room.")
    membership = next((m for m in room.member_list if m.user_id == request.user.pk), None)
    if membership is None:
        return render(request, "rooms/join.html", {"room": room})
    return render(request, "rooms/room.html", _room_context(request, room, MessageForm(initial=_fresh_client_id())))


# static/js/room.js and everything it imports.
ROOM_MODULES = [
    "js/room.js",
    "js/room_actions.js",
    "js/room_history.js",
    "js/room_outbox.js",
    "js/room_render.js",
    "js/markup.js",
    "js/attachments.js",
    "js/link_preview.js",
    "js/notifications.js",
    "js/socket.js",
]


def _fresh_client_id() -> dict:
    return {"client_id": uuid.uuid4()}


def _room_context(request, room: Room, form: MessageForm) -> dict:
    position = _history_position(request)
    page = _history(room, position)
    history = page.messages
    mine = next((member for member in room.member_list if member.user_id == request.user.pk), None)
    detached = bool(position)
    return {
        "room": room,
        "title": _title(room, request.user),
        "history": history,
        # Away from the newest (?around=, ?before=, ?after=) the socket resumes from the newest seq:
        # catching up from the page's end could be more than one resume sends, and the reload that
        # asks for would land here again.
        "last_seq": room.last_seq if detached else (history[-1].seq if history else 0),
        "detached": detached,
        "highlight": position.get("around"),
        "older_seq": page.older,
        "newer_seq": page.newer,
        "newer_hidden": bool(detached and page.newer),
        "unread_from": None if detached or mine is None else _first_unread(history, mine),
        "peer_read_seq": _peer_read_seq(room, request.user),
        "seen_seq": _seen_seq(history, room, request.user),
        "member_names": {member.user_id: member.user.name for member in room.member_list},
        "report_url_pattern": room_view.report_url_pattern(),
        "reaction_choices": room_view.REACTION_CHOICES,
        "room_modules": ROOM_MODULES,
        "members": room.member_list,
        "mine": mine,
        "notify_choices": Membership.Notify.choices,
        "online": _online_shown(room, request.user),
        "form": form,
        "attachment_limits": {"count": settings.ATTACHMENT_MAX_PER_MESSAGE, "bytes": settings.ATTACHMENT_MAX_BYTES},
        "peer": _peer(room, request.user) if room.kind == Room.Kind.RANDOM else None,
        "report_form": ReportForm() if room.kind == Room.Kind.RANDOM else None,
    }


def _online_shown(room: Room, viewer) -> set[int]:
    """The members whose presence the viewer sees on the room's pages (the room and its settings)."""
    return chat_selectors.online_visible_to(
        viewer_id=viewer.pk,
        user_ids=[
            member.user_id
            for member in room.member_list
            if selectors.presence_shown(
                user_id=member.user_id,
                request=member.request,
                viewer_id=viewer.pk,
                closed=room.closed_at is not None,
            )
        ],
    )


def _history_position(request) -> dict[str, int]:
    """Where the page opens: `?around=<message id>` (a search hit, a reply's original), or the plain
    links of pages without scripts, `?before=<seq>` (older) and `?after=<seq>` (newer). {} for the newest;
    anything that is not a number is ignored rather than refused, like a mistyped link."""
    for name in ("around", "before", "after"):
        value = chat_selectors.positive_bigint(request.GET.get(name, ""))
        if value is not None:
            return {name: value}
    return {}


def _history(room: Room, position: dict[str, int]) -> chat_selectors.HistoryPage:
    limit = chat_selectors.RECENT_LIMIT
    if "around" in position:
        page = chat_selectors.history_around(room=room, message_id=position["around"], limit=limit)
        # A message of another room (or gone) shows the newest messages instead.
        if page is not None:
            return page
        position.clear()
    if "after" in position:
        return chat_selectors.history_after(room=room, after_seq=position["after"], limit=limit)
    return chat_selectors.history_before(room=room, before_seq=position.get("before"), limit=limit)


def _first_unread(history: list, mine: Membership) -> int | None:
    """The seq where the "New messages" divider goes: the first message of someone else I have not read."""
    return next((m.seq for m in history if m.seq > mine.last_read_seq and m.author_id != mine.user_id), None)


def _peer_read_seq(room: Room, viewer) -> int | None:
    """How far the other person of a direct room has read; None elsewhere, and while they have not
    accepted my message request (they are promised I am not told whether they read it)."""
    if room.kind != Room.Kind.DIRECT:
        return None
    peer = next((m for m in room.member_list if m.user_id != viewer.pk), None)
    return peer.last_read_seq if peer is not None and not peer.request else None


def _seen_seq(history: list, room: Room, viewer) -> int | None:
    """My last message on the page that the peer of a direct room has read (it gets the "Seen" mark)."""
    read = _peer_read_seq(room, viewer)
    if read is None:
        return None
    return max((m.seq for m in history if m.author_id == viewer.pk and m.seq <= read), default=None)


def _title(room: Room, viewer) -> str:
    if room.kind == Room.Kind.DIRECT:
        other = _peer(room, viewer)
        return other.name if other else "Direct message"
    if room.kind == Room.Kind.RANDOM:
        other = _peer(room, viewer)
        return f"Stranger: {other.name}" if other else "A stranger"
    return room.title


def _peer(room: Room, viewer) -> User | None:
    return next((m.user for m in room.member_list if m.user_id != viewer.pk), None)


@verified_required
@require_POST
def room_send(request, room_id):
    form = MessageForm(request.POST)
    files = request.FILES.getlist("files")
    if form.is_valid() and (form.cleaned_data["body"].strip() or files):
        try:
            # Without JavaScript the files come with the form: uploaded here, then sent like the API's.
            uploads = [attachments.attachment_upload(uploader=request.user, upload=upload) for upload in files]
            chat_services.message_send(
                author=request.user,
                room_id=room_id,
                body=form.cleaned_data["body"],
                client_id=form.cleaned_data["client_id"],
                attachment_ids=[upload.pk for upload in uploads],
            )
        except (ValidationError, RateLimited) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        except PermissionDenied as error:
            raise Http404("No such room.") from error
    else:
        messages.error(request, "Write something to send (at most 4,000 characters), or attach a file.")
    return redirect("room", room_id=room_id)


@verified_required
@require_POST
def room_join(request, room_id):
    try:
        services.room_join(user=request.user, room_id=room_id)
    except (PermissionDenied, ValidationError) as error:
        raise Http404("No such room.") from error
    return redirect("room", room_id=room_id)


@verified_required
@require_POST
def room_notifications(request, room_id):
    try:
        services.membership_notifications_set(
            user=request.user, room_id=room_id, level=request.POST.get("notification_level", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        raise Http404("No such room.") from error
    return redirect("room", room_id=room_id)


@verified_required
@require_POST
def direct_message(request, handle):
    other = account_selectors.user_by_handle(handle)
    if other is None:
        raise Http404("No one has that handle.")
    try:
        room, _ = services.direct_room_get_or_create(user=request.user, other=other)
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        return redirect("profile", handle=handle)
    return redirect("room", room_id=room.pk)


# The lobby: talk to a stranger, and the public rooms


@verified_required
def lobby(request):
    rooms = selectors.public_rooms(viewer=request.user, sort="size")[: matching.LOBBY_ROOMS]
    return render(request, "rooms/lobby.html", {"counts": matching.lobby_counts(), "rooms": rooms})


DIRECTORY_PAGE = 100


@verified_required
def directory(request):
    form = DirectoryForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    rooms = selectors.public_rooms(
        viewer=request.user,
        category=filters.get("category", "").strip(),
        query=filters.get("q", "").strip(),
        sort=filters.get("sort") or "activity",
    )[:DIRECTORY_PAGE]
    context = {"form": form, "rooms": rooms, "categories": selectors.public_categories(), "filters": filters}
    return render(request, "rooms/directory.html", context)


# Message requests: accepted, the conversation opens; ignored, back to the rooms (the sender is not told).


@verified_required
@require_POST
def lobby_room_leave(request, room_id):
    """ "Leave" of a lobby chat without JavaScript: the chat closes and the lobby page opens."""
    try:
        services.room_leave(user=request.user, room_id=room_id)
    except (PermissionDenied, ValidationError) as error:
        raise Http404("No such room.") from error
    messages.info(request, "You left the conversation.")
    return redirect("lobby")


@verified_required
@require_POST
def room_report(request, room_id):
    form = ReportForm(request.POST)
    reported = User.objects.filter(pk=form.cleaned_data["user"]).first() if form.is_valid() else None
    if reported is None:
        messages.error(request, "Choose a reason for the report.")
        return redirect("room", room_id=room_id)
    try:
        account_services.report_create(
            reporter=request.user,
            reported=reported,
            reason=form.cleaned_data["reason"],
            details=form.cleaned_data["details"],
            room_id=room_id,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Thank you: the report is with our moderators.")
    return redirect("room", room_id=room_id)


@verified_required
@require_POST
def message_request_accept(request, room_id):
    try:
        services.message_request_accept(user=request.user, room_id=room_id)
    except PermissionDenied as error:
        raise Http404("No such message request.") from error
    return redirect("room", room_id=room_id)


@verified_required
@require_POST
def message_request_ignore(request, room_id):
    try:
        services.message_request_ignore(user=request.user, room_id=room_id)
    except PermissionDenied as error:
        raise Http404("No such message request.") from error
    messages.info(request, "Message request ignored.")
    return redirect("rooms")


# Creating a room, and a room's settings and members (the pages over rooms.services)


@verified_required
def room_create(request):
    form = RoomCreateForm(request.POST or None)
    created = _created(request, form)
    if created:
        return created
    return render(request, "rooms/create.html", {"form": form}, status=400 if form.errors else 200)


def _my_room(request, room_id: int) -> tuple[Room, Membership]:
    """The room with its members, and my membership of it; 404 for anyone outside it."""
    room = selectors.room_detail(user=request.user, room_id=room_id)
    mine = next((m for m in room.member_list if m.user_id == request.user.pk), None) if room else None
    if mine is None:
        raise Http404("No such room.")
    return room, mine


@verified_required
def room_settings(request, room_id):
    room, mine = _my_room(request, room_id)
    details = RoomCreateForm(
        request.POST or None, initial={name: getattr(room, name) for name in services.GROUP_FIELDS}
    )
    if request.method == "POST" and details.is_valid():
        try:
            services.room_update(by=request.user, room_id=room.pk, **details.cleaned_data)
        except ValidationError as error:
            details.add_error(None, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect("room-settings", room_id=room.pk)
        else:
            messages.success(request, "Room settings saved.")
            return redirect("room-settings", room_id=room.pk)
    return _settings_page(request, room, mine, details=details, invite=InviteForm())


def _settings_page(request, room, mine, *, details, invite):
    context = {
        "room": room,
        "mine": mine,
        "title": _title(room, request.user),
        "details": details,
        "invite": invite,
        "roles": Membership.Role.choices,
        "online": _online_shown(room, request.user),
    }
    return render(request, "rooms/settings.html", context, status=400 if details.errors or invite.errors else 200)


@verified_required
@require_POST
def room_invite(request, room_id):
    room, mine = _my_room(request, room_id)
    if room.kind != Room.Kind.GROUP:
        raise Http404("Only group rooms take invitations.")  # Their pages have no invitation form.
    invite = InviteForm(request.POST)
    if invite.is_valid():
        person = invite.cleaned_data["handle"]
        try:
            services.room_invite(by=request.user, room_id=room.pk, user=person)
        except ValidationError as error:
            field_errors = error.message_dict if hasattr(error, "error_dict") else {}
            invite.add_error("handle", field_errors.get("user", error.messages))
        except (PermissionDenied, RateLimited) as error:
            invite.add_error("handle", str(error))
        else:
            messages.success(request, f"@{person.handle} is invited.")
            return redirect("room-settings", room_id=room.pk)
    details = RoomCreateForm(initial={name: getattr(room, name) for name in services.GROUP_FIELDS})
    return _settings_page(request, room, mine, details=details, invite=invite)


@verified_required
@require_POST
def room_member_role(request, room_id, user_id):
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: owner, admin or member.")
        return redirect("room-settings", room_id=room_id)
    return _member_action(
        request, room_id, "Role changed.", services.member_set_role, user_id=user_id, role=form.cleaned_data["role"]
    )


@verified_required
@require_POST
def room_member_remove(request, room_id, user_id):
    return _member_action(request, room_id, "Removed from the room.", services.member_kick, user_id=user_id)


def _member_action(request, room_id: int, done: str, action, **arguments):
    try:
        action(by=request.user, room_id=room_id, **arguments)
    except RoomNotVisible as error:
        if not Membership.objects.filter(room_id=room_id, user=request.user).exists():
            raise Http404("No such room.") from error
        messages.error(request, str(error))
    except (PermissionDenied, ValidationError) as error:
        messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
    else:
        messages.success(request, done)
    return redirect("room-settings", room_id=room_id)


@verified_required
@require_POST
def invite_accept(request, invite_id):
    try:
        membership = services.invite_accept(user=request.user, invite_id=invite_id)
    except RoomNotVisible as error:
        raise Http404("No such invitation.") from error
    except PermissionDenied as error:
        # The room was archived since the invitation: say so rather than pretend it never existed.
        messages.error(request, str(error))
        return redirect("rooms")
    return redirect("room", room_id=membership.room_id)


@verified_required
@require_POST
def room_leave(request, room_id):
    try:
        services.room_leave(user=request.user, room_id=room_id)
    except PermissionDenied as error:
        raise Http404("No such room.") from error
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("room-settings", room_id=room_id)
    messages.info(request, "You left the room.")
    return redirect("rooms")
