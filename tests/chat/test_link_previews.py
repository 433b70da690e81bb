"""A message's link gets its card: fetched by the Celery task after commit, cached by URL, pushed as
message.preview, and part of every message payload and of the room page."""

import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import events, services, tasks
from chat.models import LinkPreview, Message
from tests.chat.realtime import published
from tests.chat.sockets import connected
from tests.chat.web import card_page, page


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """committed() -> a block whose on-commit work (eager Celery tasks included) runs as it ends."""
    return lambda execute=True: django_capture_on_commit_callbacks(execute=execute)


def send(author, room, body: str) -> Message:
    return services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def preview_tasks(callbacks) -> list:
    return [callback for callback in callbacks if getattr(callback, "func", None) == tasks.message_preview_fetch.delay]


@pytest.mark.django_db
class TestTheFlow:
    def test_a_sent_link_gets_its_card_announced_to_the_room_and_stored(self, ann, room, site, committed):
        site.routes["/news"] = page(card_page(title="Big <news>", image="/card.png"))

        def send_and_run_tasks():
            with committed():
                return send(ann, room, f"look at {site.url('/news')}!")

        received = published(events.room_group(room.pk), send_and_run_tasks, expect=2)

        message = Message.objects.select_related("preview").get(room=room)
        assert [event["type"] for event in received] == ["message.new", "message.preview"]
        assert received[0]["message"]["preview"] is None
        assert received[1] == {
            "type": "message.preview",
            "room": room.pk,
            "message_id": message.pk,
            "seq": message.seq,
            "preview": {
                "url": site.url("/news"),
                "title": "Big <news>",
                "description": "What the page is about",
                "image_url": site.url("/card.png"),
                "site_name": "Example",
            },
        }
        assert message.preview.url == site.url("/news") and message.preview.is_ok

    def test_the_history_payload_carries_the_card_and_a_message_without_one_carries_null(
        self, ann, room, site, api_as, committed
    ):
        site.routes["/a"] = page(card_page(title="Page A"))
        with committed():
            send(ann, room, site.url("/a"))
            send(ann, room, "no link")
        results = api_as(ann).get(f"/api/rooms/{room.pk}/messages/").json()["results"]
        assert results[0]["preview"]["title"] == "Page A" and results[0]["preview"]["url"] == site.url("/a")
        assert results[1]["preview"] is None

    def test_a_page_of_history_with_cards_costs_what_a_page_without_them_does(
        self, ann, ben, room, site, api_as, django_assert_num_queries, history_page_queries, committed
    ):
        for number in range(12):
            site.routes[f"/{number}"] = page(card_page(title=f"Page {number}"))
        with committed():
            for number in range(12):
                send(ann if number % 2 else ben, room, f"{site.url(f'/{number}')} {number}")
        client = api_as(ann)
        with django_assert_num_queries(history_page_queries):
            results = client.get(f"/api/rooms/{room.pk}/messages/").json()["results"]
        assert [message["preview"]["title"] for message in results] == [f"Page {number}" for number in range(12)]

    def test_one_url_is_fetched_once_for_many_messages(self, ann, ben, room, site, committed):
        site.routes["/same"] = page(card_page())
        with committed():
            send(ann, room, site.url("/same"))
            send(ben, room, f"same: {site.url('/same#section')}")
        assert site.paths() == ["/same"]
        assert LinkPreview.objects.count() == 1
        assert Message.objects.filter(room=room, preview__isnull=False).count() == 2

    def test_a_failed_link_is_remembered_and_tried_again_after_the_failure_ttl(self, ann, room, site, committed):
        with committed():
            send(ann, room, site.url("/gone"))
            send(ann, room, site.url("/gone"))
        assert site.paths() == ["/gone"]
        failed = LinkPreview.objects.get()
        assert failed.status == LinkPreview.Status.FAILED
        assert not Message.objects.filter(preview__isnull=False).exists()

        LinkPreview.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        site.routes["/gone"] = page(card_page(title="Back again"))
        with committed():
            third = send(ann, room, site.url("/gone"))
        assert site.paths() == ["/gone", "/gone"]
        assert Message.objects.get(pk=third.pk).preview.title == "Back again"

    def test_a_card_that_worked_is_kept_through_a_failed_refresh(self, ann, room, site, committed):
        site.routes["/p"] = page(card_page(title="First"))
        with committed():
            send(ann, room, site.url("/p"))
        LinkPreview.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        del site.routes["/p"]
        with committed():
            later = send(ann, room, site.url("/p"))
        preview = LinkPreview.objects.get()
        assert preview.is_ok and preview.title == "First" and preview.is_fresh
        assert Message.objects.get(pk=later.pk).preview_id == preview.pk

    def test_a_refused_link_gets_no_card_and_no_event(self, ann, room, unlisted_site, committed):
        def send_and_run_tasks():
            with committed():
                send(ann, room, "metadata: http://169.254.169.254/latest/meta-data/ " + unlisted_site.url("/"))

        received = published(events.room_group(room.pk), send_and_run_tasks)
        assert [event["type"] for event in received] == ["message.new"]
        assert LinkPreview.objects.get().status == LinkPreview.Status.FAILED
        assert unlisted_site.requests == []

    def test_switched_off_nothing_is_queued_or_fetched(self, ann, room, site, settings, committed):
        settings.LINK_PREVIEWS_ENABLED = False
        site.routes["/p"] = page(card_page())
        with committed() as callbacks:
            message = send(ann, room, site.url("/p"))
        assert preview_tasks(callbacks) == []
        # A task queued before the switch was turned off does nothing either.
        assert tasks.message_preview_fetch(message.pk) is False
        assert site.requests == [] and not LinkPreview.objects.exists()

    def test_messages_stored_in_one_batch_each_get_their_card(self, ann, ben, room, site, committed):
        site.routes |= {"/a": page(card_page(title="A")), "/b": page(card_page(title="B"))}
        requests = [
            services.SendRequest(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())
            for author, body in [(ann, site.url("/a")), (ben, "no link"), (ben, f"and {site.url('/b')}")]
        ]
        with committed():
            sent = services.message_send_many(requests=requests)
        cards = [Message.objects.get(pk=message.pk).preview for message in sent]
        assert [card.title if card else None for card in cards] == ["A", None, "B"]

    def test_only_a_body_with_a_link_queues_the_task(self, ann, room, committed):
        with committed(execute=False) as callbacks:
            send(ann, room, "no link, just words: example.com")
        assert preview_tasks(callbacks) == []
        with committed(execute=False) as callbacks:
            send(ann, room, "http://example.com/")
        assert len(preview_tasks(callbacks)) == 1


@pytest.mark.django_db
class TestEditsAndDeletes:
    @pytest.fixture
    def linked(self, ann, room, site, committed):
        site.routes |= {"/one": page(card_page(title="One")), "/two": page(card_page(title="Two"))}
        with committed():
            message = send(ann, room, f"see {site.url('/one')}")
        assert Message.objects.get(pk=message.pk).preview.title == "One"
        return message

    def test_an_edit_to_another_first_link_clears_the_card_and_fetches_the_new_one(
        self, ann, room, site, linked, committed
    ):
        def edit():
            with committed():
                services.message_edit(user=ann, message_id=linked.pk, body=f"no, {site.url('/two')}")

        received = published(events.room_group(room.pk), edit, expect=2)
        assert [event["type"] for event in received] == ["message.edited", "message.preview"]
        assert received[0]["message"]["preview"] is None
        assert received[1]["preview"]["title"] == "Two"
        assert Message.objects.get(pk=linked.pk).preview.title == "Two"

    def test_an_edit_that_keeps_the_first_link_keeps_the_card_without_fetching(self, ann, site, linked, committed):
        with committed() as callbacks:
            edited = services.message_edit(user=ann, message_id=linked.pk, body=f"see {site.url('/one')} (fixed typo)")
        assert preview_tasks(callbacks) == []
        assert events.message_payload(edited)["preview"]["title"] == "One"
        assert site.paths() == ["/one"]

    def test_an_edit_that_removes_the_link_removes_the_card(self, ann, linked, committed):
        with committed() as callbacks:
            edited = services.message_edit(user=ann, message_id=linked.pk, body="never mind")
        assert preview_tasks(callbacks) == []
        assert events.message_payload(edited)["preview"] is None
        assert Message.objects.get(pk=linked.pk).preview is None

    def test_a_deleted_message_loses_its_card_and_a_late_fetch_does_not_bring_it_back(self, ann, linked):
        services.message_delete(user=ann, message_id=linked.pk)
        assert Message.objects.get(pk=linked.pk).preview is None
        assert tasks.message_preview_fetch(linked.pk) is False
        assert Message.objects.get(pk=linked.pk).preview is None


@pytest.mark.django_db
def test_the_room_page_shows_the_card_escaped_with_a_safe_image(ann, room, site, client, committed):
    site.routes["/x"] = page(card_page(title="&lt;script&gt;alert(1)&lt;/script&gt;", description="A &amp; B"))
    with committed():
        send(ann, room, site.url("/x"))
    client.force_login(ann)
    html = client.get(f"/rooms/{room.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "A &amp; B" in html
    assert f'src="{site.url("/card.png")}"' in html and 'referrerpolicy="no-referrer"' in html


@pytest.mark.django_db(transaction=True)
async def test_the_card_reaches_a_connected_socket_after_the_message(ann, ben, room, site):
    site.routes["/live"] = page(card_page(title="Live card"))
    async with connected(ben) as ws:
        message = await database_sync_to_async(send)(ann, room, f"live: {site.url('/live')}")
        assert (await ws.expect("message.new"))["message"]["id"] == message.pk
        event = await ws.expect("message.preview")
        assert (event["room"], event["message_id"], event["seq"]) == (room.pk, message.pk, message.seq)
        assert event["preview"]["title"] == "Live card"


@pytest.mark.django_db
def test_staff_browse_the_cards_and_deleting_one_takes_it_off_its_messages(ann, room, site, admin_browser, committed):
    site.routes["/a"] = page(card_page(title="Cached card"))
    with committed():
        message = send(ann, room, site.url("/a"))
    preview = LinkPreview.objects.get()
    listing = admin_browser.get("/admin/chat/linkpreview/", {"q": "Cached"})
    assert list(listing.context["cl"].result_list) == [preview]
    assert admin_browser.get(f"/admin/chat/linkpreview/{preview.pk}/change/").status_code == 200
    assert admin_browser.get(f"/admin/chat/message/{message.pk}/change/").status_code == 200
    admin_browser.post(f"/admin/chat/linkpreview/{preview.pk}/delete/", {"post": "yes"})
    assert not LinkPreview.objects.exists() and Message.objects.get(pk=message.pk).preview is None


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_process_fetches_the_card_and_the_room_hears_of_it(
    ann, room, site, settings, celery_worker_process
):
    site.routes["/worker"] = page(card_page(title="Fetched by the worker"))
    # The worker is another process: it reads the allow-list (DEBUG) and the test's channel prefix from its environment.
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    celery_worker_process(LINK_PREVIEW_ALLOWED_HOSTS=site.host, CHANNEL_PREFIX=prefix)

    received = published(
        events.room_group(room.pk), lambda: send(ann, room, f"worker: {site.url('/worker')}"), expect=2, timeout=45
    )

    assert [event["type"] for event in received] == ["message.new", "message.preview"]
    assert received[1]["preview"]["title"] == "Fetched by the worker"
    assert Message.objects.get(room=room).preview.title == "Fetched by the worker"
