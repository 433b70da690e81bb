from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.decorators import verified_required
from accounts.forms import (
    AvatarForm,
    FriendRequestForm,
    ProfileForm,
    ReportForm,
    ResendForm,
    SignupForm,
    VerifyForm,
)
from chat.limits import RateLimited

SIGNUP_SESSION_KEY = "parley_signup_user_id"
MAIL_SENT = "If {email} can be used, a 6-digit code is on its way to it. It works for 15 minutes."


def home(request):
    if request.user.is_authenticated and not request.user.is_verified:
        return redirect("verify")
    return render(request, "pages/home.html")


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                email=data["email"], handle=data["handle"], password=data["password"], display_name=data["display_name"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # Remembers who signed up in this browser, so verifying here also signs them in.
            request.session[SIGNUP_SESSION_KEY] = user.pk if user else None
            messages.info(request, MAIL_SENT.format(email=data["email"]))
            return redirect(reverse("verify") + "?email=" + data["email"])
    return render(request, "accounts/signup.html", {"form": form})


def verify(request):
    if request.user.is_authenticated and request.user.is_verified:
        return redirect("home")
    initial_email = request.user.email if request.user.is_authenticated else request.GET.get("email", "")
    form = VerifyForm(request.POST or None, initial={"email": initial_email})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.verification_confirm_code(email=form.cleaned_data["email"], code=form.cleaned_data["code"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _after_verification(request, user)
    return render(request, "accounts/verify.html", {"form": form, "email": initial_email})


def verify_link(request, token):
    try:
        user = services.verification_confirm_link(token=token)
    except ValidationError as error:
        return render(request, "accounts/verify_failed.html", {"errors": error.messages}, status=400)
    return _after_verification(request, user)


def _after_verification(request, user):
    messages.success(request, "Your e-mail address is verified. Welcome to Parley!")
    signed_up_here = request.session.get(SIGNUP_SESSION_KEY) == user.pk
    if request.user.is_authenticated and request.user.pk == user.pk:
        return redirect("profile-edit")
    if signed_up_here:
        request.session.pop(SIGNUP_SESSION_KEY, None)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("profile-edit")
    return redirect("login")


@require_POST
def verify_resend(request):
    form = ResendForm(request.POST)
    if form.is_valid():
        services.verification_resend(email=form.cleaned_data["email"])
        messages.info(request, MAIL_SENT.format(email=form.cleaned_data["email"]))
        return redirect(reverse("verify") + "?email=" + form.cleaned_data["email"])
    messages.error(request, "Enter the e-mail address you signed up with.")
    return redirect("verify")


@verified_required
def profile_edit(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(user=request.user, **{name: form.cleaned_data[name] for name in form.changed_data})
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Profile saved.")
            return redirect("profile-edit")
    return render(request, "accounts/profile_edit.html", {"form": form, "avatar_form": AvatarForm()})


@verified_required
@require_POST
def avatar_upload(request):
    form = AvatarForm(request.POST, request.FILES)
    if request.POST.get("remove"):
        services.avatar_remove(user=request.user)
        messages.success(request, "Avatar removed.")
        return redirect("profile-edit")
    if form.is_valid():
        try:
            services.avatar_set(user=request.user, upload=form.cleaned_data["avatar"])
        except ValidationError as error:
            form.add_error("avatar", error.message_dict.get("avatar", error.messages))
        else:
            messages.success(request, "Avatar updated.")
            return redirect("profile-edit")
    profile_form = ProfileForm(instance=request.user)
    return render(request, "accounts/profile_edit.html", {"form": profile_form, "avatar_form": form}, status=400)


def profile_public(request, handle):
    person = selectors.user_by_handle(handle)
    if person is None:
        raise Http404("No one has that handle.")
    relation = online = None
    if request.user.is_authenticated and request.user.is_verified:
        relation = selectors.relationship(viewer=request.user, other=person)
        online = selectors.profile_presence(viewer=request.user, person=person, relation=relation)
    context = {"person": person, "relation": relation, "online": online}
    return render(request, "accounts/profile_public.html", context)


@verified_required
def profile_report(request, handle):
    """Report a person from their profile (a message of theirs is reported from the message: chat.views)."""
    person = selectors.user_by_handle(handle)
    if person is None or person.pk == request.user.pk:
        raise Http404("No one to report here.")
    return report_page(request, reported=person, back=reverse("profile", args=[person.handle]))


def report_page(request, *, reported, message=None, back: str):
    """The report form, and its post: a report of `reported` (about `message`, when given)."""
    from chat.limits import RateLimited, report_rate_take  # chat builds on accounts, not the other way round

    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            report_rate_take(user_id=request.user.pk)
            services.report_create(
                reporter=request.user,
                reported=reported,
                message_id=message.pk if message else None,
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        except RateLimited as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you: the report is with our moderators.")
            return redirect(back)
    context = {"form": form, "reported": reported, "message": message, "back": back}
    return render(request, "accounts/report.html", context, status=400 if form.errors else 200)


# Friends and blocks: one page, and small POST-only actions that come back to it or to the profile.


@verified_required
def friends(request):
    page = selectors.friends_page(user=request.user, cursor=_valid_cursor(request.GET.get("cursor")))
    return _friends_page(request, page=page, form=FriendRequestForm())


def _valid_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        selectors.friends_cursor_decode(cursor)
    except ValueError:
        return None  # a hand-edited link: the first page rather than an error
    return cursor


def _friends_page(request, *, page, form, status=200):
    context = {
        "page": page,
        "form": form,
        "incoming": selectors.incoming_requests(user=request.user),
        "outgoing": selectors.outgoing_requests(user=request.user),
    }
    return render(request, "accounts/friends.html", context, status=status)


@verified_required
@require_POST
def friend_request_send(request):
    form = FriendRequestForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            outcome = services.friend_request_send(sender=request.user, recipient=form.cleaned_data["handle"])
        except ValidationError as error:
            form.add_error("handle", error.message_dict.get("user", error.messages))
        except RateLimited as error:
            form.add_error("handle", str(error))
            status = 429
        else:
            _say_outcome(request, outcome)
            return redirect("friends")
    return _friends_page(request, page=selectors.friends_page(user=request.user), form=form, status=status)


def _say_outcome(request, outcome: services.FriendRequestOutcome) -> None:
    if outcome.status == "friends":
        messages.success(request, f"You and @{outcome.user.handle} are friends now.")
    else:
        messages.success(request, f"Friend request sent to @{outcome.user.handle}.")


@verified_required
@require_POST
def friend_request_accept(request, pk):
    friend_request = get_object_or_404(selectors.incoming_requests(user=request.user), pk=pk)
    try:
        services.friend_request_accept(request=friend_request)
    except ValidationError:
        messages.error(request, "That request was withdrawn.")
    else:
        messages.success(request, f"You and @{friend_request.from_user.handle} are friends now.")
    return redirect("friends")


@verified_required
@require_POST
def friend_request_decline(request, pk):
    services.friend_request_decline(request=get_object_or_404(selectors.incoming_requests(user=request.user), pk=pk))
    messages.info(request, "Request declined.")
    return redirect("friends")


@verified_required
@require_POST
def friend_request_cancel(request, pk):
    services.friend_request_cancel(request=get_object_or_404(selectors.outgoing_requests(user=request.user), pk=pk))
    messages.info(request, "Request cancelled.")
    return redirect("friends")


def _back(request, handle: str):
    """Back to the page the action was posted from when it says so (the friends page), else the profile."""
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("profile", handle)


def _person(handle: str):
    person = selectors.user_by_handle(handle)
    if person is None:
        raise Http404("No one has that handle.")
    return person


@verified_required
@require_POST
def profile_friend_add(request, handle):
    person = _person(handle)
    try:
        outcome = services.friend_request_send(sender=request.user, recipient=person)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except RateLimited as error:
        messages.error(request, str(error))
    else:
        _say_outcome(request, outcome)
    return redirect("profile", person.handle)


@verified_required
@require_POST
def profile_unfriend(request, handle):
    person = _person(handle)
    if services.friendship_end(user=request.user, friend=person):
        messages.info(request, f"You and @{person.handle} are no longer friends.")
    return _back(request, person.handle)


@verified_required
@require_POST
def profile_block(request, handle):
    person = _person(handle)
    try:
        services.block_create(blocker=request.user, blocked=person)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.info(request, f"You blocked @{person.handle}. They are not told.")
    return _back(request, person.handle)


@verified_required
@require_POST
def profile_unblock(request, handle):
    person = _person(handle)
    if services.block_remove(blocker=request.user, blocked_id=person.pk):
        messages.info(request, f"You unblocked @{person.handle}.")
    return redirect("profile", person.handle)
