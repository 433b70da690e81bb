from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect


def verified_required(view):
    """Signed in and e-mail verified; unverified people are sent to enter their code."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_verified:
            return redirect("verify")
        return view(request, *args, **kwargs)

    return wrapper
