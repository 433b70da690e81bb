"""Security headers on pages, and templates that a strict Content Security Policy lets run."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def policy_of(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
def test_a_page_carries_a_policy_of_this_site_s_own_scripts_and_styles_only(client):
    response = client.get("/login/")
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'self'" in policy["connect-src"]
    # Named hosts for older browsers; never an IPv6 address or a wildcard, which browsers reject.
    assert "ws://127.0.0.1" in policy["connect-src"] and not any("[" in source for source in policy["connect-src"])
    assert {"'self'", "data:", "https:"} <= set(policy["img-src"])
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_a_signed_in_page_with_its_socket_is_under_the_same_policy(client, user):
    client.force_login(user)
    response = client.get("/rooms/")
    assert response.status_code == 200
    assert policy_of(response)["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_only_the_api_docs_page_may_load_swagger_from_its_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    policy = policy_of(response)
    assert "https://cdn.jsdelivr.net" in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert b"<script>" not in response.content  # Its script comes from ?script, a file of this site.
    assert client.get("/api/docs/?script").status_code == 200


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style[\s>]", re.IGNORECASE)


def page_templates():
    # E-mail templates are not served as pages (mail clients need their inline styles).
    return [path for path in (ROOT / "templates").rglob("*.html") if "email" not in path.parts]


@pytest.mark.parametrize("path", page_templates(), ids=lambda path: str(path.relative_to(ROOT / "templates")))
def test_page_templates_have_no_inline_script_style_or_handler(path):
    text = path.read_text()
    for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, EVENT_HANDLER, STYLE_BLOCK):
        assert not pattern.search(text), f"{path.name}: {pattern.search(text).group(0)}"


def test_the_scan_finds_what_it_looks_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script type="module" src="/static/js/room.js"></script>')
    assert STYLE_ATTRIBUTE.search('<p class="x" style="color:red">')
    assert EVENT_HANDLER.search('<button onclick="go()">')


def policy_with(**env) -> dict[str, list[str]]:
    """The policy settings.py builds from this environment (settings are read once, at start)."""
    code = "import json, django; django.setup(); from django.conf import settings; "
    code += "print(json.dumps(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']))"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CSP_"))}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_images_and_media_may_come_from_the_s3_bucket_when_one_is_configured():
    policy = policy_with(AWS_STORAGE_BUCKET_NAME="parley-media", AWS_S3_REGION_NAME="eu-west-1")
    bucket = "https://parley-media.s3.eu-west-1.amazonaws.com"
    assert bucket in policy["img-src"] and bucket in policy["media-src"]
    minio = policy_with(AWS_STORAGE_BUCKET_NAME="parley-media", AWS_S3_ENDPOINT_URL="https://s3.example.com/")
    assert "https://s3.example.com" in minio["media-src"]
    assert policy_with()["media-src"] == ["'self'"]
