"""Avatar images: never store what was uploaded (accounts.images decodes, checks and re-encodes)."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts import images

OUTPUT_EXTENSION = "webp"


@dataclass(frozen=True)
class AvatarImages:
    full: ContentFile
    thumbnail: ContentFile


def process(upload) -> AvatarImages:
    if upload.size > settings.AVATAR_MAX_BYTES:
        limit_mb = settings.AVATAR_MAX_BYTES // (1024 * 1024)
        raise ValidationError({"avatar": [f"The image is larger than {limit_mb} MB."]}, code="too_large")
    image = images.open_checked(upload.read(), field="avatar")
    return AvatarImages(
        full=ContentFile(images.encoded(image, settings.AVATAR_SIZE)[0]),
        thumbnail=ContentFile(images.encoded(image, settings.AVATAR_THUMBNAIL_SIZE)[0]),
    )


def store(content: ContentFile) -> str:
    return default_storage.save(f"avatars/{uuid.uuid4().hex}.{OUTPUT_EXTENSION}", content)


def delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
