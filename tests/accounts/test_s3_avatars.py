"""Avatars on S3: the same pipeline against a real (moto) S3 server on a free port."""

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from tests.accounts.images import image_bytes, upload
from tests.conftest import free_port

BUCKET = "parley-test-media"


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
            },
        },
    }
    return boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


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
