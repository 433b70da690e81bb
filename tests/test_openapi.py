"""The OpenAPI schema documents every API route, with its errors, and validates."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes(patterns=None, prefix="") -> set[str]:
    """Every route of the URLconf under /api/, written the way OpenAPI writes paths."""
    routes = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            routes.add("/" + CONVERTER.sub(r"{\1}", route))
    return routes


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("openapi") / "schema.yml"
    # --fail-on-warn: an undocumented serializer, an unknown authenticator or a colliding
    # operation id fails here rather than leaving a hole in the published schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_api_route_is_documented(schema):
    undocumented = api_routes() - set(schema["paths"]) - {"/api/schema/", "/api/docs/"}
    assert not undocumented


def test_every_operation_documents_its_error_body(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "detail", "fields", "retry_after"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            errors = {status: response for status, response in operation["responses"].items() if status[0] == "4"}
            assert errors, f"{method} {path} documents no error"
            for status, response in errors.items():
                assert "schema" in response["content"]["application/json"], f"{method} {path} {status}"
            if {} not in operation.get("security", [{}]):
                assert {"401", "403"} <= set(errors), f"{method} {path}"


def test_both_jwt_and_session_authenticate_the_api(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"]["scheme"] == "bearer"
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert {"jwtAuth": []} in schema["paths"]["/api/rooms/"]["get"]["security"]


def test_the_swagger_page_and_the_schema_are_served(client):
    assert client.get("/api/docs/").status_code == 200
    response = client.get("/api/schema/")
    assert response.status_code == 200 and b"/api/rooms/{room_id}/messages/" in response.content


def test_a_message_in_the_schema_carries_its_link_preview(schema):
    components = schema["components"]["schemas"]
    preview = components["HistoryMessage"]["properties"]["preview"]
    assert preview["nullable"] and preview["allOf"] == [{"$ref": "#/components/schemas/LinkPreviewPayload"}]
    fields = {"url", "title", "description", "image_url", "site_name"}
    assert set(components["LinkPreviewPayload"]["properties"]) == fields
