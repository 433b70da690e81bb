"""The first view of a room shows who is online already, not only who comes online later."""

import time

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from chat import presence
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db


def test_online_among_answers_for_many_people_at_once(make_user):
    ann, ben, cy = make_user("ann"), make_user("ben"), make_user("cy")
    async_to_sync(presence.connection_alive)(user_id=ann.pk, connection="tab-1")
    async_to_sync(presence.connection_alive)(user_id=cy.pk, connection="tab-1")
    async_to_sync(presence.connection_gone)(user_id=cy.pk, connection="tab-1")
    try:
        assert async_to_sync(presence.online_among)([ann.pk, ben.pk, cy.pk]) == {ann.pk}
        assert async_to_sync(presence.online_among)([]) == set()
        # The same answer for synchronous code (views, selectors, tasks), without an event loop.
        assert presence.online_among_now([ann.pk, ben.pk, cy.pk]) == {ann.pk}
        assert presence.online_among_now([]) == set()
    finally:
        async_to_sync(presence.connection_gone)(user_id=ann.pk, connection="tab-1")


def test_online_among_now_leaves_out_expired_entries_and_answers_for_more_than_a_chunk(make_user, settings):
    ann, ben = make_user("ann"), make_user("ben")
    settings.WS_HEARTBEAT_SECONDS = 0.2  # entries live 0.5 s
    async_to_sync(presence.connection_alive)(user_id=ben.pk, connection="tab-1")
    time.sleep(0.6)  # ben's process died: his entry was never removed, only never refreshed
    async_to_sync(presence.connection_alive)(user_id=ann.pk, connection="tab-1")
    try:
        # Ids past the first 500 are looked up too (the script asks Redis in chunks).
        many = [10**9 + number for number in range(1_200)] + [ben.pk, ann.pk]
        assert presence.online_among_now(many) == {ann.pk}
    finally:
        for person in (ann, ben):
            async_to_sync(presence.connection_gone)(user_id=person.pk, connection="tab-1")


def test_the_room_page_renders_members_who_are_online_already(make_user):
    ann, ben = make_user("ann"), make_user("ben")
    room = group_room(ann, ben)
    async_to_sync(presence.connection_alive)(user_id=ben.pk, connection="tab-1")
    try:
        browser = Client()
        browser.force_login(ann)
        page = browser.get(f"/rooms/{room.pk}/").content.decode()
    finally:
        async_to_sync(presence.connection_gone)(user_id=ben.pk, connection="tab-1")
    ben_row = page[page.index(f'data-user-id="{ben.pk}"') :][:200]
    ann_row = page[page.index(f'<li data-user-id="{ann.pk}"') :][:200]
    assert 'class="presence online"' in ben_row and 'class="presence online"' not in ann_row
