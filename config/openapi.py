"""OpenAPI (drf-spectacular) extensions for Parley's own classes. Imported by config.urls."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class DenylistJWTScheme(SimpleJWTScheme):
    """Parley's JWT authentication (simplejwt plus a denylist of logged-out tokens) is plain Bearer."""

    target_class = "accounts.authentication.DenylistJWTAuthentication"
    name = "jwtAuth"


# The error body is config.api_errors.ErrorSerializer's component, which views use for their own
# special cases; the hook below declares it on every operation for the statuses it can answer with.
ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
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
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            for status in _error_statuses(path, method, operation):
                responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status], "content": ERROR_REF})
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
