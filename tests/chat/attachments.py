"""Files for attachment tests, and uploads through the real API."""

import io

from django.core.files.storage import default_storage
from PIL import Image

from tests.accounts.images import image_bytes, upload


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def uploaded(client, data: bytes | None = None, name="photo.png", content_type="image/png"):
    """POST /api/uploads/ with one file (a PNG unless given); the response."""
    data = image_bytes() if data is None else data
    return client.post(
        "/api/uploads/", {"file": upload(data, name=name, content_type=content_type)}, format="multipart"
    )


def upload_id(client, data: bytes | None = None, name="photo.png", content_type="image/png") -> int:
    response = uploaded(client, data, name, content_type)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def stored(name: str) -> bool:
    return bool(name) and default_storage.exists(name)


def streamed(response) -> bytes:
    return b"".join(response.streaming_content)
