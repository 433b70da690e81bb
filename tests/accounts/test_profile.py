import io

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from tests.accounts.images import bomb_png, image_bytes, upload

pytestmark = pytest.mark.django_db


def test_me_shows_my_profile(api_as, user):
    body = api_as(user).get("/api/me/").json()
    assert body["handle"] == "alice" and body["email"] == "alice@example.com"
    assert body["avatar_url"] is None and body["email_verified_at"]


def test_me_updates_name_bio_and_handle(api_as, user):
    response = api_as(user).patch("/api/me/", {"display_name": "Alice A.", "bio": "Hi!", "handle": "alice_a"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.bio, user.handle) == ("Alice A.", "Hi!", "alice_a")


def test_me_ignores_read_only_fields(api_as, user):
    api_as(user).patch("/api/me/", {"email": "evil@example.com", "email_verified_at": None})
    user.refresh_from_db()
    assert user.email == "alice@example.com" and user.is_verified


@pytest.mark.parametrize(
    ("change", "field"),
    [({"handle": "Bob"}, "handle"), ({"handle": "bad handle"}, "handle"), ({"bio": "x" * 501}, "bio")],
)
def test_bad_profile_changes_get_field_errors(api_as, user, make_user, change, field):
    make_user("bob")
    response = api_as(user).patch("/api/me/", change)
    assert response.status_code == 400 and field in response.json()["fields"]


def test_anonymous_callers_get_401(api):
    response = api.get("/api/me/")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_avatars_are_re_encoded_bounded_and_stored_under_random_names(api_as, user, fmt):
    response = api_as(user).put(
        "/api/me/avatar/",
        {"avatar": upload(image_bytes(fmt, size=(1200, 900)), name="holiday.png")},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert "holiday" not in user.avatar.name and user.avatar.name.endswith(".webp")
    with default_storage.open(user.avatar.name) as stored:
        full = Image.open(io.BytesIO(stored.read()))
    assert full.format == "WEBP" and max(full.size) == 512
    with default_storage.open(user.avatar_thumbnail.name) as stored:
        assert max(Image.open(io.BytesIO(stored.read())).size) == 64
    assert response.json()["avatar_url"].endswith(user.avatar.name)


def test_exif_is_stripped(api_as, user):
    api_as(user).put("/api/me/avatar/", {"avatar": upload(image_bytes("JPEG", exif_gps=True))}, format="multipart")
    user.refresh_from_db()
    with default_storage.open(user.avatar.name) as stored:
        data = stored.read()
    assert b"SpyCam" not in data
    assert not Image.open(io.BytesIO(data)).getexif()


def test_replacing_an_avatar_deletes_the_old_files(api_as, user, django_capture_on_commit_callbacks):
    client = api_as(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/me/avatar/", {"avatar": upload(image_bytes())}, format="multipart")
    user.refresh_from_db()
    old = [user.avatar.name, user.avatar_thumbnail.name]
    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/me/avatar/", {"avatar": upload(image_bytes("JPEG"))}, format="multipart")
    user.refresh_from_db()
    assert not any(default_storage.exists(name) for name in old)
    assert default_storage.exists(user.avatar.name)


def test_removing_an_avatar_deletes_its_files(api_as, user, django_capture_on_commit_callbacks):
    client = api_as(user)
    client.put("/api/me/avatar/", {"avatar": upload(image_bytes())}, format="multipart")
    user.refresh_from_db()
    name = user.avatar.name
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete("/api/me/avatar/").status_code == 204
    assert not default_storage.exists(name)
    user.refresh_from_db()
    assert not user.avatar


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.svg", "not a PNG"),
        (b"#!/bin/sh\necho owned\n", "innocent.png", "not a PNG"),
        (image_bytes("BMP"), "bitmap.png", "Use a PNG"),
        (bomb_png(), "bomb.png", "too many pixels"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024), "huge.png", "larger than 5 MB"),
    ],
)
def test_bad_avatars_are_refused_with_a_field_error(api_as, user, data, name, expected):
    response = api_as(user).put("/api/me/avatar/", {"avatar": upload(data, name=name)}, format="multipart")
    assert response.status_code == 400
    assert expected in response.json()["fields"]["avatar"][0]
    user.refresh_from_db()
    assert not user.avatar


def test_the_profile_page_saves_changes_and_uploads_an_avatar(user):
    browser = Client()
    browser.force_login(user)
    assert browser.get("/settings/profile/").status_code == 200

    saved = browser.post(
        "/settings/profile/", {"display_name": "Alice", "handle": "alice", "bio": "Hello"}, follow=True
    )
    assert b"Profile saved" in saved.content
    uploaded = browser.post("/settings/avatar/", {"avatar": upload(image_bytes())}, follow=True)
    assert b"Avatar updated" in uploaded.content
    user.refresh_from_db()
    assert user.bio == "Hello" and user.avatar


def test_the_profile_page_shows_form_errors(user, make_user):
    make_user("bob")
    browser = Client()
    browser.force_login(user)
    page = browser.post("/settings/profile/", {"display_name": "", "handle": "bob", "bio": ""})
    assert page.status_code == 200 and b"handle is taken" in page.content.replace(b"&#x27;", b"'").lower()
    bad = browser.post("/settings/avatar/", {"avatar": upload(b"nope", name="x.png")})
    assert bad.status_code == 400 and b"not a PNG" in bad.content


def test_public_profiles_escape_what_people_write(make_user):
    make_user("mallory", display_name="<script>alert(1)</script>", bio='<img src=x onerror="alert(2)">')
    page = Client().get("/u/mallory/")
    assert page.status_code == 200
    assert b"<script>alert(1)" not in page.content and b"<img src=x" not in page.content
    assert b"&lt;script&gt;" in page.content


def test_unknown_and_unverified_profiles_are_404(make_user):
    make_user("shy", verified=False)
    assert Client().get("/u/shy/").status_code == 404
    assert Client().get("/u/nobody/").status_code == 404
