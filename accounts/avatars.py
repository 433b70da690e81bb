"""Avatar images: trust the bytes, not the name, and never store what was uploaded.

Every upload is decoded by Pillow and re-encoded, which strips EXIF (locations, camera
serials) and anything smuggled after the image data. Pixel counts are checked before decoding
so a small file that inflates to gigabytes is refused.
"""

import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
MAX_PIXELS = 40_000_000
OUTPUT_FORMAT = "WEBP"
OUTPUT_EXTENSION = "webp"


@dataclass(frozen=True)
class AvatarImages:
    full: ContentFile
    thumbnail: ContentFile


def _invalid(message: str, code: str) -> ValidationError:
    return ValidationError({"avatar": [message]}, code=code)


def process(upload) -> AvatarImages:
    if upload.size > settings.AVATAR_MAX_BYTES:
        limit_mb = settings.AVATAR_MAX_BYTES // (1024 * 1024)
        raise _invalid(f"The image is larger than {limit_mb} MB.", "too_large")
    data = upload.read()
    image = _open_checked(data)
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return AvatarImages(
        full=_encode(image, settings.AVATAR_SIZE),
        thumbnail=_encode(image, settings.AVATAR_THUMBNAIL_SIZE),
    )


def _open_checked(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ALLOWED_FORMATS:
            raise _invalid("Use a PNG, JPEG, WebP or GIF image.", "unsupported_type")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _invalid("The image has too many pixels.", "too_many_pixels")
        image.load()
    except ValidationError:
        raise
    except Image.DecompressionBombError as error:
        raise _invalid("The image has too many pixels.", "too_many_pixels") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _invalid("This file is not a PNG, JPEG, WebP or GIF image.", "not_an_image") from error
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _encode(image: Image.Image, size: int) -> ContentFile:
    copy = image.copy()
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    copy.save(buffer, OUTPUT_FORMAT, quality=85, method=4)
    return ContentFile(buffer.getvalue())


def store(content: ContentFile) -> str:
    return default_storage.save(f"avatars/{uuid.uuid4().hex}.{OUTPUT_EXTENSION}", content)


def delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
