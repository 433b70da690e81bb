from rest_framework.permissions import BasePermission


class IsVerified(BasePermission):
    """Signed in with a verified e-mail address: the bar for anything that reaches other people."""

    message = "Verify your e-mail address first."
    code = "email_not_verified"

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_verified)
