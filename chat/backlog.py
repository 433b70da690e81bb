"""How far a client is behind in reading its socket, so that one that stops reading cannot make
the server hold an ever-growing pile of frames.

Daphne (Twisted, through autobahn) queues every frame a consumer sends, without limit, until the
client's TCP window takes it: a frozen tab in a busy room would grow its process's memory for as
long as the socket lives. The consumer cannot see that queue, but it can learn what the client has
read: each of the server's pings carries a token the client echoes in its pong, and a pong proves
that everything written before its ping was read. What was written since the latest answered ping
is the backlog. Past half the limit the consumer pings at once to learn more; past the limit it
closes the socket, and the client, reading again, reconnects and resumes from PostgreSQL.

A blind pong cannot defeat this: the token is random and travels behind the frames it confirms.
"""

import secrets

MAX_PINGS = 8


class Backlog:
    # One per socket, and every socket is pinged: slots, and a list of at most MAX_PINGS rather
    # than a bounded deque (a deque is over 600 bytes even empty; a list of one ping, about 70).
    __slots__ = ("limit", "written", "confirmed", "pings")

    def __init__(self, *, limit: int):
        self.limit = limit
        self.written = 0  # Characters of every frame sent (the frames are ASCII JSON: bytes).
        self.confirmed = 0  # ... of which the client proved it read.
        # (token, written before it), oldest first; a client that never echoes keeps only the latest few.
        self.pings: list[tuple[str, int]] = []

    def wrote(self, size: int) -> None:
        self.written += size

    def ping(self) -> str:
        """A token for the next ping, which confirms what was written before it once echoed."""
        token = secrets.token_hex(8)
        self.pings.append((token, self.written))
        del self.pings[:-MAX_PINGS]
        return token

    def answered(self, token) -> None:
        """A pong: an unknown token (or none) confirms nothing."""
        for index, (sent, written) in enumerate(self.pings):
            if sent == token:
                self.confirmed = written
                del self.pings[: index + 1]
                return

    @property
    def unread(self) -> int:
        return self.written - self.confirmed

    def over(self) -> bool:
        return self.unread > self.limit

    def wants_attention(self) -> bool:
        """Over the limit, or time to ping: one check for the common case of neither."""
        return self.unread > self.limit // 2 and (not self.pings or self.unread > self.limit)

    def wants_ping(self) -> bool:
        """Half the limit unread and no ping on its way: time to ask."""
        return self.unread > self.limit // 2 and not self.pings
