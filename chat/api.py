import math

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from chat import selectors, services, tickets
from chat.events import MessagePayload
from chat.limits import RateLimited
from rooms.api import RoomScopedView
from rooms.selectors import membership_access


class MessageSendSerializer(serializers.Serializer):
    # Length and blankness are checked by the service, the one place that knows the rules.
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)
    client_id = serializers.UUIDField(help_text="Chosen by the client; resending it returns the original.")
    reply_to = serializers.IntegerField(required=False, allow_null=True)


class MessageEditSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EmojiSerializer(serializers.Serializer):
    emoji = serializers.CharField(allow_blank=True, trim_whitespace=False)


class ReadSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class ReadStateSerializer(serializers.Serializer):
    room = serializers.IntegerField(source="room_id")
    last_read_seq = serializers.IntegerField()


class RoomMessagesView(RoomScopedView):
    # The cursor-paginated history replaces get() later; keep it this small.
    @extend_schema(responses=MessagePayload(many=True), summary="The newest 50 messages, oldest first")
    def get(self, request, room_id: int):
        membership_access(user=request.user, room_id=room_id)
        return Response(MessagePayload(selectors.messages_recent(room_id=room_id), many=True).data)

    @extend_schema(
        request=MessageSendSerializer,
        responses={
            201: MessagePayload,
            200: OpenApiResponse(MessagePayload, description="A retry: the message first stored for this client_id"),
            429: OpenApiResponse(description="Sending too fast; see Retry-After"),
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
        )
        code = status.HTTP_200_OK if message.replayed else status.HTTP_201_CREATED
        return Response(MessagePayload(message).data, status=code)

    def handle_exception(self, exc):
        if isinstance(exc, RateLimited):
            exc = exceptions.Throttled(wait=math.ceil(exc.retry_after), detail=str(exc))
        return super().handle_exception(exc)


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
