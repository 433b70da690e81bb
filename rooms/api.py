from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.permissions import IsVerified
from chat.events import (
    REPLY_PREVIEW_CHARS,
    InvitePayload,
    LobbyCountsPayload,
    MemberPayload,
    RoomPayload,
    UserPayload,
    user_summary,
)
from config.api_errors import ErrorSerializer
from config.renderers import WrittenJSON
from rooms import matching, message_requests, selectors, services
from rooms.models import Membership
from rooms.selectors import RoomNotVisible


class RoomScopedView(APIView):
    """Base of every room and message endpoint: verified people only, and hidden rooms answer 404."""

    permission_classes = [IsVerified]

    def handle_exception(self, exc):
        if isinstance(exc, RoomNotVisible):
            # A private room must look exactly like a room that does not exist.
            exc = exceptions.NotFound(str(exc))
        return super().handle_exception(exc)


# Serializers (payload shapes come from chat.events; these only add what REST alone shows)


class MembershipStateSerializer(serializers.Serializer):
    role = serializers.CharField()
    last_read_seq = serializers.IntegerField()
    notification_level = serializers.CharField()


class LastMessageSerializer(serializers.Serializer):
    """A room's newest message, as a room list previews it."""

    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    author = UserPayload(allow_null=True)
    body = serializers.SerializerMethodField(help_text=f"The first {REPLY_PREVIEW_CHARS} characters; empty if deleted.")
    created_at = serializers.DateTimeField()
    deleted = serializers.BooleanField(source="is_deleted")

    def get_body(self, message) -> str:
        return message.body[:REPLY_PREVIEW_CHARS]


class PeerSerializer(UserPayload):
    online = serializers.BooleanField(
        source="is_online", default=False, help_text="Looked up for the rooms list; false in other answers."
    )

    def to_representation(self, user) -> dict:
        return {**super().to_representation(user), "online": getattr(user, "is_online", False)}


class MyRoomSerializer(serializers.Serializer):
    """One of my rooms, serialized from my Membership of it (`peer` and `room.last_message` come from
    selectors.memberships_of_user; on a bare membership both are null). The list builds the same JSON
    from rows: room_list_payload."""

    room = RoomPayload()
    membership = MembershipStateSerializer(source="*")
    unread = serializers.SerializerMethodField()
    peer = PeerSerializer(allow_null=True, help_text="The other person of a direct room.")
    last_message = LastMessageSerializer(
        source="room.last_message", allow_null=True, help_text="The newest message; null in an empty room."
    )

    def get_unread(self, membership) -> int:
        return unread_count(last_seq=membership.room.last_seq, last_read_seq=membership.last_read_seq)


def unread_count(*, last_seq: int, last_read_seq: int) -> int:
    # Seqs are gapless, so this is exact apart from deleted messages.
    return max(0, last_seq - last_read_seq)


def my_rooms(*, user) -> WrittenJSON | list[dict]:
    """GET /api/rooms/'s data. On PostgreSQL its JSON text, written by the database (selectors.room_list_json:
    building 500 rooms' dicts in Python was most of a request's time); elsewhere built from the ORM's rows."""
    if connection.vendor == "postgresql":
        return WrittenJSON(selectors.room_list_json(user_id=user.pk))
    return room_list_payload(selectors.room_list(user=user))


def my_rooms_data(*, user) -> list[dict]:
    """my_rooms as Python data, for a template."""
    rooms = my_rooms(user=user)
    return rooms.value() if isinstance(rooms, WrittenJSON) else rooms


def room_list_payload(rooms: selectors.RoomList) -> list[dict]:
    """MyRoomSerializer's JSON for every row of the list (a test holds the two equal), built from the
    rows: model instances and DRF's field-by-field walk were most of the time of a list of 500 rooms."""
    return [_my_room(row, rooms.peers.get(row[0]), rooms.online) for row in rooms.rows]


def _my_room(row: tuple, peer: list | None, online: set[int]) -> dict:
    # In the order of selectors.ROOM_LIST_COLUMNS: the room, my membership, its newest message, that message's author.
    (room_id, kind, title, description, category, is_public, creator, created_at, last_message_at, room_seq,
     closed_at, role, last_read_seq, notification_level,
     last_id, last_seq, preview, last_created_at, last_deleted_at, *author) = row  # fmt: skip
    return {
        "room": {
            "id": room_id,
            "kind": kind,
            "title": title,
            "description": description,
            "category": category,
            "is_public": is_public,
            "creator": creator,
            "created_at": created_at,
            "last_message_at": last_message_at,
            "last_seq": room_seq,
            "closed_at": closed_at,
        },
        "membership": {"role": role, "last_read_seq": last_read_seq, "notification_level": notification_level},
        "unread": unread_count(last_seq=room_seq, last_read_seq=last_read_seq),
        "peer": None if peer is None else {**user_summary(*peer), "online": peer[0] in online},
        "last_message": None
        if last_id is None
        else {
            "id": last_id,
            "seq": last_seq,
            "author": None if author[0] is None else user_summary(*author),
            "body": preview,
            "created_at": last_created_at,
            "deleted": last_deleted_at is not None,
        },
    }


class RoomDetailSerializer(RoomPayload):
    members = MemberPayload(many=True, source="member_list")


class RoomCreateSerializer(serializers.Serializer):
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(required=False, allow_blank=True, default="")
    is_public = serializers.BooleanField(required=False, default=False)


class RoomUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.CharField(required=False, allow_blank=True)
    is_public = serializers.BooleanField(required=False)


class UserRefSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all())


class OptionalUserRefSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)


class MessageRequestSerializer(serializers.Serializer):
    room = serializers.IntegerField(source="room_id", help_text="The direct room; read it as any room of mine.")
    sender = UserPayload(source="peer", allow_null=True)
    last_message = LastMessageSerializer(
        source="room.last_message", allow_null=True, help_text="The newest message; null in an empty room."
    )
    unread = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(source="room.created_at")

    def get_unread(self, membership) -> int:
        return max(0, membership.room.last_seq - membership.last_read_seq)


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


# Views


class RoomListView(RoomScopedView):
    @extend_schema(
        responses=MyRoomSerializer(many=True),
        summary="My rooms, most recently active first",
        description="Every room I am in (not paginated), each with its newest message, my unread count and, "
        "for a direct room, the other person and whether they are online. The cost is the same few queries "
        "and one Redis round trip however many rooms.",
    )
    def get(self, request):
        return Response(my_rooms(user=request.user))

    @extend_schema(request=RoomCreateSerializer, responses={201: RoomPayload}, summary="Create a group room")
    def post(self, request):
        serializer = RoomCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = services.room_create_group(creator=request.user, **serializer.validated_data)
        return Response(RoomPayload(room).data, status=status.HTTP_201_CREATED)


class RoomDetailView(RoomScopedView):
    @extend_schema(responses=RoomDetailSerializer, summary="A room I am in, or a public group room")
    def get(self, request, room_id: int):
        room = selectors.room_detail(user=request.user, room_id=room_id)
        if room is None:
            raise RoomNotVisible()
        return Response(RoomDetailSerializer(room).data)

    @extend_schema(request=RoomUpdateSerializer, responses=RoomPayload, summary="Change a group room (owners, admins)")
    def patch(self, request, room_id: int):
        serializer = RoomUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room = services.room_update(by=request.user, room_id=room_id, **serializer.validated_data)
        return Response(RoomPayload(room).data)


class DirectRoomView(RoomScopedView):
    @extend_schema(
        request=UserRefSerializer,
        responses={200: RoomPayload, 201: RoomPayload},
        summary="Open the direct room with someone (201 when it is new)",
    )
    def post(self, request):
        serializer = UserRefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        room, created = services.direct_room_get_or_create(user=request.user, other=serializer.validated_data["user"])
        return Response(RoomPayload(room).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MemberListView(RoomScopedView):
    @extend_schema(responses=MemberPayload(many=True), summary="The members of a room, owners first")
    def get(self, request, room_id: int):
        if selectors.room_visible(user=request.user, room_id=room_id) is None:
            raise RoomNotVisible()
        return Response(MemberPayload(selectors.room_members(room_id=room_id), many=True).data)

    @extend_schema(
        request=OptionalUserRefSerializer,
        responses={
            200: OpenApiResponse(MemberPayload, description="Joined (body `{}`): my membership"),
            201: OpenApiResponse(InvitePayload, description='Invited (body `{"user": id}`)'),
        },
        summary="Join a public group room, or invite someone",
    )
    def post(self, request, room_id: int):
        serializer = OptionalUserRefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitee = serializer.validated_data.get("user")
        if invitee is None:
            membership = services.room_join(user=request.user, room_id=room_id)
            return Response(MemberPayload(membership).data)
        invite = services.room_invite(by=request.user, room_id=room_id, user=invitee)
        return Response(InvitePayload(invite).data, status=status.HTTP_201_CREATED)


class MemberView(RoomScopedView):
    @extend_schema(request=RoleSerializer, responses=MemberPayload, summary="Change a member's role (owners)")
    def patch(self, request, room_id: int, user_id: int):
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.member_set_role(
            by=request.user, room_id=room_id, user_id=user_id, role=serializer.validated_data["role"]
        )
        return Response(MemberPayload(membership).data)

    @extend_schema(responses={204: None}, summary="Leave (my own id) or remove a member (owners, admins)")
    def delete(self, request, room_id: int, user_id: int):
        if user_id == request.user.pk:
            services.room_leave(user=request.user, room_id=room_id)
        else:
            services.member_kick(by=request.user, room_id=room_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TransferView(RoomScopedView):
    @extend_schema(
        request=UserRefSerializer, responses=MemberPayload, summary="Hand ownership to a member (I become admin)"
    )
    def post(self, request, room_id: int):
        serializer = UserRefSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.ownership_transfer(
            by=request.user, room_id=room_id, user_id=serializer.validated_data["user"].pk
        )
        return Response(MemberPayload(membership).data)


class NotificationLevelSerializer(serializers.Serializer):
    notification_level = serializers.ChoiceField(choices=Membership.Notify.choices)


class MyMembershipView(RoomScopedView):
    @extend_schema(
        request=NotificationLevelSerializer,
        responses=MembershipStateSerializer,
        summary="Set how much of a room notifies me: all, mentions or nothing (mute)",
    )
    def patch(self, request, room_id: int):
        serializer = NotificationLevelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        level = serializer.validated_data["notification_level"]
        membership = services.membership_notifications_set(user=request.user, room_id=room_id, level=level)
        return Response(MembershipStateSerializer(membership).data)


class InviteListView(RoomScopedView):
    @extend_schema(responses=InvitePayload(many=True), summary="My pending invitations")
    def get(self, request):
        return Response(InvitePayload(selectors.invites_pending(user=request.user), many=True).data)


class InviteAcceptView(RoomScopedView):
    @extend_schema(request=None, responses=MyRoomSerializer, summary="Accept an invitation")
    def post(self, request, invite_id: int):
        membership = services.invite_accept(user=request.user, invite_id=invite_id)
        return Response(MyRoomSerializer(membership).data)


# The lobby and the public room directory


class LobbyView(RoomScopedView):
    @extend_schema(
        responses=LobbyCountsPayload,
        summary="The lobby's counts: people online, people waiting for a stranger, the largest public rooms",
        description="The same body as the `lobby.counts` WebSocket event, which lobby pages receive as the counts "
        "change. Joining the queue itself happens on the WebSocket (`lobby.join`): a match arrives there.",
    )
    def get(self, request):
        return Response(matching.lobby_counts())


class PublicRoomSerializer(RoomPayload):
    member_count = serializers.IntegerField()
    joined = serializers.BooleanField(help_text="Whether I am a member already.")


class DirectoryQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, default="", max_length=80, help_text="Part of a title.")
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    sort = serializers.ChoiceField(choices=list(selectors.PUBLIC_SORTS), required=False, default="activity")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)
    # Bounded like every number that reaches SQL (PostgreSQL's OFFSET is a bigint); no directory is this long.
    offset = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000, default=0)


class DirectorySerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="How many rooms match, over all pages.")
    categories = serializers.ListField(child=serializers.CharField(), help_text="Every category of public rooms.")
    results = PublicRoomSerializer(many=True)


class DirectoryView(RoomScopedView):
    @extend_schema(
        parameters=[DirectoryQuerySerializer],
        responses=DirectorySerializer,
        summary="The public room directory: browse by category, search titles, sort by activity or size",
        description="Join one with `POST /api/rooms/<id>/members/` and an empty body.",
    )
    def get(self, request):
        query = DirectoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rooms = selectors.public_rooms(
            viewer=request.user, category=params["category"].strip(), query=params["q"].strip(), sort=params["sort"]
        )
        page = rooms[params["offset"] : params["offset"] + params["limit"]]
        body = {"count": rooms.count(), "categories": selectors.public_categories(), "results": page}
        return Response(DirectorySerializer(body).data)


class MessageRequestListView(RoomScopedView):
    @extend_schema(
        responses=MessageRequestSerializer(many=True),
        summary="My waiting message requests",
        description="Direct conversations started by people who are not my friends while my `dm_policy` is "
        "`requests`, most recently active first. They are not in my rooms list and notify nothing until "
        "accepted; ignored ones are not listed.",
    )
    def get(self, request):
        requests = message_requests.message_requests_of(user=request.user)
        return Response(MessageRequestSerializer(requests, many=True).data)


class MessageRequestAcceptView(RoomScopedView):
    @extend_schema(
        request=None,
        responses={200: MyRoomSerializer, 404: OpenApiResponse(ErrorSerializer, "No such request of mine")},
        summary="Accept a message request (waiting or ignored): it becomes one of my rooms",
    )
    def post(self, request, room_id: int):
        membership = services.message_request_accept(user=request.user, room_id=room_id)
        return Response(MyRoomSerializer(membership).data)


class MessageRequestIgnoreView(RoomScopedView):
    @extend_schema(
        request=None,
        responses={204: None, 404: OpenApiResponse(ErrorSerializer, "No such request of mine")},
        summary="Ignore a message request; the sender is not told",
    )
    def post(self, request, room_id: int):
        services.message_request_ignore(user=request.user, room_id=room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
