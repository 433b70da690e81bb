"""Writes for link previews: the cached card of a URL, and a message's card (run by a Celery task).

Fetching (chat.link_previews) happens outside any transaction: a slow page never holds a row lock.
"""

import hashlib
import logging
from dataclasses import asdict
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import events, link_previews
from chat.models import LinkPreview, Message

logger = logging.getLogger(__name__)

_NO_CARD = {"title": "", "description": "", "image_url": "", "site_name": ""}


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def link_preview_for(*, url: str) -> LinkPreview:
    """The card of a normalized URL: the stored one while fresh, else fetched now (ok or failed, both kept)."""
    key = url_hash(url)
    stored = LinkPreview.objects.filter(url_hash=key).first()
    if stored is not None and stored.is_fresh:
        return stored
    now = timezone.now()
    try:
        fields = {**asdict(link_previews.fetch(url)), "status": LinkPreview.Status.OK}
        expires_at = now + settings.LINK_PREVIEW_TTL
    except link_previews.Refused as refusal:
        logger.info("No link preview for %s: %s", url, refusal)
        # A card that worked before stays what its messages show; only when it is tried again changes.
        fields = {} if stored is not None and stored.is_ok else {**_NO_CARD, "status": LinkPreview.Status.FAILED}
        expires_at = now + settings.LINK_PREVIEW_FAILURE_TTL
    preview, _ = LinkPreview.objects.update_or_create(
        url_hash=key, defaults={**fields, "url": url, "fetched_at": now, "expires_at": expires_at}
    )
    return preview


def message_preview_update(*, message_id: int) -> LinkPreview | None:
    """Give a message the card of its first link and announce it to the room (`message.preview`).

    None, and nothing announced, when previews are off, the message is gone, deleted or has no
    link, the link has no card, or the message was edited to another link while it was fetched.
    """
    if not settings.LINK_PREVIEWS_ENABLED:
        return None
    body = Message.objects.filter(pk=message_id, deleted_at__isnull=True).values_list("body", flat=True).first()
    url = link_previews.first_url(body) if body else None
    if url is None:
        return None
    preview = link_preview_for(url=url)
    if not preview.is_ok:
        return None
    return _message_preview_set(message_id=message_id, url=url, preview=preview)


@transaction.atomic
def _message_preview_set(*, message_id: int, url: str, preview: LinkPreview) -> LinkPreview | None:
    # Locked and checked again: an edit or a delete may have committed during the fetch.
    message = Message.objects.select_for_update(no_key=True).filter(pk=message_id).first()
    if message is None or message.is_deleted or message.preview_id == preview.pk:
        return None
    if link_previews.first_url(message.body) != url:
        return None
    message.preview = preview
    message.save(update_fields=["preview"])
    events.publish_on_commit(events.room_group(message.room_id), partial(events.message_preview, message))
    return preview
