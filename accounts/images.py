"""Images people upload (avatars, attachments): trust the bytes, not the name.

An image is decoded by Pillow, never trusted by its extension or declared type. Pixel counts are
checked before decoding, so a small file that would inflate to gigabytes is refused; what is
shown is always a re-encoded copy, which strips EXIF (locations, camera serials) and anything
smuggled after the image data.
"""

import io

from django.core.exceptions import ValidationError
from PIL import Image, ImageOps

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}
MAX_PIXELS = 40_000_000
OUTPUT_FORMAT = "WEBP"
ORIENTATION = 0x0112  # the EXIF tag


def open_checked(data: bytes, *, field: str, fit: int | None = None) -> Image.Image:
    """The decoded image (its first frame), upright; ValidationError on `field` for anything else.

    With `fit`, a JPEG is decoded at the smallest scale that still covers fit x fit (its DCT
    scaling: a 12 MP photo wanted at 1280 px decodes at a quarter of the work); the upright size
    of the original is in `image.info["original_size"]` either way.
    """
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in ALLOWED_FORMATS:
            raise _invalid(field, "Use a PNG, JPEG, WebP or GIF image.", "unsupported_type")
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _invalid(field, "The image has too many pixels.", "too_many_pixels")
        if image.getexif().get(ORIENTATION, 1) in (5, 6, 7, 8):  # turned a quarter: upright, the sides swap
            width, height = height, width
        if fit is not None:
            image.draft(None, (fit, fit))
        image.load()
        upright = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except Image.DecompressionBombError as error:
        raise _invalid(field, "The image has too many pixels.", "too_many_pixels") from error
    except Exception as error:  # Malformed files make Pillow raise many kinds of errors; each is bad input here.
        raise _invalid(field, "This file is not a PNG, JPEG, WebP or GIF image.", "not_an_image") from error
    upright.format = image.format
    upright.info["original_size"] = (width, height)
    return upright


def _invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [message]}, code=code)


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def encoded(image: Image.Image, size: int) -> tuple[bytes, tuple[int, int]]:
    """A re-encoded copy that fits in size x size (WebP, no metadata), and its dimensions."""
    copy = image.convert("RGBA" if has_alpha(image) else "RGB")
    copy.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    copy.save(buffer, OUTPUT_FORMAT, quality=85, method=4)
    return buffer.getvalue(), copy.size
