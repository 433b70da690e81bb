"""JWT revocation: the refresh blacklist (database) and an access-token denylist (cache).

Access tokens are stateless, so logging out could not stop one before it expires; the denylist
keeps its `jti` in Redis exactly until then. Only a token issued no later than its owner's latest
API sign-out (`User.api_logout_at`, on the row authentication loads anyway) can be on the list, so
only those cost a cache read: most requests make none. "No later" allows JWT_LOGOUT_LEEWAY_SECONDS of
skew: the sign-out's time and the token's `iat` may come from the clocks of different hosts.
"""

from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

DENYLIST_PREFIX = "jwt-denied:"


def access_deny(*, user, jti: str, expires_at: datetime) -> None:
    now = timezone.now()
    seconds_left = int((expires_at - now).total_seconds()) + 1
    if seconds_left > 0:
        # Recorded before the denylist entry, so that no listed token is ever let through unchecked.
        type(user).objects.filter(pk=user.pk).update(api_logout_at=now)
        user.api_logout_at = now
        cache.set(DENYLIST_PREFIX + jti, 1, timeout=seconds_left)


def access_is_denied(*, user, jti: str, issued_at: int | None) -> bool:
    """Whether this access token of `user` was revoked by a sign-out.

    `iat` is whole seconds, rounded down: a token issued in the second of a sign-out, before or
    after it, is looked up.
    """
    logout = user.api_logout_at
    if logout is None:
        return False
    if issued_at is not None and issued_at > logout.timestamp() + settings.JWT_LOGOUT_LEEWAY_SECONDS:
        return False
    return cache.get(DENYLIST_PREFIX + jti) is not None


def refresh_blacklist(*, user, refresh: str) -> None:
    invalid = ValidationError({"refresh": ["This refresh token is not valid or has expired."]}, code="invalid_token")
    try:
        token = RefreshToken(refresh)
    except TokenError as error:
        raise invalid from error
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise invalid
    token.blacklist()


def refresh_lock(*, refresh: str) -> None:
    """Lock the refresh token's row until the caller's transaction ends, so that two refreshes with
    one token take turns: the second then finds it blacklisted by the first, instead of both passing
    the blacklist check and both getting a new pair. A token that does not verify is left to the caller.
    """
    try:
        jti = RefreshToken(refresh, verify=False)[api_settings.JTI_CLAIM]
    except (TokenError, KeyError):
        return
    list(OutstandingToken.objects.select_for_update().filter(jti=jti).values_list("pk"))


def outstanding_tokens_blacklist(*, user) -> int:
    """Blacklist every live refresh token of the user, e.g. when an admin deactivates them."""
    live = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True)
    return len(BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in live]))


def expired_refresh_tokens(*, now: datetime | None = None):
    """Refresh tokens past their expiry (and their blacklist rows): what simplejwt's flushexpiredtokens deletes."""
    return OutstandingToken.objects.filter(expires_at__lte=now or timezone.now())


def refresh_tokens_delete_expired(*, now: datetime | None = None) -> int:
    deleted, per_model = expired_refresh_tokens(now=now).delete()
    return per_model.get(OutstandingToken._meta.label, 0)
