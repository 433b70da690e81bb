"""How django-axes names an attempt and answers a locked-out client."""

import math

from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render


def attempted_username(request, credentials) -> str | None:
    # The login form posts `username`, the token endpoint `email`; both are the e-mail address,
    # and case must not give an attacker a fresh set of tries.
    source = credentials or getattr(request, "data", None) or request.POST
    value = source.get("username") or source.get("email")
    return value.strip().lower() if isinstance(value, str) else None


def lockout_response(request, original_response=None, credentials=None):
    retry_after = math.ceil(get_cool_off(request).total_seconds())
    message = f"Too many failed sign-in attempts. Try again in {math.ceil(retry_after / 60)} minutes."
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "locked_out", "detail": message, "retry_after": retry_after}, status=429)
    else:
        response = render(request, "accounts/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
