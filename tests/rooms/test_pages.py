import uuid

import pytest
from django.test import Client

from chat import services as chat_services
from chat.models import Message
from rooms import services
from rooms.models import Room

pytestmark = pytest.mark.django_db


def browser_for(user):
    browser = Client()
    browser.force_login(user)
    return browser


def say(author, room, body):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def test_the_message_button_opens_one_direct_room_and_its_history(ann, bob):
    first = browser_for(ann).post("/u/bob/message/")
    second = browser_for(bob).post("/u/ann/message/")
    assert first.url == second.url
    room = Room.objects.get(kind=Room.Kind.DIRECT)
    say(bob, room, "hi <b>ann</b>")

    page = browser_for(ann).get(first.url)

    assert page.status_code == 200
    assert b"hi &lt;b&gt;ann&lt;/b&gt;" in page.content and b"<b>ann</b>" not in page.content
    assert b'data-last-seq="1"' in page.content and b"Bob" in page.content


def test_a_room_page_sends_without_javascript_and_a_retried_post_is_stored_once(ann):
    room = services.room_create_group(creator=ann, title="Garden")
    browser = browser_for(ann)
    client_id = str(uuid.uuid4())
    for _ in range(2):
        response = browser.post(f"/rooms/{room.pk}/send/", {"body": "  plain post  ", "client_id": client_id})
        assert response.url == f"/rooms/{room.pk}/"
    assert list(Message.objects.values_list("body", "seq")) == [("plain post", 1)]
    assert b"plain post" in browser.get(f"/rooms/{room.pk}/").content


def test_an_empty_or_too_long_post_shows_an_error(ann):
    room = services.room_create_group(creator=ann, title="Garden")
    page = browser_for(ann).post(f"/rooms/{room.pk}/send/", {"body": "", "client_id": str(uuid.uuid4())}, follow=True)
    assert b"Write something to send" in page.content
    assert not Message.objects.exists()


def test_outsiders_get_404_for_private_rooms_and_a_join_button_for_public_ones(ann, bob):
    private = services.room_create_group(creator=ann, title="Secret")
    public = services.room_create_group(creator=ann, title="Lobby", is_public=True)
    outsider = browser_for(bob)

    assert outsider.get(f"/rooms/{private.pk}/").status_code == 404
    assert outsider.post(f"/rooms/{private.pk}/send/", {"body": "x", "client_id": str(uuid.uuid4())}).status_code == 404
    assert b"Join room" in outsider.get(f"/rooms/{public.pk}/").content
    assert outsider.post(f"/rooms/{public.pk}/join/").url == f"/rooms/{public.pk}/"
    assert b'id="composer"' in outsider.get(f"/rooms/{public.pk}/").content


def test_the_rooms_page_lists_my_rooms_and_creates_one(ann, bob):
    services.direct_room_get_or_create(user=ann, other=bob)
    browser = browser_for(ann)
    created = browser.post("/rooms/", {"title": "Book club", "description": "", "category": "", "is_public": "on"})
    room = Room.objects.get(title="Book club")
    assert created.url == f"/rooms/{room.pk}/" and room.is_public
    page = browser.get("/rooms/")
    assert b"# Book club" in page.content and b"@bob" in page.content


def test_creating_a_room_without_a_title_is_a_form_error(ann):
    page = browser_for(ann).post("/rooms/", {"title": ""})
    assert page.status_code == 200 and b"This field is required" in page.content


def test_files_can_be_sent_without_javascript_and_show_in_the_page(ann, tmp_path):
    from chat.models import Attachment
    from tests.accounts.images import image_bytes, upload

    room = services.room_create_group(creator=ann, title="Garden")
    browser = browser_for(ann)
    files = [upload(image_bytes(size=(120, 80)), name="rose.png"), upload(b"dig here", "plan <1>.txt", "text/plain")]
    sent = browser.post(f"/rooms/{room.pk}/send/", {"body": "", "client_id": str(uuid.uuid4()), "files": files})
    assert sent.url == f"/rooms/{room.pk}/"
    message = Message.objects.get()
    rose, plan = Attachment.objects.filter(message=message).order_by("pk")
    page = browser.get(f"/rooms/{room.pk}/").content.decode()
    assert f'<img src="/api/attachments/{rose.pk}/preview/" width="120" height="80" alt="rose.png"' in page
    assert "plan &lt;1&gt;.txt" in page and "plan <1>" not in page
    assert f'href="/api/attachments/{plan.pk}/" download' in page


def test_a_file_refused_without_javascript_is_a_message_on_the_page(ann):
    from tests.accounts.images import bomb_png, upload

    room = services.room_create_group(creator=ann, title="Garden")
    data = {"body": "look", "client_id": str(uuid.uuid4()), "files": [upload(bomb_png(), "tiny.png")]}
    page = browser_for(ann).post(f"/rooms/{room.pk}/send/", data, follow=True)
    assert b"The image has too many pixels." in page.content
    assert not Message.objects.exists()
