"""Single-use WebSocket tickets for API clients, which have a JWT but no session cookie.

A JWT must never travel in a URL (logs, proxies, browser history keep URLs), and browsers cannot
set headers on a WebSocket handshake. So a client trades its JWT for a random ticket over HTTPS
and sends the ticket as the socket's first frame. The cache holds only a hash of the ticket and
forgets it after WS_TICKET_SECONDS (30) or its first use, whichever comes first.
"""

import hashlib
import secrets

from django.conf import settings
from django.core.cache import cache

from accounts.models import User

DEFAULT_TTL_SECONDS = 30
KEY_PREFIX = "ws-ticket:"


def ticket_lifetime() -> int:
    return getattr(settings, "WS_TICKET_SECONDS", DEFAULT_TTL_SECONDS)


def ticket_issue(*, user) -> str:
    ticket = secrets.token_urlsafe(32)
    cache.set(_key(ticket), user.pk, timeout=ticket_lifetime())
    return ticket


def ticket_redeem(*, ticket: str) -> User | None:
    """The verified, active person a ticket was issued to, or None (unknown, expired or used before)."""
    if not isinstance(ticket, str) or not 0 < len(ticket) <= 200:
        return None
    key = _key(ticket)
    user_id = cache.get(key)
    # delete() reports whether the key was still there: of two redemptions racing, one wins.
    if user_id is None or not cache.delete(key):
        return None
    return User.objects.filter(pk=user_id, is_active=True, email_verified_at__isnull=False).first()


def _key(ticket: str) -> str:
    return KEY_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()
