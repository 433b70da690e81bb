"""Image files built in memory for upload tests."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_bytes(fmt="PNG", size=(800, 600), mode="RGB", exif_gps=False) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    buffer = io.BytesIO()
    kwargs = {}
    if exif_gps:
        exif = Image.Exif()
        exif[0x010F] = "SpyCam Inc"  # Make
        kwargs["exif"] = exif.tobytes()
    if fmt == "GIF":
        image = image.convert("P")
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def upload(data: bytes, name="me.png", content_type="image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def bomb_png() -> bytes:
    """A tiny PNG that claims 30,000 x 30,000 pixels (900 megapixels)."""
    image = Image.new("1", (30_000, 30_000))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
