"""Search over the messages of the rooms a person is in: query building, ranking, snippets, cursors.

PostgreSQL: full-text search. `websearch_to_tsquery` reads what people type (words, "quoted
phrases", `or`, `-excluded`) and never fails on odd input, so quotes, operators and SQL-looking text
are just words. The text search configuration is 'simple': chat is written in any language, and
'simple' lowercases words without stemming or dropping stop words, so it is the same for all of them
(the price: "running" does not find "run"). The body's tsvector is stored in Message.search_vector
(a generated column, GIN-indexed by migration chat/0006): matching and ranking read it instead of
parsing bodies, which is what keeps a query of common words fast, as PostgreSQL then finds the newest
matches by walking the messages newest first and testing each one's stored vector.

Ranking: ts_rank with length normalisation (a short message about the words beats a long one that
mentions them in passing), newest first on ties. Pages are keyset pages over (rank, id), carried in
an opaque cursor, so pages never overlap and every hit is reachable; an edit between two pages can
move a message across the boundary (the price of ranking by content).

Snippets are safe HTML: ts_headline marks the hits with control characters removed from the text
beforehand, so they cannot come from the message; the snippet is HTML-escaped and only then are the
marks turned into <mark></mark>. (The API returns that HTML in `snippet`; clients insert it as is.)

SQLite (embedded mode) has no full-text search: every word must occur in the body (a contains-match,
case-insensitive for ASCII), newest first, with the same snippets, pages and cursors.
"""

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import F, FloatField, Func, Max, Q, QuerySet, TextField, Value, Window
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat.models import SEARCH_CONFIG, Message
from rooms.models import Membership

CONFIG = SEARCH_CONFIG
QUERY_MAX_CHARS = 200
DEFAULT_LIMIT = 20
CANDIDATES = 1000
MAX_LIMIT = 50
# ts_rank normalisation 1: divide by 1 + log(number of words in the message).
RANK_NORMALIZATION = 1
# Characters ts_headline wraps around hits. They are removed from the text first, so every one in
# the headline is a mark.
MARK_START, MARK_STOP = "\x02", "\x03"
# ts_headline's parser drops what looks like markup ("<b>", "&amp;"); these characters stand in for
# "<", ">" and "&" while it reads the text, so a snippet shows the message as written.
MARKUP, MARKUP_STAND_INS = "<>&", "\x04\x05\x06"
# One excerpt of up to 35 words around the hits: a whole message, for most chat messages.
HEADLINE_OPTIONS = f"StartSel={MARK_START}, StopSel={MARK_STOP}, MaxWords=35, MinWords=15"
# The SQLite snippet: this many characters either side of the first hit.
SNIPPET_CONTEXT_CHARS = 80
_WORDS = re.compile(r"\w+")
_MARKUP_BACK = str.maketrans(MARKUP_STAND_INS, MARKUP)


@dataclass(frozen=True)
class SearchCursor:
    """Where the next page starts: after the hit with this rank and id (rank order, then id), among
    the candidates no newer than `ceiling` (the newest candidate when the first page was read)."""

    ceiling: int
    rank: float
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.ceiling, self.rank, self.id]).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "SearchCursor":
        """ValueError for anything `encode` did not make."""
        try:
            ceiling, rank, message_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
            raise ValueError("not a cursor") from error
        valid_rank = isinstance(rank, float | int) and not isinstance(rank, bool) and math.isfinite(rank)
        if not valid_rank or not all(type(value) is int and 0 < value < 2**63 for value in (ceiling, message_id)):
            raise ValueError("not a cursor")
        return cls(ceiling=ceiling, rank=float(rank), id=message_id)


@dataclass(frozen=True)
class SearchPage:
    """Hits best first, each a Message with `rank`, `snippet` (safe HTML) and its author loaded;
    `next` is where the following page starts (None on the last page)."""

    hits: list[Message]
    next: SearchCursor | None


def message_search(
    *, user, query: str, room_id: int | None = None, after: SearchCursor | None = None, limit: int = DEFAULT_LIMIT
) -> SearchPage:
    """One page of the hits for `query` among the undeleted messages of the person's rooms (of the one
    room `room_id`, when given; a room the person is not in gives no hits). One query.

    Only the newest CANDIDATES matches are ranked: ranking reads every message it ranks, so an
    unbounded ranking of a word in half the messages costs seconds; the newest thousand cost
    milliseconds and are the ones people look for in a chat. The cursor keeps the first page's
    newest candidate as a ceiling, so later pages rank the same candidates whatever is sent meanwhile.
    """
    backend = _backend(query)
    mine = Message.objects.filter(
        room_id__in=Membership.objects.filter(user=user).values("room_id"), deleted_at__isnull=True
    )
    if room_id is not None:
        mine = mine.filter(room_id=room_id)
    if after is not None:
        mine = mine.filter(id__lte=after.ceiling)
    candidates = backend.matching(mine).order_by("-id").values("id")[:CANDIDATES]
    hits = backend.ranked(Message.objects.filter(pk__in=candidates))
    if after is None:
        hits = hits.annotate(ceiling=Window(Max("id")))
    else:
        hits = hits.filter(Q(rank__lt=after.rank) | Q(rank=after.rank, id__lt=after.id))
    # One more than asked says whether a next page exists without a COUNT.
    hits = list(hits.select_related("author").defer("search_vector").order_by("-rank", "-id")[: limit + 1])
    for hit in hits:
        hit.snippet = snippet_html(backend.headline(hit))
    if len(hits) <= limit:
        return SearchPage(hits=hits, next=None)
    hits = hits[:limit]
    ceiling = after.ceiling if after is not None else hits[0].ceiling
    return SearchPage(hits=hits, next=SearchCursor(ceiling=ceiling, rank=hits[-1].rank, id=hits[-1].pk))


def messages_matching(messages: QuerySet[Message], query: str) -> QuerySet[Message]:
    """Those of `messages` that match `query` as search reads it (the indexed vector on PostgreSQL), unranked."""
    return _backend(query).matching(messages)


def _backend(query: str):
    return _FullText(query) if connection.vendor == "postgresql" else _Contains(query)


def message_url(message: Message) -> str:
    """The room page opened at the message (its page of history, the message highlighted)."""
    return f"{reverse('room', args=[message.room_id])}?around={message.pk}"


def snippet_html(headline: str) -> SafeString:
    """The headline, escaped, with its marks (and nothing else) as HTML."""
    return mark_safe(escape(headline).replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>"))  # noqa: S308


class _FullText:
    """PostgreSQL: the GIN-indexed tsvector matched against websearch_to_tsquery, ts_rank, ts_headline."""

    def __init__(self, query: str):
        self.tsquery = SearchQuery(query, config=CONFIG, search_type="websearch")

    def matching(self, messages: QuerySet[Message]) -> QuerySet[Message]:
        return messages.filter(search_vector=self.tsquery)

    def ranked(self, messages: QuerySet[Message]) -> QuerySet[Message]:
        rank = Func(F("search_vector"), self.tsquery, Value(RANK_NORMALIZATION), function="ts_rank")
        # Marks cannot come from the message: they are taken out of the text ts_headline reads.
        # Control characters of the text itself are dropped: every mark and stand-in in the headline is ours.
        own = Value(MARKUP + MARK_START + MARK_STOP + MARKUP_STAND_INS)
        text = Func(F("body"), own, Value(MARKUP_STAND_INS), function="translate", output_field=TextField())
        options = Value(HEADLINE_OPTIONS)
        headline = Func(Value(CONFIG), text, self.tsquery, options, function="ts_headline", output_field=TextField())
        # ts_rank is a real; as a double precision it survives the trip through a cursor exactly.
        # ts_headline is costly, and PostgreSQL computes it after the LIMIT, for the page only.
        return messages.annotate(rank=Cast(rank, FloatField()), headline=headline)

    def headline(self, hit: Message) -> str:
        return hit.headline.translate(_MARKUP_BACK)


class _Contains:
    """SQLite: every word of the query in the body, all hits ranked equal (so newest first)."""

    def __init__(self, query: str):
        self.words = _WORDS.findall(query)

    def matching(self, messages: QuerySet[Message]) -> QuerySet[Message]:
        if not self.words:
            return messages.none()
        for word in self.words:
            messages = messages.filter(body__icontains=word)
        return messages

    def ranked(self, messages: QuerySet[Message]) -> QuerySet[Message]:
        return messages.annotate(rank=Value(0.0, output_field=FloatField()))

    def headline(self, hit: Message) -> str:
        return contains_headline(hit.body, self.words)


def contains_headline(body: str, words: list[str]) -> str:
    """A ts_headline look-alike for the SQLite fallback: a window around the first hit, every hit marked."""
    body = body.translate({ord(MARK_START): None, ord(MARK_STOP): None})
    pattern = re.compile("|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(body)
    start = max(0, first.start() - SNIPPET_CONTEXT_CHARS) if first else 0
    end = min(len(body), (first.end() if first else 0) + SNIPPET_CONTEXT_CHARS)
    window = pattern.sub(lambda match: f"{MARK_START}{match.group()}{MARK_STOP}", body[start:end])
    return f"{'… ' if start else ''}{window}{' …' if end < len(body) else ''}"
