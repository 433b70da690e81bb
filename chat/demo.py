"""Demo data for `manage.py seed_demo`: people, friendships, rooms and conversations.

Everything goes through the same services people use, so the demo looks exactly like real use
(events, notifications, seqs). Running it again creates nothing new: people are found by e-mail,
rooms by title and owner, and every message has a fixed client_id, which message_send answers
with the original instead of a second copy.
"""

import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.test.utils import override_settings

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import FriendRequest, User
from chat import services
from rooms import services as room_services
from rooms.models import Membership, Room

DEMO_PASSWORD = "parley-demo-2026"
EMAIL_DOMAIN = "demo.parley.localhost"
CLIENT_ID_NAMESPACE = uuid.UUID("6f1e7a52-3c4d-4e59-9a0b-2d6c1f0e8a37")

PEOPLE = [
    ("ada", "Ada Lovelace", "Poetical science. Ask me about engines."),
    ("grace", "Grace Hopper", "It is easier to ask forgiveness than permission."),
    ("alan", "Alan Turing", "Runner, codebreaker, occasional chess player."),
    ("margaret", "Margaret Hamilton", "Software engineering is a real discipline."),
    ("ken", "Ken Thompson", "I wrote a text editor once."),
    ("radia", "Radia Perlman", "Algorhyme enthusiast."),
]
FRIENDS = [("ada", "grace"), ("ada", "alan"), ("grace", "margaret"), ("alan", "ken"), ("margaret", "radia")]
# (title, owner, public, category, description, members)
ROOMS = [
    ("General", "ada", True, "Community", "Say hello to everyone.", ["grace", "alan", "margaret", "ken", "radia"]),
    ("Book club", "grace", True, "Hobbies", "This month: The Difference Engine.", ["ada", "alan", "radia"]),
    ("Compilers", "ken", True, "Programming", "Parsers, optimisers and war stories.", ["grace", "alan"]),
    ("Launch planning", "margaret", False, "", "Private: the team only.", ["ada", "ken"]),
]
# Conversations: a group room's title, or "@a+b" for a direct room. Lines are (author, body, reply to line).
CONVERSATIONS = {
    "General": [
        ("ada", "Welcome to Parley! Introduce yourselves here.", None),
        ("grace", "Hi all, Grace here. Glad to have a place that is not e-mail.", 0),
        ("alan", "Hello! Is anyone up for a chess game later?", None),
        ("ken", "@alan I am, after I fix this build.", 2),
        ("radia", "Hi everyone 👋", None),
    ],
    "Book club": [
        ("grace", "Chapter three: thoughts?", None),
        ("ada", "The analytical engine scenes are a little generous to me.", 0),
        ("radia", "I liked the map of London more than the plot, honestly.", None),
    ],
    "Compilers": [
        ("ken", "Who has written a parser by hand this year?", None),
        ("grace", "Every year. The tools change, the grammar bugs do not.", 0),
    ],
    "Launch planning": [
        ("margaret", "Dry run on Thursday. Please read the checklist first.", None),
        ("ada", "Read it. Item 12 needs an owner.", 0),
        ("ken", "I will take item 12.", 1),
    ],
    "@ada+grace": [
        ("ada", "Coffee on Friday?", None),
        ("grace", "Yes, 10 o'clock at the usual place.", 0),
    ],
    "@alan+ken": [
        ("alan", "Your move: e4.", None),
        ("ken", "e5, obviously.", None),
    ],
}
REACTIONS = [("General", 0, "grace", "🎉"), ("General", 0, "alan", "🎉"), ("Book club", 1, "radia", "😄")]


@dataclass
class SeedReport:
    created: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("people", "friendships", "rooms", "messages"), 0)
    )
    logins: list[tuple[str, str]] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return not any(self.created.values())


def demo_seed(*, password: str = DEMO_PASSWORD) -> SeedReport:
    report = SeedReport()
    people = {handle: _person(handle, name, bio, password=password, report=report) for handle, name, bio in PEOPLE}
    report.logins = [(person.email, person.handle) for person in people.values()]
    for a, b in FRIENDS:
        _friends(people[a], people[b], report=report)
    rooms = {title: _room(people, title, *spec, report=report) for title, *spec in ROOMS}
    # The demo is written at machine speed; the per-person send limit is for people typing.
    with override_settings(MESSAGE_RATE_BURST=10_000):
        messages = {
            key: _conversation(people, rooms, key, lines, report=report) for key, lines in CONVERSATIONS.items()
        }
    for key, line, handle, emoji in REACTIONS:
        services.reaction_add(user=people[handle], message_id=messages[key][line].pk, emoji=emoji)
    return report


def _person(handle: str, name: str, bio: str, *, password: str, report: SeedReport) -> User:
    email = f"{handle}@{EMAIL_DOMAIN}"
    person = User.objects.filter(email__iexact=email).first()
    if person is None:
        if account_selectors.handle_is_taken(handle):
            raise ValidationError(f"The handle @{handle} belongs to someone who is not a demo person.")
        person = User.objects.create_user(email, password, handle=handle, display_name=name, bio=bio)
        report.created["people"] += 1
    return account_services.user_mark_verified(user=person)


def _friends(a: User, b: User, *, report: SeedReport) -> None:
    if account_selectors.are_friends(a_id=a.pk, b_id=b.pk):
        return
    if account_services.friend_request_send(sender=a, recipient=b).status != "friends":
        account_services.friend_request_accept(request=FriendRequest.objects.get(from_user=a, to_user=b))
    report.created["friendships"] += 1


def _room(people, title, owner, public, category, description, members, *, report: SeedReport) -> Room:
    owner = people[owner]
    room = Room.objects.filter(kind=Room.Kind.GROUP, title=title, creator=owner).first()
    if room is None:
        room = room_services.room_create_group(
            creator=owner, title=title, description=description, category=category, is_public=public
        )
        report.created["rooms"] += 1
    present = set(Membership.objects.filter(room=room).values_list("user__handle", flat=True))
    for handle in members:
        if handle in present:
            continue
        if public:
            room_services.room_join(user=people[handle], room_id=room.pk)
        else:
            invite = room_services.room_invite(by=owner, room_id=room.pk, user=people[handle])
            room_services.invite_accept(user=people[handle], invite_id=invite.pk)
    return room


def _conversation(people, rooms, key: str, lines, *, report: SeedReport) -> list:
    if key.startswith("@"):
        first, second = key[1:].split("+")
        room, created = room_services.direct_room_get_or_create(user=people[first], other=people[second])
        report.created["rooms"] += created
    else:
        room = rooms[key]
    sent = []
    for number, (handle, body, reply_to) in enumerate(lines):
        message = services.message_send(
            author=people[handle],
            room_id=room.pk,
            body=body,
            client_id=uuid.uuid5(CLIENT_ID_NAMESPACE, f"{key}:{number}"),
            reply_to_id=sent[reply_to].pk if reply_to is not None else None,
        )
        report.created["messages"] += not message.replayed
        sent.append(message)
    return sent
