"""Avatars on S3: the same pipeline against a real (moto) S3 server on a free port."""

import pytest
import requests

from tests.accounts.images import image_bytes, upload
from tests.conftest import S3_BUCKET as BUCKET


@pytest.mark.django_db
def test_avatars_go_to_s3_and_replacing_deletes_the_old_objects(
    api_as, user, s3_storage, django_capture_on_commit_callbacks
):
    client = api_as(user)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.put("/api/me/avatar/", {"avatar": upload(image_bytes())}, format="multipart")
    assert first.status_code == 200, first.content
    user.refresh_from_db()
    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {user.avatar.name, user.avatar_thumbnail.name}

    signed_url = first.json()["avatar_url"]
    assert "Signature" in signed_url or "X-Amz-Signature" in signed_url
    fetched = requests.get(signed_url, timeout=5)
    assert fetched.status_code == 200 and fetched.content[:4] == b"RIFF"

    with django_capture_on_commit_callbacks(execute=True):
        client.put("/api/me/avatar/", {"avatar": upload(image_bytes("JPEG"))}, format="multipart")
    user.refresh_from_db()
    keys_after = {item["Key"] for item in s3_storage.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys_after == {user.avatar.name, user.avatar_thumbnail.name}
    assert keys.isdisjoint(keys_after)
