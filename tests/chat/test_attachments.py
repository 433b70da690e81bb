"""Attachments on local storage: uploads checked by their bytes, sent with messages, served to members only."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from chat import attachments, events, selectors, services, tasks
from chat.models import Attachment, Message
from tests.accounts.images import bomb_png, image_bytes
from tests.chat.attachments import animated_gif, stored, streamed, upload_id, uploaded
from tests.chat.test_api import post_message
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def preview_of(attachment: Attachment) -> Image.Image:
    with default_storage.open(attachment.preview_name) as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


# Uploading: the bytes decide what a file is


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("PNG", "a.png", "image/png"),
        ("JPEG", "a.jpg", "image/jpeg"),
        ("WEBP", "a.webp", "image/webp"),
        ("GIF", "a.gif", "image/gif"),
    ],
)
def test_each_image_format_gets_its_dimensions_and_a_bounded_webp_preview(ann, api_as, fmt, name, content_type):
    response = uploaded(api_as(ann), image_bytes(fmt, size=(2000, 1000)), name, content_type)

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["content_type"], body["width"], body["height"], body["name"]) == (content_type, 2000, 1000, name)
    attachment = Attachment.objects.get(pk=body["id"])
    assert body["url"] == f"/api/attachments/{attachment.pk}/"
    assert body["preview_url"] == f"/api/attachments/{attachment.pk}/preview/"
    preview = preview_of(attachment)
    assert (preview.format, preview.size) == ("WEBP", (1280, 640))
    assert attachment.message is None and attachment.uploader == ann


def test_the_preview_loses_exif_and_is_upright(ann, api_as):
    image = Image.new("RGB", (300, 100), (10, 200, 10))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to show upright
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())

    body = uploaded(api_as(ann), buffer.getvalue(), "spy.jpg", "image/jpeg").json()

    assert (body["width"], body["height"]) == (100, 300)
    preview = preview_of(Attachment.objects.get(pk=body["id"]))
    assert preview.size == (100, 300) and not preview.getexif()


def test_a_big_photo_keeps_its_full_dimensions_while_its_preview_is_bounded(ann, api_as):
    body = uploaded(api_as(ann), image_bytes("JPEG", size=(4000, 3000)), "big.jpg", "image/jpeg").json()
    assert (body["width"], body["height"]) == (4000, 3000)
    assert preview_of(Attachment.objects.get(pk=body["id"])).size == (1280, 960)


def test_an_animated_gif_is_previewed_by_its_first_frame(ann, api_as):
    body = uploaded(api_as(ann), animated_gif(), "wave.gif", "image/gif").json()
    preview = preview_of(Attachment.objects.get(pk=body["id"])).convert("RGB")
    assert body["content_type"] == "image/gif" and preview.getpixel((5, 5))[0] > 200


def test_any_other_file_is_kept_as_it_is_with_its_sniffed_type(ann, api_as):
    pdf = b"%PDF-1.7\n" + b"x" * 1000
    body = uploaded(api_as(ann), pdf, "report.pdf", "application/pdf").json()
    attachment = Attachment.objects.get(pk=body["id"])
    assert (body["content_type"], body["size"], body["width"], body["preview_url"]) == (
        "application/pdf",
        1009,
        None,
        None,
    )
    with default_storage.open(attachment.storage_name) as handle:
        assert handle.read() == pdf
    assert "report" not in attachment.storage_name  # random names, never the uploader's


def test_a_zip_named_docx_keeps_the_office_type(ann, api_as):
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    body = uploaded(api_as(ann), b"PK\x03\x04" + b"\x00" * 100, "letter.docx", "application/octet-stream").json()
    assert body["content_type"] == docx


@pytest.mark.parametrize(
    ("data", "name", "content_type"),
    [
        (b"<html><script>alert(1)</script></html>", "cat.png", "image/png"),  # markup posing as an image
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "cat.jpg", "image/jpeg"),
        (b"just some text", "invoice.pdf", "application/pdf"),  # text posing as a PDF
        (b"%PDF-1.4 not an image", "cat.gif", "image/gif"),  # a PDF posing as an image
        (image_bytes(), "notes.pdf", "application/pdf"),  # an image posing as a PDF
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "broken.png", "image/png"),  # an image header, then nothing
    ],
)
def test_lies_about_the_type_are_a_400(ann, api_as, data, name, content_type):
    response = uploaded(api_as(ann), data, name, content_type)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid" and response.json()["fields"]["file"]
    assert not Attachment.objects.exists()


def test_a_decompression_bomb_is_a_400_not_a_500(ann, api_as):
    response = uploaded(api_as(ann), bomb_png(), "small.png", "image/png")
    assert response.status_code == 400
    assert response.json()["fields"] == {"file": ["The image has too many pixels."]}
    assert not Attachment.objects.exists()


def test_an_empty_file_and_a_file_over_the_limit_are_400s(ann, api_as, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000
    client = api_as(ann)
    empty = uploaded(client, b"", "empty.txt", "text/plain")
    too_big = uploaded(client, b"a" * 1001, "big.txt", "text/plain")
    way_too_big = uploaded(client, b"a" * 200_000, "huge.txt", "text/plain")  # refused by its Content-Length
    missing = client.post("/api/uploads/", {}, format="multipart")
    assert [r.status_code for r in (empty, too_big, way_too_big, missing)] == [400] * 4
    assert (
        too_big.json()["fields"]["file"] == way_too_big.json()["fields"]["file"] == ["A file is at most 1000\xa0bytes."]
    )
    assert not Attachment.objects.exists()
    assert not default_storage.exists("attachments") or not default_storage.listdir("attachments")[1]


def test_markup_is_stored_but_never_served_as_markup(ann, api_as):
    client = api_as(ann)
    html = uploaded(client, b"<!DOCTYPE html><h1>hi</h1>", "page.html", "text/html").json()
    svg = uploaded(client, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "image/svg+xml").json()
    assert (html["content_type"], svg["content_type"]) == ("text/html", "image/svg+xml")
    for body in (html, svg):
        response = client.get(body["url"])
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]


def test_names_lose_folders_and_invisible_characters():
    assert attachments.clean_name("../../etc/passwd") == "passwd"
    assert attachments.clean_name("C:\\Users\\ann\\photo.png") == "photo.png"
    assert attachments.clean_name("invoice\u202egpj.exe") == "invoicegpj.exe"
    assert attachments.clean_name("line\nbreak\x00.txt") == "linebreak.txt"
    assert attachments.clean_name("...") == "file"
    long = attachments.clean_name("a" * 300 + ".tar.gz")
    assert len(long) == attachments.NAME_MAX_CHARS and long.endswith(".gz")


def test_uploading_too_fast_is_a_429(ann, api_as, settings):
    settings.ATTACHMENT_RATE_BURST, settings.ATTACHMENT_RATE_PER_MINUTE = 2, 1
    client = api_as(ann)
    codes = [uploaded(client, b"hello", "a.txt", "text/plain").status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_a_person_holds_a_limited_number_of_unsent_uploads(ann, room, api_as, settings):
    settings.ATTACHMENT_MAX_UNSENT = 2
    client = api_as(ann)
    first, _ = upload_id(client, b"1", "1.txt", "text/plain"), upload_id(client, b"2", "2.txt", "text/plain")
    refused = uploaded(client, b"3", "3.txt", "text/plain")
    assert refused.status_code == 400 and "waiting to be sent" in refused.json()["fields"]["file"][0]
    post_message(client, room, "", attachments=[first])  # sending one makes room for another
    assert uploaded(client, b"3", "3.txt", "text/plain").status_code == 201


def test_unverified_and_anonymous_people_cannot_upload(api, api_as, make_user):
    assert uploaded(api).status_code == 401
    assert uploaded(api_as(make_user("newbie", verified=False))).status_code == 403


# Sending: only my own unsent uploads, linked in the message's transaction


def test_a_message_may_carry_only_files_and_shows_them_in_its_payload(ann, ben, room, api_as):
    client = api_as(ann)
    photo, notes = upload_id(client), upload_id(client, b"notes", "notes.txt", "text/plain")

    response = post_message(client, room, "", attachments=[notes, photo])

    assert response.status_code == 201, response.content
    payload = response.json()
    assert [item["id"] for item in payload["attachments"]] == [photo, notes]
    assert payload["attachments"][1] == {
        "id": notes,
        "name": "notes.txt",
        "size": 5,
        "content_type": "text/plain",
        "width": None,
        "height": None,
        "url": f"/api/attachments/{notes}/",
        "preview_url": None,
    }
    message = Message.objects.get()
    assert set(message.attachments.values_list("pk", flat=True)) == {photo, notes}
    history = api_as(ben).get(f"/api/rooms/{room.pk}/messages/").json()["results"]
    assert history[0]["attachments"] == payload["attachments"]


def test_a_retry_returns_the_original_with_its_files(ann, room, api_as):
    client, client_id = api_as(ann), uuid.uuid4()
    photo = upload_id(client)
    first = post_message(client, room, "look", client_id, attachments=[photo])
    again = post_message(client, room, "look", client_id, attachments=[photo])
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["attachments"] == first.json()["attachments"]


def test_uploads_of_someone_else_or_already_sent_are_refused(ann, ben, room, api_as):
    bens = upload_id(api_as(ben))
    mine = upload_id(api_as(ann))
    assert post_message(api_as(ann), room, "x", attachments=[bens]).status_code == 400
    assert post_message(api_as(ann), room, "x", attachments=[mine]).status_code == 201
    refused = post_message(api_as(ann), room, "again", attachments=[mine])
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"attachments": ["Attach only your own uploads that are not sent yet."]}
    assert post_message(api_as(ann), room, "x", attachments=[10**9]).status_code == 400
    assert Message.objects.count() == 1 and Attachment.objects.get(pk=bens).message is None


def test_an_empty_message_needs_a_file_and_a_message_carries_at_most_ten(ann, room, api_as, settings):
    client = api_as(ann)
    assert post_message(client, room, "", attachments=[]).json()["fields"] == {"body": ["A message cannot be empty."]}
    too_many = post_message(client, room, "x", attachments=list(range(1, 12)))
    assert too_many.json()["fields"] == {"attachments": ["A message carries at most 10 files."]}
    assert post_message(client, room, "x", attachments=["a"]).status_code == 400
    assert not Message.objects.exists()


def test_a_refused_send_leaves_its_uploads_unsent(ann, make_user, room, api_as):
    stranger = make_user("cat")
    upload = upload_id(api_as(stranger))
    assert post_message(api_as(stranger), room, "hi", attachments=[upload]).status_code == 404
    assert Attachment.objects.get(pk=upload).message is None


def test_history_with_files_costs_the_same_queries_however_many(
    ann, ben, room, api_as, django_assert_num_queries, history_page_queries
):
    client = api_as(ann)

    def send_with_files(count):
        ids = [upload_id(client, b"f%d" % n, f"{n}.txt", "text/plain") for n in range(count)]
        assert post_message(client, room, "files", attachments=ids).status_code == 201

    send_with_files(1)
    with django_assert_num_queries(history_page_queries):
        assert len(client.get(f"/api/rooms/{room.pk}/messages/").json()["results"]) == 1
    for _ in range(4):
        send_with_files(3)
    with django_assert_num_queries(history_page_queries):
        results = client.get(f"/api/rooms/{room.pk}/messages/").json()["results"]
    assert [len(message["attachments"]) for message in results] == [1, 3, 3, 3, 3]


def test_sending_without_files_costs_no_more_queries_than_before(ann, room, django_assert_num_queries):
    from django.db import connection

    services.message_send(author=ann, room_id=room.pk, body="warm up", client_id=uuid.uuid4())
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 7):
        services.message_send(author=ann, room_id=room.pk, body="plain", client_id=uuid.uuid4())


def test_the_payload_with_files_equals_the_walk_of_its_fields(ann, room, api_as):
    from tests.chat.test_payloads import walked

    client = api_as(ann)
    post_message(client, room, "x", attachments=[upload_id(client), upload_id(client, b"t", "t.txt", "text/plain")])
    message = selectors.messages_recent(room_id=room.pk)[0]
    payload = events.MessagePayload()
    assert payload.to_representation(message) == walked(payload, message)
    attachment_payload = events.AttachmentPayload()
    for attachment in message.prefetched_attachments:
        assert attachment_payload.to_representation(attachment) == walked(attachment_payload, attachment)


# Fetching: members of the room only


def test_members_fetch_files_others_get_404(ann, ben, make_user, room, api_as):
    data = image_bytes("PNG", size=(50, 40))
    photo = upload_id(api_as(ann), data, "cat.png")
    post_message(api_as(ann), room, "cat", attachments=[photo])
    outsider = api_as(make_user("cat"))

    response = api_as(ben).get(f"/api/attachments/{photo}/")
    assert response.status_code == 200 and streamed(response) == data
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'inline; filename="cat.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    preview = api_as(ben).get(f"/api/attachments/{photo}/preview/", HTTP_ACCEPT="image/avif,image/webp,image/*")
    assert preview.status_code == 200 and preview["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(streamed(preview))).size == (50, 40)

    for path in (f"/api/attachments/{photo}/", f"/api/attachments/{photo}/preview/", "/api/attachments/999999/"):
        answer = outsider.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"


def test_an_unsent_upload_is_only_its_uploaders_and_files_have_no_preview(ann, ben, api_as):
    notes = upload_id(api_as(ann), b"secret", "notes.txt", "text/plain")
    assert api_as(ann).get(f"/api/attachments/{notes}/").status_code == 200
    assert api_as(ben).get(f"/api/attachments/{notes}/").status_code == 404
    assert api_as(ann).get(f"/api/attachments/{notes}/preview/").status_code == 404


def test_a_member_who_left_can_no_longer_fetch(ann, ben, room, api_as):
    from rooms import services as room_services

    notes = upload_id(api_as(ann), b"minutes", "minutes.txt", "text/plain")
    post_message(api_as(ann), room, "minutes", attachments=[notes])
    response = api_as(ben).get(f"/api/attachments/{notes}/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="minutes.txt"'
    room_services.room_leave(user=ben, room_id=room.pk)
    assert api_as(ben).get(f"/api/attachments/{notes}/").status_code == 404


def test_files_are_not_reachable_through_the_public_media_route(ann, room, client, api_as, settings):
    photo = upload_id(api_as(ann))
    attachment = Attachment.objects.get(pk=photo)
    client.force_login(ann)
    assert client.get(f"/media/{attachment.storage_name}").status_code == 404
    assert client.get(f"/api/attachments/{photo}/").status_code == 200  # the session works for pages' <img>


# Deleting: files follow their rows, on commit


def test_deleting_a_message_deletes_its_files_on_commit(ann, room, api_as, django_capture_on_commit_callbacks):
    client = api_as(ann)
    photo, notes = upload_id(client), upload_id(client, b"n", "n.txt", "text/plain")
    message_id = post_message(client, room, "", attachments=[photo, notes]).json()["id"]
    names = [name for a in Attachment.objects.all() for name in (a.storage_name, a.preview_name) if name]
    assert len(names) == 3 and all(stored(name) for name in names)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deleted = services.message_delete(user=ann, message_id=message_id)
    assert all(stored(name) for name in names)  # nothing happens before commit
    for callback in callbacks:
        callback()

    assert not any(stored(name) for name in names)
    assert not Attachment.objects.exists()
    assert events.message_payload(deleted)["attachments"] == []


def test_a_room_deleted_in_the_admin_takes_its_files_along(ann, room, api_as, django_capture_on_commit_callbacks):
    photo = upload_id(api_as(ann))
    post_message(api_as(ann), room, "x", attachments=[photo])
    attachment = Attachment.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        room.delete()
    assert not stored(attachment.storage_name) and not stored(attachment.preview_name)


def test_the_purge_deletes_old_unsent_uploads_only(ann, room, api_as, django_capture_on_commit_callbacks):
    client = api_as(ann)
    old_unsent, new_unsent, old_sent = (upload_id(client, b"%d" % n, f"{n}.txt", "text/plain") for n in range(3))
    post_message(client, room, "kept", attachments=[old_sent])
    day_ago = timezone.now() - timedelta(hours=25)
    Attachment.objects.filter(pk__in=[old_unsent, old_sent]).update(created_at=day_ago)
    old_name = Attachment.objects.get(pk=old_unsent).storage_name

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.attachments_purge_unsent.delay().get() == 1

    assert set(Attachment.objects.values_list("pk", flat=True)) == {new_unsent, old_sent}
    assert not stored(old_name)


# The batch path (WebSocket sends that arrive together)


@pytest.mark.services
def test_a_batch_links_files_and_gives_one_upload_to_one_send_only(ann, ben, api_as):
    room = group_room(ann, ben)
    mine, bens = upload_id(api_as(ann)), upload_id(api_as(ben), b"b", "b.txt", "text/plain")
    requests = [
        services.SendRequest(author=ann, room_id=room.pk, body="", client_id=uuid.uuid4(), attachment_ids=[mine]),
        services.SendRequest(author=ann, room_id=room.pk, body="dup", client_id=uuid.uuid4(), attachment_ids=[mine]),
        services.SendRequest(author=ann, room_id=room.pk, body="his", client_id=uuid.uuid4(), attachment_ids=[bens]),
        services.SendRequest(author=ben, room_id=room.pk, body="", client_id=uuid.uuid4(), attachment_ids=[bens]),
        services.SendRequest(author=ben, room_id=room.pk, body="", client_id=uuid.uuid4()),
    ]

    first, duplicate, foreign, bens_send, empty = services.message_send_many(requests=requests)

    assert [item.pk for item in first.prefetched_attachments] == [mine]
    assert [item.pk for item in bens_send.prefetched_attachments] == [bens]
    for refused, field in ((duplicate, "attachments"), (foreign, "attachments"), (empty, "body")):
        assert list(refused.message_dict) == [field]
    assert dict(Attachment.objects.values_list("pk", "message_id")) == {mine: first.pk, bens: bens_send.pk}
    assert events.message_payload(first)["attachments"][0]["id"] == mine


def test_the_send_event_checks_the_shape_of_attachments():
    from chat import protocol

    event = {"type": "message.send", "room": 1, "body": "", "client_id": "x", "attachments": [1, 2]}
    assert protocol.clean(event)["attachments"] == [1, 2]
    assert protocol.clean({**event, "attachments": None})["attachments"] is None
    for bad in ("1", [0], [True], ["1"], list(range(1, protocol.MAX_IDS + 2))):
        with pytest.raises(protocol.BadEvent):
            protocol.clean({**event, "attachments": bad})


# Admin


def test_the_message_admin_shows_its_files_read_only(admin_browser, ann, room, api_as):
    photo = upload_id(api_as(ann), image_bytes(), "cat <b>.png")
    message_id = post_message(api_as(ann), room, "x", attachments=[photo]).json()["id"]
    response = admin_browser.get(f"/admin/chat/message/{message_id}/change/")
    assert response.status_code == 200
    [formset] = [inline.formset for inline in response.context["inline_admin_formsets"]]
    assert list(formset.queryset) == [Attachment.objects.get(pk=photo)]
    assert "cat &lt;b&gt;.png" in response.content.decode() and "cat <b>.png" not in response.content.decode()
    assert "attachments-0-name" not in response.content.decode()  # no editable field


def test_deleting_a_person_with_their_messages_deletes_their_files(
    ann, ben, room, api_as, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    photo = upload_id(api_as(ann))
    post_message(api_as(ann), room, "", attachments=[photo])
    attachment = Attachment.objects.get(pk=photo)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("delete_user", "ann", "--messages=delete", "--yes", stdout=io.StringIO())
    assert not Attachment.objects.exists()
    assert not stored(attachment.storage_name) and not stored(attachment.preview_name)
