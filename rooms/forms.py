from django import forms

from accounts.forms import FriendRequestForm
from accounts.forms import ReportForm as PersonReportForm
from rooms.models import Membership


class RoomCreateForm(forms.Form):
    title = forms.CharField(max_length=80)
    description = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    category = forms.CharField(max_length=40, required=False)
    is_public = forms.BooleanField(label="Public: anyone can find and join it", required=False)


class MessageForm(forms.Form):
    """The composer's no-JavaScript path: a plain post with a client id minted when the page rendered."""

    # May be empty when files come with it; chat.services says when a message is empty.
    body = forms.CharField(max_length=4000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    client_id = forms.UUIDField(widget=forms.HiddenInput)


class DirectoryForm(forms.Form):
    q = forms.CharField(label="Search titles", max_length=80, required=False)
    category = forms.CharField(max_length=40, required=False)
    sort = forms.ChoiceField(choices=[("activity", "Most active"), ("size", "Most members")], required=False)


class ReportForm(PersonReportForm):
    """The lobby chat's report box: the stranger's id comes with it."""

    user = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class InviteForm(FriendRequestForm):
    """Whom to invite into a room, by handle (the same lookup as a friend request's)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handle"].label = "Invite someone by handle"


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=[(value, label) for value, label in Membership.Role.choices])
