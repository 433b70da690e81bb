"""The app shell (base.html's sidebar, bell and menu) and the pages that sit in it: what they cost in
queries, that each renders for a signed-in person, and that people's text is shown as text."""

import re
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from accounts import services as account_services
from accounts.models import FriendRequest
from chat import services as chat_services
from chat.models import Notification
from config.context_processors import sidebar_rooms
from rooms import services as room_services
from rooms.models import Membership, Room, RoomInvite
from tests.rooms.factories import group_room, role_of

pytestmark = pytest.mark.django_db
NASTY = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def browser_for(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def say(author, room, body):
    return chat_services.message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())


def befriend(a, b):
    account_services.friend_request_send(sender=a, recipient=b)
    account_services.friend_request_accept(request=FriendRequest.objects.get(from_user=a, to_user=b))


def rooms_of(owner, make_user, count: int):
    for number in range(count):
        peer = make_user(f"peer{count}x{number}")
        direct, _ = room_services.direct_room_get_or_create(user=owner, other=peer)
        say(peer, direct, f"hello {number}")
        # The peer speaks in both: the owner alone would run into the per-person send limit.
        say(peer, group_room(owner, peer, title=f"Room {number}"), "welcome")


# The sidebar


def test_the_sidebar_lists_my_rooms_newest_first_with_unread_counts_peers_and_last_messages(ann, bob, ben):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    garden = group_room(ann, ben, title="Garden")
    say(bob, direct, "first")
    say(ben, garden, "then the garden")
    say(ben, garden, "and more")

    page = browser_for(ann).get("/friends/").content.decode()

    sidebar = page[page.index('id="sidebar-rooms"') : page.index("</ul>", page.index('id="sidebar-rooms"'))]
    assert sidebar.index("# Garden") < sidebar.index("Bob")
    assert f'data-room-id="{garden.pk}" data-kind="group" data-last-seq="2"' in sidebar
    assert f'data-peer-id="{bob.pk}"' in sidebar
    assert "Ben:</span> and more" in sidebar and "Bob:</span> first" in sidebar
    assert "<span data-unread>2</span>" in sidebar and "<span data-unread>1</span>" in sidebar


def test_the_open_room_is_marked_current_and_a_muted_room_says_so(ann, ben):
    garden = group_room(ann, ben, title="Garden")
    room_services.membership_notifications_set(user=ann, room_id=garden.pk, level="nothing")
    page = browser_for(ann).get(f"/rooms/{garden.pk}/").content.decode()
    assert f'href="/rooms/{garden.pk}/" aria-current="page"' in page
    assert 'data-muted="true"' in page


def test_the_sidebar_costs_the_same_queries_for_two_rooms_and_for_twenty(ann, make_user, django_assert_num_queries):
    rooms_of(ann, make_user, 1)
    # rooms with their newest messages, direct peers and the blocks that hide presence: one statement
    # on PostgreSQL, three ORM queries elsewhere
    queries = 1 if connection.vendor == "postgresql" else 3
    with django_assert_num_queries(queries):
        few = sidebar_rooms(user=ann)
    rooms_of(ann, make_user, 10)
    with django_assert_num_queries(queries):
        many = sidebar_rooms(user=ann)
    assert (len(few), len(many)) == (2, 22)


def test_a_page_with_the_sidebar_is_a_fixed_number_of_queries(ann, make_user, django_assert_num_queries):
    rooms_of(ann, make_user, 10)
    browser = browser_for(ann)
    # session and user, the bell's unread count, and the sidebar's one (three without PostgreSQL)
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 6):
        page = browser.get("/rooms/new/")
    rows = page.content.decode()
    assert (rows.count('data-kind="direct"'), rows.count('data-kind="group"')) == (10, 10)


def test_people_who_are_not_signed_in_or_not_verified_get_no_sidebar(make_user):
    assert b'id="sidebar"' not in Client().get("/").content
    assert b'id="sidebar"' not in Client().get("/login/").content
    unverified = make_user("newbie", verified=False)
    assert b'id="sidebar"' not in browser_for(unverified).get("/verify/").content


# Every page, and people's text


@pytest.fixture
def nasty_world(make_user):
    """Sol, whose friend, rooms, messages and notifications all carry markup in their text."""
    sol = make_user("sol", display_name=NASTY, bio=NASTY)
    mal = make_user("mal", display_name=NASTY, bio=NASTY)
    befriend(mal, sol)
    account_services.friend_request_send(sender=make_user("pat", display_name=NASTY), recipient=sol)
    room = room_services.room_create_group(creator=mal, title=NASTY, description=NASTY, is_public=True)
    room_services.room_join(user=sol, room_id=room.pk)
    say(mal, room, f"{NASTY} @sol")
    direct, _ = room_services.direct_room_get_or_create(user=mal, other=sol)
    say(mal, direct, NASTY)
    return sol, mal, room, direct


def test_every_page_of_the_shell_renders_for_a_signed_in_person_and_shows_markup_as_text(nasty_world):
    sol, mal, room, direct = nasty_world
    browser = browser_for(sol)
    pages = [
        "/",
        "/rooms/",
        "/rooms/new/",
        f"/rooms/{room.pk}/",
        f"/rooms/{room.pk}/settings/",
        f"/rooms/{direct.pk}/",
        f"/rooms/{direct.pk}/settings/",
        "/rooms/directory/",
        "/lobby/",
        "/friends/",
        "/u/mal/",
        "/u/sol/",
        "/settings/profile/",
        "/notifications/",
        "/search/?q=onerror",
        "/password/change/",
    ]
    for path in pages:
        response = browser.get(path)
        page = response.content.decode()
        assert response.status_code == 200, path
        assert NASTY not in page, path
        assert ESCAPED in page, path  # in the sidebar at least: the people and rooms are named with it


def test_public_pages_render_without_the_shell():
    for path in ("/", "/login/", "/signup/", "/password/reset/"):
        response = Client().get(path)
        assert response.status_code == 200, path
        assert b'class="public"' in response.content and b"Sign up" in response.content


# Creating a room; its settings and members


def test_a_room_is_created_from_its_own_page(ann):
    browser = browser_for(ann)
    created = browser.post("/rooms/new/", {"title": "Porch", "description": "Evenings", "is_public": "on"})
    room = Room.objects.get(title="Porch")
    assert created.url == f"/rooms/{room.pk}/" and room.is_public and role_of(room, ann) == "owner"
    refused = browser.post("/rooms/new/", {"title": ""})
    assert refused.status_code == 400 and b"This field is required" in refused.content


def test_owners_rename_a_room_and_members_only_read_its_details(ann, ben):
    room = group_room(ann, ben, title="Garden")
    saved = browser_for(ann).post(
        f"/rooms/{room.pk}/settings/", {"title": "Allotment", "description": "Soil", "category": "Hobby"}, follow=True
    )
    assert b"Room settings saved." in saved.content
    room.refresh_from_db()
    assert (room.title, room.description, room.category, room.is_public) == ("Allotment", "Soil", "Hobby", False)

    member_page = browser_for(ben).get(f"/rooms/{room.pk}/settings/").content.decode()
    assert "Only the room's owners and admins can change these." in member_page
    assert 'name="title"' not in member_page
    refused = browser_for(ben).post(f"/rooms/{room.pk}/settings/", {"title": "Mine now"}, follow=True)
    assert b"Only the room&#x27;s owners and admins can do this." in refused.content
    room.refresh_from_db()
    assert room.title == "Allotment"


def test_a_room_s_settings_are_not_found_by_outsiders(ann, bob):
    room = group_room(ann, title="Secret")
    outsider = browser_for(bob)
    assert outsider.get(f"/rooms/{room.pk}/settings/").status_code == 404
    assert outsider.post(f"/rooms/{room.pk}/invite/", {"handle": "bob"}).status_code == 404
    assert outsider.post(f"/rooms/{room.pk}/members/{ann.pk}/remove/").status_code == 404
    assert outsider.post(f"/rooms/{room.pk}/leave/").status_code == 404


def test_invitations_by_handle_and_accepting_them_from_the_rooms_page(ann, bob):
    room = group_room(ann, title="Garden")
    browser = browser_for(ann)
    unknown = browser.post(f"/rooms/{room.pk}/invite/", {"handle": "@nobody"})
    assert unknown.status_code == 400 and b"No one has that handle." in unknown.content
    invited = browser.post(f"/rooms/{room.pk}/invite/", {"handle": "@bob"}, follow=True)
    assert b"@bob is invited." in invited.content
    invite = RoomInvite.objects.get(room=room, user=bob)

    rooms_page = browser_for(bob).get("/rooms/").content.decode()
    assert "# Garden" in rooms_page and f"/rooms/invites/{invite.pk}/accept/" in rooms_page
    joined = browser_for(bob).post(f"/rooms/invites/{invite.pk}/accept/")
    assert joined.url == f"/rooms/{room.pk}/" and role_of(room, bob) == "member"
    assert browser_for(ann).post(f"/rooms/invites/{invite.pk}/accept/").status_code == 404  # not hers


def test_inviting_into_a_direct_room_is_404_and_a_blocked_or_too_frequent_invitation_a_form_message(
    ann, ben, bob, make_user, settings
):
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    browser = browser_for(ann)
    assert browser.post(f"/rooms/{direct.pk}/invite/", {"handle": "@ben"}).status_code == 404

    room = group_room(ann, title="Garden")
    account_services.block_create(blocker=ben, blocked=ann)
    blocked = browser.post(f"/rooms/{room.pk}/invite/", {"handle": "@ben"})
    assert blocked.status_code == 400 and b"This person cannot be invited." in blocked.content

    settings.ROOM_INVITE_RATE_BURST, settings.ROOM_INVITE_RATE_PER_HOUR = 1, 1
    browser.post(f"/rooms/{room.pk}/invite/", {"handle": "@bob"})
    cat = make_user("cat")
    refused = browser.post(f"/rooms/{room.pk}/invite/", {"handle": "@cat"})
    assert refused.status_code == 400 and b"You are sending too fast." in refused.content
    assert not RoomInvite.objects.filter(user=cat).exists()


def test_owners_change_roles_and_remove_members_and_members_cannot(ann, ben, bob):
    room = group_room(ann, ben, bob, title="Garden")
    owner = browser_for(ann)
    owner.post(f"/rooms/{room.pk}/members/{ben.pk}/role/", {"role": "admin"})
    assert role_of(room, ben) == "admin"
    wrong = owner.post(f"/rooms/{room.pk}/members/{ben.pk}/role/", {"role": "king"}, follow=True)
    assert b"Choose a role" in wrong.content and role_of(room, ben) == "admin"

    refused = browser_for(bob).post(f"/rooms/{room.pk}/members/{ben.pk}/remove/", follow=True)
    assert b"Only the room&#x27;s owners and admins can do this." in refused.content and role_of(room, ben) == "admin"
    owner.post(f"/rooms/{room.pk}/members/{bob.pk}/remove/")
    assert role_of(room, bob) is None
    gone = owner.post(f"/rooms/{room.pk}/members/{bob.pk}/remove/", follow=True)
    assert b"This person is not in the room." in gone.content


def test_leaving_a_group_room_and_not_a_direct_one(ann, ben, bob):
    room = group_room(ann, ben, title="Garden")
    left = browser_for(ben).post(f"/rooms/{room.pk}/leave/")
    assert left.url == "/rooms/" and role_of(room, ben) is None
    direct, _ = room_services.direct_room_get_or_create(user=ann, other=bob)
    stays = browser_for(ann).post(f"/rooms/{direct.pk}/leave/", follow=True)
    assert b"A direct conversation cannot be left." in stays.content
    assert Membership.objects.filter(room=direct, user=ann).exists()


# Profile, friends, notifications


def test_a_profile_shows_presence_and_last_seen_to_friends_only(ann, bob, ben):
    befriend(ann, bob)
    assert b'id="profile-presence"' in browser_for(ann).get("/u/bob/").content
    assert b"Not seen yet" in browser_for(ann).get("/u/bob/").content
    assert b'id="profile-presence"' in browser_for(bob).get("/u/bob/").content
    assert b'id="profile-presence"' not in browser_for(ben).get("/u/bob/").content
    assert b'id="profile-presence"' not in Client().get("/u/bob/").content


def test_unfriending_and_blocking_from_the_friends_page_come_back_to_it(ann, bob, ben):
    befriend(ann, bob)
    befriend(ann, ben)
    browser = browser_for(ann)
    assert browser.post("/u/bob/unfriend/", {"next": "/friends/"}).url == "/friends/"
    assert browser.post("/u/ben/block/", {"next": "https://evil.example/"}).url == "/u/ben/"  # not elsewhere
    assert b"Bob" not in browser.get("/friends/").content.split(b'class="friend-list"')[-1].split(b"</ul>")[0]


def test_one_notification_is_marked_read_without_javascript(ann, bob):
    notification = Notification.objects.create(user=ann, kind=Notification.Kind.FRIEND_REQUEST, actor=bob)
    browser = browser_for(ann)
    page = browser.get("/notifications/").content.decode()
    assert f'action="/notifications/{notification.pk}/read/"' in page
    assert f'data-api="/api/notifications/{notification.pk}/read/"' in page
    assert browser.post(f"/notifications/{notification.pk}/read/").url == "/notifications/"
    notification.refresh_from_db()
    assert notification.is_read
    assert browser_for(bob).post(f"/notifications/{notification.pk}/read/").status_code == 404


# The palette


def palette(theme: str) -> dict[str, str]:
    """The colour variables of parley.css: the light ones, overridden by the dark block for "dark"."""
    css = (Path(__file__).resolve().parent.parent / "static" / "css" / "parley.css").read_text()
    light, dark = css.split("@media (prefers-color-scheme: dark)", 1)
    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", light[: light.index("}")]))
    if theme == "dark":
        colours |= dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", dark[: dark.index("}\n}")]))
    return colours


def contrast(one: str, other: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# Text colour on the backgrounds it is drawn on.
TEXT_ON = [
    ("text", "bg"), ("text", "surface"), ("text", "selected"), ("muted", "bg"), ("muted", "surface"),
    ("muted", "hover"), ("muted", "selected"), ("accent", "bg"), ("accent", "surface"), ("accent", "selected"),
    ("accent-text", "accent"), ("accent-text", "muted"), ("danger", "surface"), ("ok", "surface"),
]  # fmt: skip


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_has_at_least_wcag_aa_contrast_in_both_themes(theme):
    colours = palette(theme)
    low = {(fg, bg): round(contrast(colours[fg], colours[bg]), 2) for fg, bg in TEXT_ON}
    assert {pair: ratio for pair, ratio in low.items() if ratio < 4.5} == {}


def test_the_open_room_s_row_links_its_settings_page(ann, ben):
    garden = group_room(ann, ben, title="Garden")
    page = browser_for(ben).get(f"/rooms/{garden.pk}/").content.decode()
    # The open room's sidebar row, and the room's own header (the one shown when the sidebar is a closed drawer)
    assert page.count(f'href="/rooms/{garden.pk}/settings/"') == 2
    assert f'href="/rooms/{garden.pk}/settings/"' not in browser_for(ben).get("/friends/").content.decode()


def test_the_open_room_shows_no_unread_count_as_its_page_shows_the_messages(ann, ben):
    garden = group_room(ann, ben, title="Garden")
    say(ben, garden, "unread by ann")
    browser = browser_for(ann)
    assert "<span data-unread>1</span>" in browser.get("/friends/").content.decode()
    page = browser.get(f"/rooms/{garden.pk}/").content.decode()
    assert "<span data-unread>0</span>" in page and "<span data-unread>1</span>" not in page


def test_a_room_s_settings_page_keeps_its_unread_count_in_the_sidebar(ann, ben):
    garden = group_room(ann, ben, title="Garden")
    say(ben, garden, "unread by ann")
    page = browser_for(ann).get(f"/rooms/{garden.pk}/settings/").content.decode()
    sidebar = page[page.index('id="sidebar-rooms"') : page.index("</ul>", page.index('id="sidebar-rooms"'))]
    # Its messages are not on this page (and nothing marks them read here): the row counts them.
    assert "<span data-unread>1</span>" in sidebar and 'class="conversation unread"' in sidebar
    assert 'aria-current="page"' not in sidebar
