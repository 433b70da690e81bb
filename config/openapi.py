"""OpenAPI (drf-spectacular) extensions for Parley's own classes. Imported by config.urls."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class DenylistJWTScheme(SimpleJWTScheme):
    """Parley's JWT authentication (simplejwt plus a denylist of logged-out tokens) is plain Bearer."""

    target_class = "accounts.authentication.DenylistJWTAuthentication"
    name = "jwtAuth"


# Every 4xx body has this shape (config.api_errors); the hook below declares it on every operation.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable: invalid, not_found, throttled, ..."},
        "detail": {"type": "string", "description": "For people."},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "400 only: each invalid field with its messages.",
        },
        "retry_after": {"type": "integer", "description": "429 only: seconds to wait."},
    },
    "required": ["code", "detail"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `fields` says what is wrong with each field.",
    "401": "Not signed in (no or an invalid/expired token or session).",
    "403": "Signed in but not allowed (e.g. the e-mail address is not verified yet).",
    "404": "No such object, or not visible to me (rooms I am not in look exactly like missing ones).",
}
WRITE_METHODS = {"post", "put", "patch"}


def add_error_responses(result, generator, request, public):
    """Declare the error body on every operation, for the statuses it can answer with.

    Views declare their own special cases (a 404 description, a 429); this fills in the rest,
    so no endpoint's errors go undocumented.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status], "content": error})
    return result


def _error_statuses(path: str, method: str, operation: dict) -> list[str]:
    statuses = []
    queried = any(parameter.get("in") == "query" for parameter in operation.get("parameters", []))
    if method in WRITE_METHODS or queried:
        statuses.append("400")
    if {} not in operation.get("security", [{}]):  # {} in the list: anonymous access allowed
        statuses += ["401", "403"]
    if "{" in path:
        statuses.append("404")
    return statuses
