"""/api/notifications/: my notifications newest first with the unread count, and marking them read."""

import base64
import binascii

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from chat import notifications
from chat.events import NotificationPayload
from config.api_errors import ErrorSerializer


def cursor_encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"n{before_id}".encode()).decode().rstrip("=")


def cursor_decode(token: str) -> int:
    """The `before` id a cursor holds; ValueError for anything cursor_encode did not make."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("not a cursor") from error
    digits = text[1:]
    if not text.startswith("n") or not digits.isdigit() or len(digits) > 18:
        raise ValueError("not a cursor")
    return int(digits)


class NotificationQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=100, help_text="From the `next` link.")
    limit = serializers.IntegerField(
        required=False,
        default=notifications.PAGE_DEFAULT,
        min_value=1,
        max_value=notifications.PAGE_MAX,
        help_text=f"Notifications per page, 1 to {notifications.PAGE_MAX}.",
    )

    def validate_cursor(self, token: str) -> int:
        try:
            return cursor_decode(token)
        except ValueError as error:
            raise serializers.ValidationError("Not a valid cursor; follow the `next` link.") from error


class NotificationPageSerializer(serializers.Serializer):
    results = NotificationPayload(many=True, help_text="Newest first.")
    next = serializers.URLField(allow_null=True, help_text="The following (older) page; null on the last one.")
    unread = serializers.IntegerField(help_text="How many of all my notifications are unread (the badge).")


class UnreadSerializer(serializers.Serializer):
    unread = serializers.IntegerField(help_text="How many of my notifications are still unread.")


class MarkedAllSerializer(UnreadSerializer):
    marked = serializers.IntegerField(help_text="How many were unread until now.")


ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="Not signed in"),
    403: OpenApiResponse(ErrorSerializer, description="E-mail address not verified"),
}


class NotificationsView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(
        parameters=[NotificationQuerySerializer],
        responses={
            200: NotificationPageSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A bad cursor or limit (`fields`)"),
            **ERRORS,
        },
        summary="My notifications, newest first, with the unread count",
        description="Keyset pages over the notification ids: follow `next` until it is null; pages never overlap, "
        "however many notifications arrive in between. Live changes arrive on the WebSocket as "
        "`notification.new` (the notification and the new `unread`) and `notification.read` (`unread`, `ids`).",
    )
    def get(self, request):
        query = NotificationQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        page = notifications.notifications_page(user=request.user, before_id=data.get("cursor"), limit=data["limit"])
        next_url = None
        if page.older is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", cursor_encode(page.older))
        return Response(
            {
                "results": NotificationPayload(page.notifications, many=True).data,
                "next": next_url,
                "unread": notifications.notifications_unread_count(user_id=request.user.pk),
            }
        )


class NotificationReadView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(
        request=None,
        responses={
            200: UnreadSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No such notification of mine"),
            **ERRORS,
        },
        summary="Mark one notification read (idempotent)",
        operation_id="notification_read",
    )
    def post(self, request, notification_id: int):
        unread = notifications.notification_mark_read(user=request.user, notification_id=notification_id)
        return Response({"unread": unread})

    def handle_exception(self, exc):
        if isinstance(exc, Http404):
            # DRF's own NotFound, so the error body carries the code "not_found" like other 404s.
            exc = exceptions.NotFound(str(exc))
        return super().handle_exception(exc)


class NotificationsReadView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(
        request=None,
        responses={200: MarkedAllSerializer, **ERRORS},
        summary="Mark all my notifications read",
        operation_id="notifications_read_all",
    )
    def post(self, request):
        marked = notifications.notifications_mark_all_read(user=request.user)
        # Counted again, not assumed 0: one may have arrived since.
        unread = notifications.notifications_unread_count(user_id=request.user.pk)
        return Response({"unread": unread, "marked": marked})
