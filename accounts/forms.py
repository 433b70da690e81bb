from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts import services
from accounts.models import Report, User


class SignupForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    handle = forms.CharField(
        max_length=30,
        help_text="3 to 30 letters, digits or underscores. People will see you as @handle.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "pattern": "[A-Za-z0-9_]{3,30}"}),
    )
    display_name = forms.CharField(label="Display name", max_length=60, required=False)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_confirm = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_confirm"):
            self.add_error("password_confirm", "The two passwords differ.")
        return data


class VerifyForm(forms.Form):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        max_length=10,
        error_messages={"invalid": "Enter the 6 digits from the e-mail."},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": r"\d{6}"}),
    )


class ResendForm(forms.Form):
    email = forms.EmailField(widget=forms.HiddenInput)


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class CeleryPasswordResetForm(PasswordResetForm):
    """Mails through Celery, so a known address answers as fast as an unknown one."""

    def save(self, *args, **kwargs):
        services.password_reset_request(email=self.cleaned_data["email"])


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "handle", "bio", "dm_policy", "friend_request_policy", "email_notifications"]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4})}
        help_texts = {
            "dm_policy": "With “Friends only”, people who are not your friends cannot start a conversation with you; "
            "with message requests they can, but it waits under Message requests until you accept it.",
            "email_notifications": "What we mail you about messages and requests you missed.",
        }

    PRIVACY_FIELDS = ("dm_policy", "friend_request_policy", "email_notifications")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A form posted without a privacy choice (an older page, a script) keeps the current one.
        for name in self.PRIVACY_FIELDS:
            self.fields[name].required = False

    def clean(self):
        data = super().clean()
        for name in self.PRIVACY_FIELDS:
            if not data.get(name):
                data[name] = getattr(self.instance, name)
        return data


class FriendRequestForm(forms.Form):
    handle = forms.CharField(
        label="Their handle",
        max_length=31,
        widget=forms.TextInput(attrs={"placeholder": "@handle", "autocomplete": "off"}),
    )

    def clean_handle(self) -> User:
        from accounts import selectors

        person = selectors.user_by_handle(self.cleaned_data["handle"].strip().lstrip("@"))
        if person is None:
            raise forms.ValidationError("No one has that handle.")
        return person


class AvatarForm(forms.Form):
    avatar = forms.FileField(
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"})
    )


class ReportForm(forms.Form):
    """Why someone (or a message of theirs) is reported; the report pages and the lobby's report box."""

    reason = forms.ChoiceField(choices=Report.Reason.choices)
    details = forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional: what happened. Only our moderators read it.",
    )
