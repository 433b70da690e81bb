"""One error body for every 4xx from the API: {"code", "detail", and "fields" when input was bad}."""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.defaults import page_not_found
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler as drf_exception_handler

from chat.limits import RateLimited

INVALID_INPUT = "Some fields are not valid."


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx (for the OpenAPI schema; config.openapi declares it on every operation)."""

    code = serializers.CharField(help_text="Stable, machine-readable: invalid, not_found, throttled, ...")
    detail = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="400 only: each invalid field with its messages.",
    )
    retry_after = serializers.IntegerField(required=False, help_text="429 only: seconds to wait.")


def exception_handler(exc, context):
    # DRF converts these two itself, but too late for _body to see the right code. An id in the
    # path beyond what the database's integers hold (SQLite raises) names nothing either.
    if isinstance(exc, Http404 | OverflowError):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RateLimited):
        # Every service's rate limit answers alike: 429, Retry-After, and `retry_after` in the body.
        exc = exceptions.Throttled(wait=math.ceil(exc.retry_after), detail=str(exc))
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; the API answers it like a serializer error.
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(fields)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = _body(exc, response.data)
    return response


def _body(exc, data) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields = data if isinstance(data, dict) else {"non_field_errors": data}
        return {
            "code": "invalid",
            "detail": INVALID_INPUT,
            "fields": {name: _messages(value) for name, value in fields.items()},
        }
    if isinstance(data, dict) and "detail" in data:
        code = data.get("code") or _code(exc)
        body = {"code": str(code), "detail": str(data["detail"])}
    else:
        body = {"code": _code(exc), "detail": str(data)}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after"] = int(exc.wait) + 1
    return body


def _messages(errors, where: str = "") -> list[str]:
    """A field's messages as the flat list of strings the schema promises. A list's items and a nested
    object's fields come back from DRF as {index or name: messages}; each message then says where."""
    if isinstance(errors, dict):
        return [message for key, value in errors.items() for message in _messages(value, f"{where}{key}: ")]
    if isinstance(errors, list | tuple):
        return [message for value in errors for message in _messages(value, where)]
    return [f"{where}{errors}"]


def _code(exc) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        return codes if isinstance(codes, str) else exc.default_code
    return "error"


def not_found(request, exception=None):
    """Django's 404 for URLs no route matches: JSON under /api/ (clients parse every answer there),
    the site's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return page_not_found(request, exception)
