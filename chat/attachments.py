"""Attachments: an upload checked and stored, claimed by the message that carries it, deleted with it.

The flow: POST /api/uploads/ stores a file (attachment_upload) and answers its id; a send with
`attachments: [ids]` claims the sender's own unsent uploads in the message's transaction
(attachments_claim, attachments_link). Files live in the default storage under random names;
nothing the client says about a file is trusted (chat.sniff, accounts.images).
"""

import mimetypes
import unicodedata
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Case, Value, When
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts import images
from chat import limits, sniff, tasks
from chat.db import on_commit_robust
from chat.models import Attachment
from rooms.services import require_verified

FIELD = "file"
NAME_MAX_CHARS = 150
SNIFF_BYTES = 4096
PREVIEW_TYPE = "image/webp"
_IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


def _invalid(message: str, code: str, field: str = FIELD) -> ValidationError:
    return ValidationError({field: [message]}, code=code)


def too_large_message() -> str:
    return f"A file is at most {filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."


# Uploading


@dataclass(frozen=True)
class _Checked:
    content_type: str
    width: int | None = None
    height: int | None = None
    preview: bytes | None = None


def attachment_upload(*, uploader, upload) -> Attachment:
    """Check, store and record one uploaded file (not yet part of any message).

    Raises ValidationError (field `file`) for an empty or too large file, a lie about its type,
    an image that does not decode or has too many pixels, or too many uploads waiting unsent;
    RateLimited when uploading too fast.
    """
    require_verified(uploader)
    limits.upload_rate_take(user_id=uploader.pk)
    if Attachment.objects.filter(uploader=uploader, message__isnull=True).count() >= settings.ATTACHMENT_MAX_UNSENT:
        message = f"You have {settings.ATTACHMENT_MAX_UNSENT} files waiting to be sent: send or remove some first."
        raise _invalid(message, "too_many_unsent")
    name = clean_name(getattr(upload, "name", "") or "")
    checked = _checked(upload, name=name)
    stem = f"attachments/{uuid.uuid4().hex}"
    # Never an extension a web server would serve as markup, should one ever serve the folder.
    served_type = sniff.served_type(checked.content_type)
    extension = mimetypes.guess_extension(served_type) if served_type != sniff.OCTET_STREAM else None
    extension = extension or ".bin"
    upload.seek(0)
    stored = [default_storage.save(f"{stem}{extension}", upload)]
    try:
        if checked.preview is not None:
            stored.append(default_storage.save(f"{stem}.preview.webp", ContentFile(checked.preview)))
        return Attachment.objects.create(
            uploader=uploader,
            storage_name=stored[0],
            name=name,
            content_type=checked.content_type,
            size=upload.size,
            width=checked.width,
            height=checked.height,
            preview_name=stored[1] if len(stored) > 1 else "",
        )
    except BaseException:
        files_delete(stored)  # Nothing refers to them: gone now, not by a task later.
        raise


def _checked(upload, *, name: str) -> _Checked:
    if not upload.size:
        raise _invalid("The file is empty.", "empty")
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise _invalid(too_large_message(), "too_large")
    upload.seek(0)
    sniffed = sniff.sniffed_type(upload.read(SNIFF_BYTES))
    content_type = sniff.resolved_type(
        sniffed=sniffed, claims=sniff.claimed_types(name=name, declared=getattr(upload, "content_type", None))
    )
    if content_type is None:
        raise _invalid("This file is not what its name or type says it is.", "type_mismatch")
    if sniffed not in sniff.INLINE_IMAGE_TYPES:
        return _Checked(content_type=content_type)
    upload.seek(0)
    image = images.open_checked(upload.read(), field=FIELD, fit=settings.ATTACHMENT_PREVIEW_SIZE)
    preview, _ = images.encoded(image, settings.ATTACHMENT_PREVIEW_SIZE)
    width, height = image.info["original_size"]
    return _Checked(content_type=_IMAGE_TYPES[image.format], width=width, height=height, preview=preview)


def clean_name(raw: str) -> str:
    """A file name safe to show and to offer as a download name: no folders, no control or
    direction-changing characters (which can make "gpj.exe" read as "exe.jpg"), not too long."""
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = "".join(char for char in name if unicodedata.category(char)[0] not in "CZ" or char == " ")
    name = name.strip(" .")
    if len(name) > NAME_MAX_CHARS:
        suffix = PurePosixPath(name).suffix[:16]
        name = name[: NAME_MAX_CHARS - len(suffix)] + suffix
    return name or "file"


# Sending: claimed and linked inside the message's transaction (chat.services)


def clean_ids(value) -> list[int]:
    """The attachment ids of a send, in order, each once; ValidationError on `attachments` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or any(
        isinstance(item, bool) or not isinstance(item, int) or item <= 0 for item in value
    ):
        raise _invalid("Send a list of upload ids.", "invalid", field="attachments")
    ids = list(dict.fromkeys(value))
    if len(ids) > settings.ATTACHMENT_MAX_PER_MESSAGE:
        limit = settings.ATTACHMENT_MAX_PER_MESSAGE
        raise _invalid(f"A message carries at most {limit} files.", "too_many", field="attachments")
    return ids


def attachments_claim_many(*, requests: list[tuple[int, list[int]]]) -> list[list[Attachment] | ValidationError]:
    """For each (uploader id, ids) of a send: the uploads, locked until commit, or the refusal when
    any of them is not that person's, or is sent already (with this batch's earlier sends too).
    One query whatever the number of sends.
    """
    wanted = {pk for _, ids in requests for pk in ids}
    if not wanted:
        return [[] for _ in requests]
    unsent = Attachment.objects.select_for_update(no_key=True).filter(pk__in=wanted, message__isnull=True)
    available = {attachment.pk: attachment for attachment in unsent.order_by("pk")}
    outcomes: list[list[Attachment] | ValidationError] = []
    for uploader_id, ids in requests:
        found = [available.get(pk) for pk in ids]
        if any(attachment is None or attachment.uploader_id != uploader_id for attachment in found):
            message = "Attach only your own uploads that are not sent yet."
            outcomes.append(_invalid(message, "invalid", field="attachments"))
            continue
        for pk in ids:
            del available[pk]  # Claimed: a second send of the same batch cannot have it too.
        outcomes.append(sorted(found, key=lambda attachment: attachment.pk))
    return outcomes


def attachments_link(messages: list) -> None:
    """Point each message's claimed uploads (its `prefetched_attachments`) at it: one UPDATE."""
    owners = {attachment.pk: message.pk for message in messages for attachment in message.prefetched_attachments}
    if not owners:
        return
    message_of = Case(*(When(pk=pk, then=Value(message_id)) for pk, message_id in owners.items()))
    Attachment.objects.filter(pk__in=owners).update(message_id=message_of)
    for message in messages:
        for attachment in message.prefetched_attachments:
            attachment.message_id = message.pk


# Deleting: rows go with their message (or the purge); files follow on commit (chat.signals)


def files_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)  # A name already gone is no error (local and S3 alike).


def files_delete_on_commit(names: list[str]) -> None:
    names = [name for name in names if name]
    if names:
        on_commit_robust(partial(tasks.attachment_files_delete.delay, names))


def attachments_purge_unsent() -> int:
    """Delete uploads never sent that are older than ATTACHMENT_UNSENT_LIFETIME (their files follow)."""
    cutoff = timezone.now() - settings.ATTACHMENT_UNSENT_LIFETIME
    with transaction.atomic():
        # Locked first: an upload being sent at this very moment (claimed, so locked) is skipped, and
        # a send that comes after finds it gone, rather than this deleting it from its new message.
        old = Attachment.objects.select_for_update(skip_locked=True).filter(message__isnull=True, created_at__lt=cutoff)
        deleted, _ = Attachment.objects.filter(pk__in=list(old.values_list("pk", flat=True))).delete()
    return deleted
