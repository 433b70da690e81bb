"""The room page as the server renders it: history pages reachable by plain links (no JavaScript
needed), day separators, the "New messages" divider, the "Seen" mark of direct rooms, reactions."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services as chat_services
from chat.models import Message
from rooms import services as room_services
from rooms.models import Membership
from rooms.selectors import RoomNotVisible, membership_access
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # Long histories are written here in a moment; the limit has its own tests.
    settings.MESSAGE_RATE_BURST = 100_000
    settings.MESSAGE_RATE_PER_SECOND = 100_000.0


def browser_for(user):
    browser = Client()
    browser.force_login(user)
    return browser


def say(author, room, body):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def bodies(page) -> list[str]:
    return re.findall(r'<div class="body">(.*?)</div>', page.content.decode())


def test_older_and_newer_pages_are_plain_links(ann, ben, room):
    for number in range(1, 121):
        say(ann if number % 2 else ben, room, f"message {number}")
    browser = browser_for(ann)

    newest = browser.get(f"/rooms/{room.pk}/")
    assert bodies(newest) == [f"message {n}" for n in range(71, 121)]
    assert 'href="?before=71"' in newest.content.decode()
    assert 'id="newer-link"' not in newest.content.decode()

    older = browser.get(f"/rooms/{room.pk}/?before=71")
    assert bodies(older) == [f"message {n}" for n in range(21, 71)]
    html = older.content.decode()
    assert 'href="?before=21"' in html and 'href="?after=70"' in html and 'data-around=""' in html

    oldest = browser.get(f"/rooms/{room.pk}/?before=21")
    assert bodies(oldest) == [f"message {n}" for n in range(1, 21)]
    assert 'id="older-link"' not in oldest.content.decode()

    newer = browser.get(f"/rooms/{room.pk}/?after=70")
    assert bodies(newer) == [f"message {n}" for n in range(71, 121)]


@pytest.mark.parametrize(
    "query", ["?before=abc", "?before=-3", "?after=", "?around=99999999", "?before=99999999999999999999999"]
)
def test_a_position_that_makes_no_sense_shows_the_newest_messages(ann, room, query):
    say(ann, room, "the only one")
    page = browser_for(ann).get(f"/rooms/{room.pk}/{query}")
    assert page.status_code == 200 and bodies(page) == ["the only one"]


def test_days_are_separated_and_the_body_s_markup_is_rendered(ann, room):
    old = say(ann, room, "from the **past**")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
    say(ann, room, "today <script>")
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    separators = re.findall(r'<li class="day-separator" role="separator"><span>(.*?)</span>', html)
    assert separators == ["Yesterday", "Today"]
    assert bodies_in(html) == ["from the <strong>past</strong>", "today &lt;script&gt;"]


def bodies_in(html):
    return re.findall(r'<div class="body">(.*?)</div>', html)


def test_the_new_messages_divider_sits_before_the_first_message_i_have_not_read(ann, ben, room):
    say(ben, room, "read already")
    chat_services.read_mark(user=ann, room_id=room.pk, seq=1)
    say(ann, room, "mine, read by sending it")
    unread = say(ben, room, "not read yet")
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    assert html.count('id="unread-divider"') == 1
    assert html.index('id="unread-divider"') < html.index(f'id="m-{unread.pk}"')
    assert html.index(f'id="m-{unread.pk - 1}"') < html.index('id="unread-divider"')
    assert 'id="unread-divider"' not in browser_for(ben).get(f"/rooms/{room.pk}/").content.decode()


def test_seen_marks_my_last_message_the_other_person_of_a_direct_room_read(ann, ben):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=ben)
    first, second = say(ann, direct, "one"), say(ann, direct, "two")
    html = browser_for(ann).get(f"/rooms/{direct.pk}/").content.decode()
    assert 'id="seen"' not in html and 'data-peer-read="0"' in html

    chat_services.read_mark(user=ben, room_id=direct.pk, seq=first.seq)
    html = browser_for(ann).get(f"/rooms/{direct.pk}/").content.decode()
    mark = html.index('id="seen"')
    assert html.index(f'id="m-{first.pk}"') < mark < html.index(f'id="m-{second.pk}"')

    # While my request waits for them, nothing says whether they read it.
    Membership.objects.filter(room=direct, user=ben).update(request=Membership.Request.PENDING)
    html = browser_for(ann).get(f"/rooms/{direct.pk}/").content.decode()
    assert 'id="seen"' not in html and "data-peer-read" not in html


def test_group_rooms_have_no_seen_mark(ann, ben, room):
    say(ann, room, "hello")
    chat_services.read_mark(user=ben, room_id=room.pk, seq=1)
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    assert 'id="seen"' not in html and "data-peer-read" not in html


def test_reactions_show_their_count_who_reacted_and_whether_i_did(ann, ben, bob):
    room = group_room(ann, ben, bob)
    message = say(ann, room, "react to me")
    for person in (ben, bob):
        chat_services.reaction_add(user=person, message_id=message.pk, emoji="👍")
    chat_services.reaction_add(user=ann, message_id=message.pk, emoji="🎉")
    html = browser_for(bob).get(f"/rooms/{room.pk}/").content.decode()
    thumbs = re.search(
        r'<button type="button" class="reaction( mine)?" data-emoji="👍" data-user-ids="([\d ]+)" '
        r'aria-pressed="(\w+)" title="([^"]*)">👍 <span class="count">(\d+)</span>',
        html,
    )
    assert thumbs.group(1) == " mine" and thumbs.group(3) == "true"
    assert thumbs.group(2) == f"{ben.pk} {bob.pk}" and thumbs.group(4) == "Ben, Bob" and thumbs.group(5) == "2"
    assert f'data-emoji="🎉" data-user-ids="{ann.pk}" aria-pressed="false" title="Ann"' in html


def test_my_messages_carry_their_text_for_editing_and_others_do_not(ann, ben, room):
    mine, theirs = say(ann, room, 'mine "quoted" <b>'), say(ben, room, "theirs")
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    assert 'data-body="mine &quot;quoted&quot; &lt;b&gt;"' in html
    item = re.search(rf'<li [^>]*id="m-{theirs.pk}"[^>]*>', html).group(0)
    assert "data-body" not in item and mine.pk != theirs.pk


def test_my_messages_carry_their_client_id_and_others_do_not(ann, ben, room):
    # The page drops a pending message restored after a reload once it sees it stored (room_outbox.js);
    # someone else's client_id is theirs alone.
    mine, theirs = say(ann, room, "mine"), say(ben, room, "theirs")
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    item = re.search(rf'<li [^>]*id="m-{mine.pk}"[^>]*>', html).group(0)
    assert f'data-client-id="{mine.client_id}"' in item
    assert str(theirs.client_id) not in html


def test_a_reply_shows_its_author_and_start_and_links_to_the_original(ann, ben, room):
    original = say(ben, room, "x" * 150)
    chat_services.message_send(
        author=ann, room_id=room.pk, body="answer", client_id=uuid.uuid4(), reply_to_id=original.pk
    )
    html = browser_for(ann).get(f"/rooms/{room.pk}/").content.decode()
    quote = re.search(
        r'<a class="reply" href="\?around=(\d+)" data-reply-to="\d+">'
        r'<span class="reply-author">(.*?)</span> <span class="reply-body">(.*?)</span>',
        html,
    )
    assert quote.groups() == (str(original.pk), "@ben", "x" * 99 + "…")


def test_the_page_costs_the_same_queries_however_long_the_history(ann, ben, room):
    def write(count):
        for number in range(count):
            message = say(ann if number % 2 else ben, room, f"m{number}")
            chat_services.reaction_add(user=ben, message_id=message.pk, emoji="👍")

    def queries():
        browser = browser_for(ann)
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(f"/rooms/{room.pk}/").status_code == 200
        return len(captured)

    write(3)
    few = queries()
    write(60)
    assert queries() == few


def test_a_reply_to_a_removed_message_says_why_at_no_extra_query(ann, ben, room, moderator):
    def reply_to(body):
        original = say(ben, room, body)
        chat_services.message_send(
            author=ann, room_id=room.pk, body="answer", client_id=uuid.uuid4(), reply_to_id=original.pk
        )
        return original

    def queries():
        browser = browser_for(ann)
        with CaptureQueriesContext(connection) as captured:
            page = browser.get(f"/rooms/{room.pk}/")
        return len(captured), page.content.decode()

    reply_to("still here")
    few, _ = queries()
    chat_services.message_remove(moderator=moderator, message_id=reply_to("awful").pk, reason="Spam")
    count, html = queries()
    assert count == few
    assert '<span class="reply-body">Removed by a moderator: Spam</span>' in html


def columns(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_membership_access_reads_the_membership_and_its_room_as_the_orm_does(ann, room, django_assert_num_queries):
    chat_services.message_send(author=ann, room_id=room.pk, body="hi", client_id=uuid.uuid4())
    expected = Membership.objects.select_related("room").get(user=ann, room=room)

    with django_assert_num_queries(1):
        membership = membership_access(user=ann, room_id=room.pk)
        assert columns(membership) == columns(expected) and columns(membership.room) == columns(expected.room)
    assert not membership._state.adding and membership.room.last_seq == 1


def test_membership_of_a_room_id_no_bigint_holds_is_not_visible(ann, room):
    for room_id in (2**63, -(2**63) - 1, 10**30):
        with pytest.raises(RoomNotVisible):
            membership_access(user=ann, room_id=room_id)
