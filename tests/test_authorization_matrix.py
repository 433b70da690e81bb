"""Who may call what: every API operation, asked by six kinds of caller.

The operations come from the OpenAPI schema (and the URL resolver for the two routes the schema
leaves out), so a new endpoint without a row here fails `test_every_api_operation_has_a_row`.

The world: ben owns a private group room with ann in it, wrote a message there with a file, and is
the person each "mine" object belongs to (an invitation, friend requests both ways, a friendship,
a block, a notification, a message request). ann has blocked dave. The callers:
  anonymous   no credentials                      -> 401 for anything not public
  unverified  signed in, address not verified     -> 403 for anything reaching other people
  member      ben, whose objects these are        -> allowed (2xx)
  non_member  carol, verified, in nothing of ben's -> 404, exactly as for an id that does not exist
  blocked     dave, blocked by ann                 -> 404 for ann; elsewhere as non_member
  admin       a superuser outside the room         -> the API grants staff nothing: as non_member
"""

import uuid
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from accounts.models import DmPolicy, FriendRequest
from chat import notifications
from chat import services as chat_services
from chat.models import Attachment, Notification
from rooms import services as room_services
from rooms.models import RoomInvite
from tests.accounts.images import image_bytes, upload
from tests.accounts.social import befriend
from tests.chat.attachments import upload_id
from tests.conftest import PASSWORD
from tests.rooms.factories import group_room

pytestmark = pytest.mark.django_db
ROLES = ("anonymous", "unverified", "member", "non_member", "blocked", "admin")
ALLOWED = "2xx"


@dataclass
class World:
    ann: object
    ben: object
    carol: object
    dave: object
    eve: object
    room: object
    other_room: object
    message: object
    attachment: object
    invite: object
    request_to_ben: object
    request_from_ben: object
    friend: object
    blocked_by_ben: object
    notification: object
    message_request: object
    callers: dict = field(default_factory=dict)


@pytest.fixture
def world(make_user, api_as) -> World:
    ann, ben = make_user("ann"), make_user("ben", dm_policy=DmPolicy.REQUESTS)
    carol, dave, eve = make_user("carol"), make_user("dave"), make_user("eve")
    friend, hal, ivy = make_user("gus"), make_user("hal"), make_user("ivy")
    room = group_room(ben, ann, title="Ben's room")
    other_room = group_room(ann, title="Ann's other room")
    invite = room_services.room_invite(by=ann, room_id=other_room.pk, user=ben)
    attachment_id = upload_id(api_as(ben))
    message = chat_services.message_send(
        author=ben, room_id=room.pk, body="hello", client_id=uuid.uuid4(), attachment_ids=[attachment_id]
    )
    account_services.friend_request_send(sender=eve, recipient=ben)
    account_services.friend_request_send(sender=ben, recipient=ann)
    befriend(ben, friend)
    account_services.block_create(blocker=ben, blocked=hal)
    account_services.block_create(blocker=ann, blocked=dave)
    request_room, _ = room_services.direct_room_get_or_create(user=ivy, other=ben)
    chat_services.message_send(author=ivy, room_id=request_room.pk, body="hi ben", client_id=uuid.uuid4())
    notification = notifications.notification_create(user=ben, kind=Notification.Kind.ROOM_INVITE, actor=ann)
    world = World(
        ann=ann,
        ben=ben,
        carol=carol,
        dave=dave,
        eve=eve,
        room=room,
        other_room=other_room,
        message=message,
        attachment=Attachment.objects.get(pk=attachment_id),
        invite=RoomInvite.objects.get(pk=invite.pk),
        request_to_ben=FriendRequest.objects.get(from_user=eve, to_user=ben),
        request_from_ben=FriendRequest.objects.get(from_user=ben, to_user=ann),
        friend=friend,
        blocked_by_ben=hal,
        notification=notification,
        message_request=request_room,
    )
    world.callers = {
        "anonymous": None,
        "unverified": make_user("newbie", verified=False),
        "member": ben,
        "non_member": carol,
        "blocked": dave,
        "admin": make_user("boss", is_staff=True, is_superuser=True),
    }
    return world


def client_of(world: World, role: str) -> APIClient:
    # Six different people: six addresses, so that per-address throttles do not count them as one.
    client = APIClient(REMOTE_ADDR=f"192.0.2.{ROLES.index(role) + 1}")
    person = world.callers[role]
    if role == "unverified":
        client.force_login(person)  # No token for them: a session is the only way they are signed in.
    elif person is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(person).access_token}")
    return client


# What each kind of caller gets, by the kind of operation.
PUBLIC = dict.fromkeys(ROLES, ALLOWED)
OWN_ACCOUNT = {**dict.fromkeys(ROLES, ALLOWED), "anonymous": 401}
VERIFIED = {**OWN_ACCOUNT, "unverified": 403}
BENS = {**VERIFIED, "non_member": 404, "blocked": 404, "admin": 404}
ABOUT_ANN = {**VERIFIED, "blocked": 404}


@dataclass(frozen=True)
class Row:
    expected: dict
    path: dict = field(default_factory=dict)  # {placeholder: World -> id}
    body: object = None  # World, caller -> request body
    query: str = ""
    multipart: bool = False
    note: str = ""


def png(world, caller):
    return {"file": upload(image_bytes(size=(40, 30)), name="pic.png")}


def avatar(world, caller):
    return {"avatar": upload(image_bytes(size=(40, 30)), name="me.png")}


def new_account() -> dict:
    return {"email": "new@example.com", "handle": f"new{uuid.uuid4().hex[:8]}", "password": PASSWORD}


def refresh_of(world, caller):
    # An anonymous caller holding someone else's refresh token still cannot log them out.
    return {"refresh": str(RefreshToken.for_user(caller or world.ann))}


room_id = {"room_id": lambda w: w.room.pk}
message_id = {"message_id": lambda w: w.message.pk}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/schema/"): Row(PUBLIC),
    ("GET", "/api/docs/"): Row(PUBLIC),
    ("POST", "/api/auth/register/"): Row(PUBLIC, body=lambda w, c: new_account()),
    ("POST", "/api/auth/verify/"): Row(
        {**dict.fromkeys(ROLES, 400)}, body=lambda w, c: {"email": "ann@example.com", "code": "000000"}
    ),
    ("POST", "/api/auth/resend/"): Row(PUBLIC, body=lambda w, c: {"email": "ann@example.com"}),
    ("POST", "/api/auth/token/"): Row(PUBLIC, body=lambda w, c: {"email": "ann@example.com", "password": PASSWORD}),
    ("POST", "/api/auth/token/refresh/"): Row(PUBLIC, body=lambda w, c: {"refresh": str(RefreshToken.for_user(w.ann))}),
    ("POST", "/api/auth/logout/"): Row(OWN_ACCOUNT, body=refresh_of),
    ("POST", "/api/ws-ticket/"): Row(VERIFIED),
    ("GET", "/api/me/"): Row(OWN_ACCOUNT),
    ("PATCH", "/api/me/"): Row(OWN_ACCOUNT, body=lambda w, c: {"bio": "Hello"}),
    ("PUT", "/api/me/avatar/"): Row(OWN_ACCOUNT, body=avatar, multipart=True),
    ("POST", "/api/me/avatar/"): Row(OWN_ACCOUNT, body=avatar, multipart=True),
    ("DELETE", "/api/me/avatar/"): Row(OWN_ACCOUNT),
    ("GET", "/api/users/"): Row(VERIFIED, query="search=a"),
    ("GET", "/api/users/{user_id}/"): Row(ABOUT_ANN, path={"user_id": lambda w: w.ann.pk}),
    ("GET", "/api/friends/"): Row(VERIFIED),
    ("DELETE", "/api/friends/{user_id}/"): Row(BENS, path={"user_id": lambda w: w.friend.pk}),
    ("GET", "/api/friends/requests/"): Row(VERIFIED),
    # A blocked person's request "succeeds" and stores nothing, so that the block stays secret.
    ("POST", "/api/friends/requests/"): Row(VERIFIED, body=lambda w, c: {"user": w.ann.pk}),
    ("DELETE", "/api/friends/requests/{request_id}/"): Row(BENS, path={"request_id": lambda w: w.request_from_ben.pk}),
    ("POST", "/api/friends/requests/{request_id}/accept/"): Row(
        BENS, path={"request_id": lambda w: w.request_to_ben.pk}
    ),
    ("POST", "/api/friends/requests/{request_id}/decline/"): Row(
        BENS, path={"request_id": lambda w: w.request_to_ben.pk}
    ),
    ("GET", "/api/blocks/"): Row(VERIFIED),
    ("POST", "/api/blocks/"): Row(VERIFIED, body=lambda w, c: {"user": w.eve.pk}),
    ("DELETE", "/api/blocks/{user_id}/"): Row(BENS, path={"user_id": lambda w: w.blocked_by_ben.pk}),
    ("POST", "/api/reports/"): Row(VERIFIED, body=lambda w, c: {"user": w.eve.pk, "reason": "spam"}),
    ("GET", "/api/rooms/"): Row(VERIFIED),
    ("POST", "/api/rooms/"): Row(VERIFIED, body=lambda w, c: {"title": "Mine"}),
    # Opening a conversation with someone who blocked me answers like a closed account: a 400.
    ("POST", "/api/rooms/direct/"): Row({**ABOUT_ANN, "blocked": 400}, body=lambda w, c: {"user": w.ann.pk}),
    ("GET", "/api/rooms/public/"): Row(VERIFIED),
    ("GET", "/api/lobby/"): Row(VERIFIED),
    ("GET", "/api/rooms/requests/"): Row(VERIFIED),
    ("POST", "/api/rooms/requests/{room_id}/accept/"): Row(BENS, path={"room_id": lambda w: w.message_request.pk}),
    ("POST", "/api/rooms/requests/{room_id}/ignore/"): Row(BENS, path={"room_id": lambda w: w.message_request.pk}),
    ("GET", "/api/rooms/{room_id}/"): Row(BENS, path=room_id),
    ("PATCH", "/api/rooms/{room_id}/"): Row(BENS, path=room_id, body=lambda w, c: {"title": "Renamed"}),
    ("GET", "/api/rooms/{room_id}/members/"): Row(BENS, path=room_id),
    ("POST", "/api/rooms/{room_id}/members/"): Row(BENS, path=room_id, body=lambda w, c: {"user": w.eve.pk}),
    ("PATCH", "/api/rooms/{room_id}/members/{user_id}/"): Row(
        BENS, path={**room_id, "user_id": lambda w: w.ann.pk}, body=lambda w, c: {"role": "admin"}
    ),
    ("DELETE", "/api/rooms/{room_id}/members/{user_id}/"): Row(BENS, path={**room_id, "user_id": lambda w: w.ann.pk}),
    ("PATCH", "/api/rooms/{room_id}/membership/"): Row(
        BENS, path=room_id, body=lambda w, c: {"notification_level": "mentions"}
    ),
    ("POST", "/api/rooms/{room_id}/transfer/"): Row(BENS, path=room_id, body=lambda w, c: {"user": w.ann.pk}),
    ("GET", "/api/rooms/{room_id}/messages/"): Row(BENS, path=room_id),
    ("POST", "/api/rooms/{room_id}/messages/"): Row(
        BENS, path=room_id, body=lambda w, c: {"body": "hi", "client_id": str(uuid.uuid4())}
    ),
    ("POST", "/api/rooms/{room_id}/read/"): Row(BENS, path=room_id, body=lambda w, c: {"seq": 1}),
    ("GET", "/api/invites/"): Row(VERIFIED),
    ("POST", "/api/invites/{invite_id}/accept/"): Row(BENS, path={"invite_id": lambda w: w.invite.pk}),
    ("PATCH", "/api/messages/{message_id}/"): Row(BENS, path=message_id, body=lambda w, c: {"body": "edited"}),
    ("DELETE", "/api/messages/{message_id}/"): Row(BENS, path=message_id),
    ("POST", "/api/messages/{message_id}/reactions/"): Row(BENS, path=message_id, body=lambda w, c: {"emoji": "👍"}),
    ("DELETE", "/api/messages/{message_id}/reactions/"): Row(
        BENS, path=message_id, query="emoji=%F0%9F%91%8D", note="a reaction ben does not have is still a 2xx"
    ),
    ("GET", "/api/search/"): Row(VERIFIED, query="q=hello"),
    ("POST", "/api/uploads/"): Row(VERIFIED, body=png, multipart=True),
    ("GET", "/api/attachments/{attachment_id}/"): Row(BENS, path={"attachment_id": lambda w: w.attachment.pk}),
    ("GET", "/api/attachments/{attachment_id}/preview/"): Row(BENS, path={"attachment_id": lambda w: w.attachment.pk}),
    ("GET", "/api/notifications/"): Row(VERIFIED),
    ("POST", "/api/notifications/read/"): Row(VERIFIED),
    ("POST", "/api/notifications/{notification_id}/read/"): Row(
        BENS, path={"notification_id": lambda w: w.notification.pk}
    ),
}


def schema_operations() -> set[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    methods = {"get", "post", "put", "patch", "delete"}
    return {(method.upper(), path) for path, item in schema["paths"].items() for method in item if method in methods}


def unschematized_api_routes(patterns=None, prefix="") -> set[str]:
    """Routes under /api/ that are views but not operations of the schema (the schema and its docs)."""
    routes = set()
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= unschematized_api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route in ("api/schema/", "api/docs/"):
            routes.add("/" + route)
    return routes


def test_every_api_operation_has_a_row():
    operations = schema_operations() | {("GET", route) for route in unschematized_api_routes()}
    assert operations == set(MATRIX), {
        "without a row": sorted(operations - set(MATRIX)),
        "rows of nothing": sorted(set(MATRIX) - operations),
    }


def call(world: World, method: str, template: str, row: Row, role: str):
    path = template.format(**{name: get(world) for name, get in row.path.items()})
    if row.query:
        path += "?" + row.query
    client = client_of(world, role)
    body = row.body(world, world.callers[role]) if row.body else None
    if method == "GET":
        return client.get(path)
    if method == "DELETE":
        return client.delete(path)
    return getattr(client, method.lower())(path, body, format="multipart" if row.multipart else "json")


# Refused callers go first and ben last: a refusal must leave everything as it was for the next caller.
CALLING_ORDER = ("anonymous", "unverified", "non_member", "blocked", "admin", "member")


def outcome(status: int) -> int | str:
    return ALLOWED if 200 <= status < 300 else status


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX), ids=lambda value: value)
def test_each_caller_gets_what_the_matrix_says(world, method, template):
    row = MATRIX[(method, template)]
    answers = {role: call(world, method, template, row, role) for role in CALLING_ORDER}
    got = {role: outcome(response.status_code) for role, response in answers.items()}
    assert got == {role: row.expected[role] for role in CALLING_ORDER}, {
        role: response.content[:200] for role, response in answers.items() if got[role] != row.expected[role]
    }


def test_a_hidden_object_answers_exactly_like_a_missing_one(world):
    """The 404 for someone else's room is byte for byte the 404 for a room that does not exist."""
    client = client_of(world, "non_member")
    hidden, missing = world.room.pk, world.room.pk + 10_000
    for template in ("/api/rooms/{}/", "/api/rooms/{}/messages/", "/api/rooms/{}/members/"):
        assert client.get(template.format(hidden)).json() == client.get(template.format(missing)).json()
