"""The README's screenshots: the main pages at desktop and phone widths, in the light and dark themes,
written to docs/screenshots/ by every run of the browser suite (so they follow the pages)."""

import struct

import pytest

from tests.e2e.conftest import ROOT, log_in

SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
# A small world to show: Sol's friends, a direct conversation, and public rooms with some talk in them.
WORLD = """
import uuid
from accounts import services as accounts
from accounts.models import FriendRequest, User
from chat.services import message_send
from rooms import services as rooms

sol, tam, uma, vic = (User.objects.get(handle=h) for h in ("sol", "tam", "uma", "vic"))
User.objects.filter(pk=tam.pk).update(bio="Gardener, reader, occasional baker. Ask me about tomatoes.")
for friend in (tam, uma):
    accounts.friend_request_send(sender=friend, recipient=sol)
    accounts.friend_request_accept(request=FriendRequest.objects.get(from_user=friend, to_user=sol))
accounts.friend_request_send(sender=vic, recipient=sol)

def say(author, room, body):
    message_send(author=author, room_id=room.pk, body=body, client_id=uuid.uuid4())

garden = rooms.room_create_group(creator=sol, title="Garden club", description="Seeds, soil and swaps.",
                                 category="Hobbies", is_public=True)
books = rooms.room_create_group(creator=uma, title="Book club", description="One book a month.",
                                category="Reading", is_public=True)
rooms.room_create_group(creator=vic, title="Night owls", description="For people awake at 3 am.",
                        category="Chat", is_public=True)
for person in (tam, uma):
    rooms.room_join(user=person, room_id=garden.pk)
rooms.room_join(user=sol, room_id=books.pk)
say(uma, books, "This month: The Left Hand of Darkness. Who is in?")
say(tam, garden, "The tomatoes are finally turning red!")
say(uma, garden, "Photos or it did not happen, @sol")
dm, _ = rooms.direct_room_get_or_create(user=tam, other=sol)
say(tam, dm, "Are we still on for Saturday?")
say(sol, dm, "Yes! 10 o'clock at the allotment.")
say(tam, dm, "Great, I'll bring the seedlings.")
print(dm.pk)
"""


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


@pytest.fixture(scope="module")
def world(server):
    server.make_people("sol", "tam", "uma", "vic")
    room_id = int(server.run(WORLD).strip().splitlines()[-1])
    return {
        "room": f"/rooms/{room_id}/",
        "friends": "/friends/",
        "profile": "/u/tam/",
        "settings": "/settings/profile/",
        "directory": "/rooms/directory/",
        "lobby": "/lobby/",
    }


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_the_main_pages_are_photographed_for_the_readme(server, chromium, world, size, theme):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport=SIZES[size], color_scheme=theme)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    written = [shoot(page, "login", size, theme)]
    log_in(server, page, "sol")
    for name, path in world.items():
        page.goto(f"{server.url}{path}")
        written.append(shoot(page, name, size, theme))
    context.close()
    for path in written:
        assert png_size(path) == (SIZES[size]["width"], SIZES[size]["height"])


def shoot(page, name: str, size: str, theme: str):
    page.wait_for_load_state("networkidle")
    path = SHOTS / f"{name}-{size}-{theme}.png"
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
