from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView
from rest_framework_simplejwt.views import TokenRefreshView as SimpleJWTTokenRefreshView

from accounts import selectors, services, tokens
from accounts.lockout import lockout_response
from accounts.models import Report, User, handle_validator
from accounts.permissions import IsVerified
from config.api_errors import ErrorSerializer

ACCEPTED = "If this address can be used, a message with a 6-digit code is on its way to it."


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PublicUserSerializer(serializers.ModelSerializer):
    avatar_url = serializers.SerializerMethodField()
    avatar_thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "handle", "display_name", "bio", "avatar_url", "avatar_thumbnail_url", "last_seen"]

    def get_avatar_url(self, user) -> str | None:
        return user.avatar.url if user.avatar else None

    def get_avatar_thumbnail_url(self, user) -> str | None:
        return user.avatar_thumbnail.url if user.avatar_thumbnail else None


class ProfileSerializer(PublicUserSerializer):
    class Meta(PublicUserSerializer.Meta):
        fields = PublicUserSerializer.Meta.fields + [
            "email",
            "email_verified_at",
            "date_joined",
            "dm_policy",
            "friend_request_policy",
            "email_notifications",
        ]
        read_only_fields = ["id", "email", "email_verified_at", "date_joined", "last_seen"]


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    handle = serializers.CharField(max_length=30, validators=[handle_validator])
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    display_name = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")


class VerifySerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    code = serializers.RegexField(r"^\s*\d{6}\s*$", required=False, error_messages={"invalid": "Enter the 6 digits."})
    token = serializers.CharField(required=False, max_length=100)

    def validate(self, attrs):
        if not attrs.get("token") and not (attrs.get("email") and attrs.get("code")):
            raise serializers.ValidationError({"code": ["Send `email` and `code`, or the `token` from the link."]})
        return attrs


class ResendSerializer(serializers.Serializer):
    email = serializers.EmailField()


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class AvatarSerializer(serializers.Serializer):
    avatar = serializers.FileField()


class VerifiedTokenObtainPairSerializer(TokenObtainPairSerializer):
    def validate(self, attrs):
        data = super().validate(attrs)
        if not self.user.is_verified:
            raise exceptions.PermissionDenied(
                "Verify your e-mail address before using the API.", code="email_not_verified"
            )
        # Simple JWT logs in without Django's signal; sending it resets the lock-out count and
        # records last_login, as a page login does.
        user_logged_in.send(sender=type(self.user), request=self.context["request"], user=self.user)
        return data


THROTTLED = {429: OpenApiResponse(ErrorSerializer, description="Too many attempts; see Retry-After (`retry_after`)")}


class AnonymousThrottledView(APIView):
    """For the steps before sign-in: no credentials read, a throttle per client and scope."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]


class RegisterView(AnonymousThrottledView):
    throttle_scope = "register"

    @extend_schema(
        request=RegisterSerializer, responses={202: DetailSerializer, **THROTTLED}, summary="Create an account"
    )
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_register(**serializer.validated_data)
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class VerifyView(AnonymousThrottledView):
    throttle_scope = "verify"

    @extend_schema(
        request=VerifySerializer, responses={200: ProfileSerializer, **THROTTLED}, summary="Verify an e-mail address"
    )
    def post(self, request):
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("token"):
            user = services.verification_confirm_link(token=data["token"])
        else:
            user = services.verification_confirm_code(email=data["email"], code=data["code"])
        return Response(ProfileSerializer(user).data)


class ResendView(AnonymousThrottledView):
    throttle_scope = "resend"

    @extend_schema(request=ResendSerializer, responses={202: DetailSerializer, **THROTTLED}, summary="Mail a new code")
    def post(self, request):
        serializer = ResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.verification_resend(email=serializer.validated_data["email"])
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


@extend_schema_serializer(component_name="TokenRefresh")
class LockingTokenRefreshSerializer(TokenRefreshSerializer):
    """Rotation that spends a refresh token once, however many requests bring it at the same moment."""

    def validate(self, attrs):
        with transaction.atomic():
            tokens.refresh_lock(refresh=attrs["refresh"])
            return super().validate(attrs)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="Send as `Authorization: Bearer ...`; short-lived.")
    refresh = serializers.CharField(help_text="Spend at /api/auth/token/refresh/ for a new pair; works once.")


class TokenView(TokenObtainPairView):
    """Verified users only; repeated failures lock the address out (429 with Retry-After)."""

    @extend_schema(
        summary="Sign in: a token pair for an e-mail address and password",
        responses={
            200: TokenPairSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Wrong address or password"),
            403: OpenApiResponse(ErrorSerializer, description="The e-mail address is not verified yet"),
            429: OpenApiResponse(ErrorSerializer, description="Locked out after failures; see Retry-After"),
        },
    )
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if getattr(request, "axes_locked_out", False):
            return lockout_response(request)
        return response

    def handle_exception(self, exc):
        if getattr(self.request, "axes_locked_out", False):
            return lockout_response(self.request)
        return super().handle_exception(exc)


class TokenRefreshView(SimpleJWTTokenRefreshView):
    @extend_schema(
        summary="Spend a refresh token for a new pair (the old one stops working)",
        responses={
            200: LockingTokenRefreshSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Invalid, expired, spent or revoked refresh token"),
        },
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=LogoutSerializer, responses={204: None}, summary="Revoke the refresh and access tokens")
    def post(self, request):
        serializer = LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access = request.auth if hasattr(request.auth, "get") else None
        services.api_logout(
            user=request.user,
            refresh=serializer.validated_data["refresh"],
            access_jti=access.get("jti") if access else None,
            access_expires=access.get("exp") if access else None,
        )
        # The same signal as a page logout, so whatever ends with a session (open sockets) ends here too.
        user_logged_out.send(sender=type(request.user), request=request, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(generics.RetrieveUpdateAPIView):
    serializer_class = ProfileSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        serializer.instance = services.profile_update(user=self.request.user, **serializer.validated_data)


class AvatarView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=AvatarSerializer, responses={200: ProfileSerializer}, summary="Upload an avatar")
    def put(self, request):
        serializer = AvatarSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.avatar_set(user=request.user, upload=serializer.validated_data["avatar"])
        return Response(ProfileSerializer(user).data)

    post = put

    @extend_schema(responses={204: None}, summary="Remove the avatar")
    def delete(self, request):
        services.avatar_remove(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSearchQuerySerializer(serializers.Serializer):
    # No handle or display name is longer, so a longer query is a mistake rather than a search.
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=User._meta.get_field("display_name").max_length,
        help_text="Start of a handle (an @ in front is ignored) or of a display name, any case.",
    )


class UserListView(generics.ListAPIView):
    permission_classes = [IsVerified]
    serializer_class = PublicUserSerializer

    @extend_schema(
        summary="Find people by handle or display-name prefix",
        description=f"Active, verified people other than me, by handle; at most {selectors.USER_SEARCH_LIMIT}, "
        "none for an empty search.",
        parameters=[UserSearchQuerySerializer],
        responses={200: PublicUserSerializer(many=True), 400: OpenApiResponse(ErrorSerializer, "`search` too long")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = UserSearchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.user_search(query=query.validated_data.get("search", ""), viewer=self.request.user)


class UserDetailView(generics.RetrieveAPIView):
    permission_classes = [IsVerified]
    serializer_class = PublicUserSerializer
    lookup_url_kwarg = "user_id"

    def get_queryset(self):
        # Someone in a block with me is not found: their last seen is not mine to see, nor mine theirs.
        return selectors.visible_users(viewer=self.request.user)


# Friends and blocks


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input: `fields` says which and why"),
    401: OpenApiResponse(ErrorSerializer, description="Not signed in"),
    403: OpenApiResponse(ErrorSerializer, description="E-mail address not verified"),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Not one of mine")}


class FriendSerializer(serializers.Serializer):
    user = PublicUserSerializer()
    online = serializers.BooleanField()

    def to_representation(self, friend: selectors.Friend) -> dict:
        # The same JSON as the declared fields (they document it; a test compares the two), built
        # directly from the selector's row: DRF's field-by-field walk took half the list's 10 ms budget.
        return {
            "user": {
                "id": friend.id,
                "handle": friend.handle,
                "display_name": friend.display_name,
                "bio": friend.bio,
                "avatar_url": _avatar_url(friend.avatar),
                "avatar_thumbnail_url": _avatar_url(friend.avatar_thumbnail),
                "last_seen": friend.last_seen,
            },
            "online": friend.online,
        }


def _avatar_url(name: str) -> str | None:
    # What FieldFile.url answers for this name, without a model instance around it.
    return User._meta.get_field("avatar").storage.url(name) if name else None


class FriendsPageSerializer(serializers.Serializer):
    results = FriendSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null on the last.")
    count = serializers.IntegerField(help_text="All my friends.")
    online_count = serializers.IntegerField(help_text="Of them online now.")


class FriendsQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=100, help_text="From a `next` link.")

    def validate_cursor(self, value: str) -> str:
        try:
            selectors.friends_cursor_decode(value)
        except ValueError:
            raise serializers.ValidationError("This cursor is not valid; follow the `next` link.") from None
        return value


class FriendRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = PublicUserSerializer()
    to_user = PublicUserSerializer()
    created_at = serializers.DateTimeField()


class FriendRequestsSerializer(serializers.Serializer):
    incoming = FriendRequestSerializer(many=True)
    outgoing = FriendRequestSerializer(many=True)


class FriendRequestCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(required=False, min_value=1, help_text="Their id.")
    handle = serializers.CharField(required=False, max_length=31, help_text="Or their handle (an @ is ignored).")

    def validate(self, attrs):
        if ("user" in attrs) == ("handle" in attrs):
            raise serializers.ValidationError({"user": ["Send `user` (an id) or `handle`, one of them."]})
        if "user" in attrs:
            recipient = selectors.active_users().filter(pk=attrs["user"]).first()
            field = "user"
        else:
            recipient = selectors.user_by_handle(attrs["handle"].strip().lstrip("@"))
            field = "handle"
        if recipient is None:
            raise serializers.ValidationError({field: ["No one by that name here."]})
        return {"recipient": recipient}


class FriendRequestOutcomeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["requested", "friends"],
        help_text="`friends` when they had asked me already (or I accepted), `requested` otherwise.",
    )
    user = PublicUserSerializer()


class FriendsView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(
        summary="My friends, online first",
        description=f"Online friends first, then by handle; {selectors.FRIENDS_PAGE_SIZE} per page, "
        "more through `next`.",
        parameters=[FriendsQuerySerializer],
        responses={200: FriendsPageSerializer, **ERRORS},
    )
    def get(self, request):
        query = FriendsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.friends_page(user=request.user, cursor=query.validated_data.get("cursor"))
        next_url = None
        if page.next_cursor:
            next_url = request.build_absolute_uri(f"{request.path}?cursor={page.next_cursor}")
        return Response(
            {
                "results": FriendSerializer(page.friends, many=True, context={"request": request}).data,
                "next": next_url,
                "count": page.total,
                "online_count": page.online,
            }
        )


class FriendDetailView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="Unfriend", responses={204: None, **ERRORS, **NOT_FOUND})
    def delete(self, request, user_id: int):
        friend = get_object_or_404(User.objects.all(), pk=user_id)
        if not services.friendship_end(user=request.user, friend=friend):
            raise exceptions.NotFound("You are not friends.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestsView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="My pending friend requests, both ways", responses={200: FriendRequestsSerializer, **ERRORS})
    def get(self, request):
        return Response(
            FriendRequestsSerializer(
                {
                    "incoming": selectors.incoming_requests(user=request.user),
                    "outgoing": selectors.outgoing_requests(user=request.user),
                }
            ).data
        )

    @extend_schema(
        summary="Send a friend request",
        description="By `user` id or `handle`. If they had asked me already we are friends at once. "
        "Sending again changes nothing. Asking too often (FRIEND_REQUEST_RATE_*) is a 429.",
        request=FriendRequestCreateSerializer,
        responses={
            201: FriendRequestOutcomeSerializer,
            **ERRORS,
            429: OpenApiResponse(ErrorSerializer, description="Asking too often; see Retry-After (`retry_after`)"),
        },
    )
    def post(self, request):
        serializer = FriendRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = services.friend_request_send(sender=request.user, recipient=serializer.validated_data["recipient"])
        return Response(FriendRequestOutcomeSerializer(outcome).data, status=status.HTTP_201_CREATED)


class FriendRequestDetailView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="Cancel a request I sent", responses={204: None, **ERRORS, **NOT_FOUND})
    def delete(self, request, request_id: int):
        services.friend_request_cancel(
            request=get_object_or_404(selectors.outgoing_requests(user=request.user), pk=request_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class FriendRequestAcceptView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(
        summary="Accept a request sent to me",
        request=None,
        responses={200: FriendRequestOutcomeSerializer, **ERRORS, **NOT_FOUND},
    )
    def post(self, request, request_id: int):
        friend_request = get_object_or_404(selectors.incoming_requests(user=request.user), pk=request_id)
        services.friend_request_accept(request=friend_request)
        return Response(FriendRequestOutcomeSerializer({"status": "friends", "user": friend_request.from_user}).data)


class FriendRequestDeclineView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="Decline a request sent to me", request=None, responses={204: None, **ERRORS, **NOT_FOUND})
    def post(self, request, request_id: int):
        friend_request = get_object_or_404(selectors.incoming_requests(user=request.user), pk=request_id)
        services.friend_request_decline(request=friend_request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BlockSerializer(serializers.Serializer):
    user = PublicUserSerializer(source="blocked")
    created_at = serializers.DateTimeField()


class BlockCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, help_text="Their id.")

    def validate_user(self, value: int) -> User:
        person = User.objects.filter(pk=value, is_active=True).first()
        if person is None:
            raise serializers.ValidationError("No one by that id here.")
        return person


class BlocksView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="People I blocked", responses={200: BlockSerializer(many=True), **ERRORS})
    def get(self, request):
        return Response(BlockSerializer(selectors.blocks_by(user=request.user), many=True).data)

    @extend_schema(
        summary="Block someone",
        description="They can no longer message me, ask to be my friend or see me online; a friendship and "
        "pending requests between us end. They are not told. Blocking twice changes nothing.",
        request=BlockCreateSerializer,
        responses={201: BlockSerializer, **ERRORS},
    )
    def post(self, request):
        serializer = BlockCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        block = services.block_create(blocker=request.user, blocked=serializer.validated_data["user"])
        return Response(BlockSerializer(block).data, status=status.HTTP_201_CREATED)


class BlockDetailView(APIView):
    permission_classes = [IsVerified]

    @extend_schema(summary="Unblock", responses={204: None, **ERRORS, **NOT_FOUND})
    def delete(self, request, user_id: int):
        if not services.block_remove(blocker=request.user, blocked_id=user_id):
            raise exceptions.NotFound("You have not blocked this person.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, help_text="The id of the person reported.")
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    details = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    room = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    message = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)

    def validate_user(self, value: int) -> User:
        person = User.objects.filter(pk=value).first()
        if person is None:
            raise serializers.ValidationError("No one by that id here.")
        return person


class ReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.IntegerField(source="reported_id")
    reason = serializers.CharField()
    details = serializers.CharField()
    room = serializers.IntegerField(source="room_id", allow_null=True)
    message = serializers.IntegerField(source="message_id", allow_null=True)
    status = serializers.ChoiceField(
        choices=Report.Status.choices, help_text="open until moderators resolve or dismiss the report."
    )
    created_at = serializers.DateTimeField()


class ReportsView(APIView):
    permission_classes = [IsVerified]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "report"

    @extend_schema(
        summary="Report someone",
        description="From a lobby chat or anywhere: optionally the room (one I am in) and a message of theirs "
        "in it. Moderators handle reports in the admin's queue. A lobby chat with an open report is not purged.",
        request=ReportCreateSerializer,
        responses={201: ReportSerializer, **ERRORS, **THROTTLED},
    )
    def post(self, request):
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        report = services.report_create(
            reporter=request.user,
            reported=data["user"],
            reason=data["reason"],
            details=data["details"],
            room_id=data["room"],
            message_id=data["message"],
        )
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
