from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from chat import pagination, services, tickets
from chat.events import MessagePayload, ReactionSummaryPayload, message_row_payload, reactions_seen_by
from config.api_errors import ErrorSerializer
from rooms.api import RoomScopedView
from rooms.selectors import membership_access


class MessageSendSerializer(serializers.Serializer):
    # Length and blankness are checked by the service, the one place that knows the rules.
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    client_id = serializers.UUIDField(help_text="Chosen by the client; resending it returns the original.")
    reply_to = serializers.IntegerField(required=False, allow_null=True)
    attachments = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Ids of my uploads not sent yet (POST /api/uploads/); with any, `body` may be empty.",
    )


class MessageEditSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EmojiSerializer(serializers.Serializer):
    emoji = serializers.CharField(allow_blank=True, trim_whitespace=False)


class ReadSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class ReadStateSerializer(serializers.Serializer):
    room = serializers.IntegerField(source="room_id")
    last_read_seq = serializers.IntegerField()


class HistoryReactionSerializer(ReactionSummaryPayload):
    mine = serializers.BooleanField(help_text="Whether the person asking reacted with this emoji.")


class HistoryMessageSerializer(MessagePayload):
    """A message as its history shows it to one viewer (`context["viewer"]`): the socket payload,
    plus whether the viewer reacted. REST only: socket payloads are built once for every receiver.
    The schema of history_payload's JSON; a test holds the two equal."""

    @extend_schema_field(HistoryReactionSerializer(many=True))
    def get_reactions(self, message) -> list[dict]:
        return reactions_seen_by(super().get_reactions(message), self.context["viewer"].pk)


def history_payload(page: pagination.HistoryPage, *, viewer_id: int) -> list[dict]:
    """HistoryMessageSerializer's JSON for a page read as rows (chat.selectors.MessageRow): model
    instances, prefetches and DRF's serializer were most of a page's time."""
    results = []
    for row in page.messages:
        payload = message_row_payload(row)
        payload["reactions"] = reactions_seen_by(payload["reactions"], viewer_id)
        results.append(payload)
    return results


class HistoryPageSerializer(serializers.Serializer):
    results = HistoryMessageSerializer(many=True, help_text="Oldest first (ascending seq) inside every page.")
    next = serializers.URLField(allow_null=True, help_text="The page just OLDER than this one; null at the start.")
    previous = serializers.URLField(
        allow_null=True, help_text="The page just NEWER than this one; null when this page reaches the newest message."
    )


HISTORY_DESCRIPTION = f"""Keyset (cursor) pagination over the room's seqs: the cost of a page does not grow with
its depth, and pages never overlap or skip, however many messages are sent or deleted between two requests.

* No position: the newest {pagination.DEFAULT_LIMIT} (`limit`) messages.
* `before=<seq>` / `after=<seq>`: the messages just older / newer than that seq.
* `around=<message id>`: that message with `limit // 2` older ones before it and the rest newer (jump to a
  search hit).
* `cursor`: opaque, taken from the `next` and `previous` links; give at most one of the four.

Whatever the request, `next` walks back in time (older messages) and `previous` forward (newer), and each
page lists its messages oldest first (ascending seq), ready to render top to bottom. To read the whole
history backwards follow `next` until it is null; to catch up forwards follow `previous` until it is null.
Deleted messages stay in place as tombstones (`deleted: true`, empty body). `limit` above
{pagination.MAX_LIMIT} is a 400, never silently clamped."""


class RoomMessagesView(RoomScopedView):
    @extend_schema(
        parameters=[pagination.HistoryQuerySerializer],
        responses={
            200: HistoryPageSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad cursor, seq, message id or limit (`fields`)"),
            404: OpenApiResponse(ErrorSerializer, description="No such room, or I am not (or no longer) in it"),
        },
        summary="A page of the room's history",
        description=HISTORY_DESCRIPTION,
    )
    def get(self, request, room_id: int):
        # Membership first: a room I am not in answers 404 whatever the parameters.
        membership = membership_access(user=request.user, room_id=room_id)
        query = pagination.HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = pagination.history_page(room=membership.room, rows=True, **query.validated_data)
        results = history_payload(page, viewer_id=request.user.pk)
        return Response({"results": results, **pagination.page_links(request=request, page=page)})

    @extend_schema(
        request=MessageSendSerializer,
        responses={
            201: MessagePayload,
            200: OpenApiResponse(MessagePayload, description="A retry: the message first stored for this client_id"),
            429: OpenApiResponse(ErrorSerializer, description="Sending too fast; see Retry-After (`retry_after`)"),
        },
        summary="Send a message",
    )
    def post(self, request, room_id: int):
        serializer = MessageSendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        message = services.message_send(
            author=request.user,
            room_id=room_id,
            body=data["body"],
            client_id=data["client_id"],
            reply_to_id=data.get("reply_to"),
            attachment_ids=data.get("attachments"),
        )
        code = status.HTTP_200_OK if message.replayed else status.HTTP_201_CREATED
        return Response(MessagePayload(message).data, status=code)


class MessageView(RoomScopedView):
    @extend_schema(request=MessageEditSerializer, responses=MessagePayload, summary="Edit my message")
    def patch(self, request, message_id: int):
        serializer = MessageEditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data["body"]
        message = services.message_edit(user=request.user, message_id=message_id, body=body)
        return Response(MessagePayload(message).data)

    @extend_schema(responses={204: None}, summary="Delete a message (its author, or the room's owners and admins)")
    def delete(self, request, message_id: int):
        services.message_delete(user=request.user, message_id=message_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReactionsView(RoomScopedView):
    @extend_schema(request=EmojiSerializer, responses={204: None}, summary="React to a message (idempotent)")
    def post(self, request, message_id: int):
        services.reaction_add(user=request.user, message_id=message_id, emoji=self._emoji(request.data))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=EmojiSerializer,
        parameters=[OpenApiParameter("emoji", str, description="Instead of a body, for clients that cannot send one")],
        responses={204: None},
        summary="Take my reaction back (idempotent)",
    )
    def delete(self, request, message_id: int):
        data = request.data or request.query_params
        services.reaction_remove(user=request.user, message_id=message_id, emoji=self._emoji(data))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @staticmethod
    def _emoji(data) -> str:
        serializer = EmojiSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data["emoji"]


class ReadView(RoomScopedView):
    @extend_schema(request=ReadSerializer, responses=ReadStateSerializer, summary="Mark a room read up to a seq")
    def post(self, request, room_id: int):
        serializer = ReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.read_mark(user=request.user, room_id=room_id, seq=serializer.validated_data["seq"])
        return Response(ReadStateSerializer(membership).data)


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text='Send {"type": "auth", "ticket": ...} as the first frame on /ws/.')
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid; it works once.")


class WsTicketView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(request=None, responses=WsTicketSerializer, summary="A single-use ticket to open the WebSocket")
    def post(self, request):
        ticket = tickets.ticket_issue(user=request.user)
        return Response(WsTicketSerializer({"ticket": ticket, "expires_in": tickets.ticket_lifetime()}).data)
