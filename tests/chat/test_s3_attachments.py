"""Attachments on S3 (a real moto server): private objects, reached by members through short-lived signed URLs."""

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chat import services
from chat.models import Attachment
from tests.accounts.images import image_bytes
from tests.chat.attachments import upload_id
from tests.chat.test_api import post_message
from tests.conftest import S3_BUCKET

pytestmark = pytest.mark.django_db


def keys(s3) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])}


def test_uploads_are_private_objects_under_random_names(ann, api_as, s3_storage):
    photo = upload_id(api_as(ann), image_bytes(), "holiday.png")
    attachment = Attachment.objects.get(pk=photo)
    assert {attachment.storage_name, attachment.preview_name} <= keys(s3_storage)
    assert "holiday" not in attachment.storage_name
    # No signature, no file: the bucket is not public.
    endpoint = s3_storage.meta.endpoint_url
    assert requests.get(f"{endpoint}/{S3_BUCKET}/{attachment.storage_name}", timeout=5).status_code == 403


def test_members_are_redirected_to_a_signed_url_with_the_right_disposition(
    ann, ben, make_user, room, api_as, s3_storage
):
    data = image_bytes("JPEG", size=(64, 48))
    photo = upload_id(api_as(ann), data, "cat.jpg", "image/jpeg")
    notes = upload_id(api_as(ann), b"<html><script>x</script>", "page.html", "text/html")
    post_message(api_as(ann), room, "look", attachments=[photo, notes])

    image = api_as(ben).get(f"/api/attachments/{photo}/")
    assert image.status_code == 302
    signed = image["Location"]
    query = parse_qs(urlsplit(signed).query)
    assert "Signature" in query and int(query["Expires"][0]) - time.time() == pytest.approx(300, abs=5)
    fetched = requests.get(signed, timeout=5)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["Content-Disposition"] == 'inline; filename="cat.jpg"'

    page = requests.get(api_as(ben).get(f"/api/attachments/{notes}/")["Location"], timeout=5)
    assert page.headers["Content-Disposition"] == 'attachment; filename="page.html"'
    assert page.headers["Content-Type"] == "application/octet-stream"

    preview = requests.get(api_as(ben).get(f"/api/attachments/{photo}/preview/")["Location"], timeout=5)
    assert preview.status_code == 200 and preview.content[:4] == b"RIFF"

    outsider = api_as(make_user("cat"))
    assert outsider.get(f"/api/attachments/{photo}/").status_code == 404
    assert outsider.get(f"/api/attachments/{photo}/preview/").status_code == 404


def signed_expiry(url: str) -> float:
    """When a presigned URL stops working, from its signed query (SigV2 `Expires` or SigV4 `X-Amz-Expires`)."""
    query = parse_qs(urlsplit(url).query)
    if "Expires" in query:
        return int(query["Expires"][0])
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at.timestamp() + int(query["X-Amz-Expires"][0])


def test_signed_urls_are_short_lived_and_fresh_for_each_fetch(ann, ben, room, api_as, s3_storage, settings):
    # moto serves a presigned URL without checking its signature or expiry (it checks only the
    # Authorization header), so what the test can hold is the expiry signed into the URL.
    settings.ATTACHMENT_URL_SECONDS = 60
    notes = upload_id(api_as(ann), b"minutes", "minutes.txt", "text/plain")
    post_message(api_as(ann), room, "minutes", attachments=[notes])
    first = api_as(ben).get(f"/api/attachments/{notes}/")["Location"]
    assert signed_expiry(first) - time.time() == pytest.approx(60, abs=5)
    assert requests.get(first, timeout=5).content == b"minutes"
    time.sleep(1.1)
    again = api_as(ben).get(f"/api/attachments/{notes}/")["Location"]
    assert again != first and signed_expiry(again) > signed_expiry(first)


def test_deleting_the_message_deletes_the_objects(ann, room, api_as, s3_storage, django_capture_on_commit_callbacks):
    photo = upload_id(api_as(ann))
    message_id = post_message(api_as(ann), room, "", attachments=[photo]).json()["id"]
    attachment = Attachment.objects.get(pk=photo)
    assert {attachment.storage_name, attachment.preview_name} <= keys(s3_storage)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_delete(user=ann, message_id=message_id)
    assert not {attachment.storage_name, attachment.preview_name} & keys(s3_storage)
