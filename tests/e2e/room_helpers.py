"""Helpers of the room view's browser tests: data written through the server's Django, sign-in of a
context with its own options, and a gate between a page and its WebSocket."""

import json
import re

from tests.e2e.conftest import PASSWORD

# The send limit (10 at once, then 2 a second) has its own tests; histories are written at once here.
_UNLIMITED = (
    "from django.conf import settings\nsettings.MESSAGE_RATE_BURST = 10**6\nsettings.MESSAGE_RATE_PER_SECOND = 1e6\n"
)


def group_room(server, owner: str, *members: str, title: str = "Room") -> int:
    script = (
        "from accounts.models import User\nfrom rooms import services\nfrom rooms.models import Membership\n"
        f"room = services.room_create_group(creator=User.objects.get(handle={owner!r}), title={title!r})\n"
        f"for handle in {list(members)!r}:\n"
        "    Membership.objects.create(room=room, user=User.objects.get(handle=handle))\n"
        "print(room.pk)\n"
    )
    return int(server.run(script))


def write(server, room_id: int, messages: list[tuple[str, str]]) -> list[int]:
    """Store [(author handle, body)] in the room, in order; their message ids."""
    script = _UNLIMITED + (
        "import json, uuid\nfrom accounts.models import User\nfrom chat import services\n"
        f"ids = [services.message_send(author=User.objects.get(handle=h), room_id={room_id}, body=b,"
        f" client_id=uuid.uuid4()).pk for h, b in {messages!r}]\n"
        "print(json.dumps(ids))\n"
    )
    return json.loads(server.run(script))


def stored_bodies(server, room_id: int) -> list[str]:
    script = (
        "import json\nfrom chat.models import Message\n"
        f"bodies = Message.objects.filter(room_id={room_id}).order_by('seq').values_list('body', flat=True)\n"
        "print(json.dumps(list(bodies)))\n"
    )
    return json.loads(server.run(script))


def sign_in(chromium, server, handle: str, **options):
    """A page of a new context (closed by the caller through page.context) signed in as `handle`."""
    context = chromium.new_context(**{"viewport": {"width": 1000, "height": 700}, **options})
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", f"{handle}@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
    return page


def room_ready(page):
    """The room's scripts have run (the toolbar of messages, or the composer's enhancement, is there)."""
    page.wait_for_selector(".attach.enhanced", state="attached")


class SocketGate:
    """Stands between a page and /ws/ (Playwright's route_web_socket, installed before the page opens
    the room): it can drop what the page sends, drop the server's acks, or cut the connection and
    refuse new ones, which closes the page's WebSocket the way a lost network does."""

    def __init__(self, page):
        self.drop_sends = False
        self.drop_acks = False
        self.refuse = False
        self.open: list = []
        self.sent: list[dict] = []
        page.route_web_socket(re.compile(r"/ws/$"), self._route)

    def _route(self, ws):
        if self.refuse:
            ws.close(code=1001)
            return
        server = ws.connect_to_server()
        self.open.append(ws)
        ws.on_message(lambda message: self._from_page(server, message))
        server.on_message(lambda message: self._from_server(ws, message))

    def _from_page(self, server, message):
        event = json.loads(message)
        if event.get("type") == "message.send":
            if self.drop_sends:
                return
            self.sent.append(event)
        server.send(message)

    def _from_server(self, ws, message):
        if self.drop_acks and json.loads(message).get("type") in ("message.ack", "message.new"):
            return
        ws.send(message)

    def cut(self):
        self.refuse = True
        for ws in self.open:
            ws.close(code=1001)
        self.open.clear()
