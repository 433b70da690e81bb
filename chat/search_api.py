"""GET /api/search/: the messages of my rooms that match a query, best first, a cursor page at a time."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from chat import search
from chat.events import UserPayload
from config.api_errors import ErrorSerializer
from rooms.api import RoomScopedView
from rooms.selectors import membership_access


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        max_length=search.QUERY_MAX_CHARS,
        help_text='What to find: words, "a quoted phrase", `or`, `-word` to leave out (web search syntax).',
    )
    room = serializers.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Only this room (one of mine)."
    )
    cursor = serializers.CharField(required=False, help_text="From the `next` link.")
    limit = serializers.IntegerField(
        required=False,
        default=search.DEFAULT_LIMIT,
        min_value=1,
        max_value=search.MAX_LIMIT,
        help_text=f"Hits per page, 1 to {search.MAX_LIMIT}.",
    )

    def validate_cursor(self, token: str) -> search.SearchCursor:
        try:
            return search.SearchCursor.decode(token)
        except ValueError as error:
            raise serializers.ValidationError("Not a valid cursor; follow the `next` link.") from error


class SearchHitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    room = serializers.IntegerField(source="room_id")
    seq = serializers.IntegerField()
    author = UserPayload(allow_null=True)
    created_at = serializers.DateTimeField()
    snippet = serializers.CharField(
        help_text="Safe HTML: the message text around the hits, escaped, each hit in <mark></mark>."
    )
    rank = serializers.FloatField(help_text="Higher is a better match (PostgreSQL); 0 in embedded mode.")
    url = serializers.SerializerMethodField(help_text="The room page opened at this message.")

    def get_url(self, message) -> str:
        return search.message_url(message)


class SearchPageSerializer(serializers.Serializer):
    results = SearchHitSerializer(many=True, help_text="Best match first.")
    next = serializers.URLField(allow_null=True, help_text="The following page; null on the last one.")


SEARCH_DESCRIPTION = f"""Full-text search over the messages of the rooms I am in (or of one of them, `room`).
Deleted messages never appear. The query uses web search syntax (PostgreSQL `websearch_to_tsquery`,
configuration 'simple': words are matched whole and case-insensitively, in any language, without
stemming); any text is a valid query, one without words just finds nothing. Hits come best match
first (ts_rank, normalised by message length), newest first among equals.

Pages are keyset pages over (rank, id): follow `next` until it is null to reach every hit, with no
overlaps. In embedded (SQLite) mode every word must occur in the message, newest first, rank 0.
`q` is required, not blank, at most {search.QUERY_MAX_CHARS} characters."""


class SearchView(RoomScopedView):
    @extend_schema(
        parameters=[SearchQuerySerializer],
        responses={
            200: SearchPageSerializer,
            400: OpenApiResponse(ErrorSerializer, description="A missing, blank or too long q; a bad cursor or limit"),
            404: OpenApiResponse(ErrorSerializer, description="`room` is not one of my rooms"),
        },
        summary="Search the messages of my rooms",
        description=SEARCH_DESCRIPTION,
    )
    def get(self, request):
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        if "room" in data:
            # A room I am not in answers 404 like everywhere else, rather than an empty page.
            membership_access(user=request.user, room_id=data["room"])
        page = search.message_search(
            user=request.user, query=data["q"], room_id=data.get("room"), after=data.get("cursor"), limit=data["limit"]
        )
        next_url = None
        if page.next is not None:
            next_url = replace_query_param(request.build_absolute_uri(), "cursor", page.next.encode())
        return Response({"results": SearchHitSerializer(page.hits, many=True).data, "next": next_url})
