"""Attachments: what an upload costs the server, and what files add to a page of history.

    .venv/bin/python bench/attachments.py            # full run: 12 MP photos, 60 timed requests per figure
    .venv/bin/python bench/attachments.py --smoke    # small files, few repetitions (CI, seconds)

IN-PROCESS, through the whole Django stack (middleware, JWT, DRF, the service) with
django.test.Client and DEBUG=False, one request at a time, against real PostgreSQL on 127.0.0.1
(database parley_bench_attachments or parley_bench_attachments_smoke, dropped and made again
each run: the data is small) and Redis db 12 under its own prefix; files go to local storage in
a temporary folder. Each figure is the p50/p99 of the timed requests after a warm-up: server
time without the network or the client's upload.

  upload     POST /api/uploads/: a photo (decoded, checked, previewed at 1280 px), a screenshot-sized
             PNG, and a PDF (sniffed and stored as it is).
  history    GET /api/rooms/<id>/messages/ (a page of 50 messages; 5 in the smoke run) when no message
             has files, and when each has two images: the attachments prefetch is one query whatever
             the page holds, and the payload builds two URLs per image.
"""

import argparse
import io
import os
import shlex
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import HOST, drop_database, fresh_database, log, parley_environment, report_latencies  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"
PREFIX = "parleybenchattachments"
PROFILES = {
    "full": dict(photo=(4000, 3000), pdf_mb=5, page=50, reps=60, warmup=5, db="parley_bench_attachments"),
    "smoke": dict(photo=(800, 600), pdf_mb=1, page=5, reps=3, warmup=1, db="parley_bench_attachments_smoke"),
}


def environment(db: str, media: str) -> dict[str, str]:
    hosts = f"testserver,{HOST}"
    env = parley_environment(db=db, redis_url=REDIS_URL, prefix=PREFIX, settings="config.settings", allowed_hosts=hosts)
    # Uploads as fast as the benchmark sends them; the limits themselves are not measured here.
    return {**env, "MEDIA_ROOT": media, "ATTACHMENT_RATE_BURST": "100000", "ATTACHMENT_MAX_UNSENT": "100000"}


def photo(size: tuple[int, int]) -> bytes:
    """A photo-like JPEG: noise compresses (and decodes) like a real picture, a flat colour would not."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def screenshot() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    for row in range(0, 800, 16):
        draw.text((10, row), "Lorem ipsum dolor sit amet " * 6, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def pdf(megabytes: int) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(megabytes * 1024 * 1024)


def timed(send, *, reps: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        send()
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        send()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(cfg: dict) -> list[tuple]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from chat import services
    from rooms import services as room_services

    ann = User.objects.create_user(email="ann@example.com", password="x" * 12, handle="ann")
    ann.email_verified_at = ann.date_joined
    ann.save()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(ann).access_token}")

    def upload(data: bytes, name: str, content_type: str):
        def send():
            response = client.post("/api/uploads/", {"file": SimpleUploadedFile(name, data, content_type)})
            assert response.status_code == 201, response.content
            return response.json()["id"]

        return send

    rows = []
    files = {
        f"photo {cfg['photo'][0]}x{cfg['photo'][1]} JPEG": (photo(cfg["photo"]), "photo.jpg", "image/jpeg"),
        "screenshot 1280x800 PNG": (screenshot(), "shot.png", "image/png"),
        f"PDF {cfg['pdf_mb']} MB": (
            b"%PDF-1.7\n" + os.urandom(cfg["pdf_mb"] * 1024 * 1024),
            "doc.pdf",
            "application/pdf",
        ),
    }
    for label, (data, name, content_type) in files.items():
        times = timed(upload(data, name, content_type), reps=cfg["reps"], warmup=cfg["warmup"])
        rows.append(("upload", f"{label} ({len(data) / 1024 / 1024:.1f} MB)", times))

    for label, per_message in (("no files", 0), ("2 images each", 2)):
        room = room_services.room_create_group(creator=ann, title=label)
        send_photo = upload(photo((320, 240)), "p.jpg", "image/jpeg")
        for number in range(cfg["page"]):
            ids = [send_photo() for _ in range(per_message)]
            services.message_send(
                author=ann, room_id=room.pk, body=f"m{number}", client_id=uuid.uuid4(), attachment_ids=ids
            )

        def page(room_id=room.pk):
            response = client.get(f"/api/rooms/{room_id}/messages/")
            assert response.status_code == 200 and len(response.json()["results"]) == cfg["page"]

        times = timed(page, reps=cfg["reps"] * 3, warmup=cfg["warmup"])
        rows.append(("history", f"{cfg['page']} messages, {label}", times))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="small files, few repetitions (CI)")
    parser.add_argument("--reps", type=int, help="timed requests per upload figure (history: three times as many)")
    args = parser.parse_args()
    cfg = dict(PROFILES["smoke" if args.smoke else "full"])
    if args.reps:
        cfg["reps"] = args.reps
    command = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in sys.argv)
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic: pages are not measured
    with tempfile.TemporaryDirectory(prefix="parley-bench-media-") as media:
        os.environ.update(environment(cfg["db"], media))
        fresh_database(cfg["db"])
        import django

        django.setup()
        from django.conf import settings

        settings.MESSAGE_RATE_BURST = 1_000_000  # filling a page of history is not a person typing

        log(f"measuring ({cfg['reps']} uploads per figure)")
        rows = measure(cfg)
        drop_database(cfg["db"])
    print(f"\n{command}\n")
    # No target was set for attachments: the table shows the figures only.
    report_latencies(rows, heading="what", scenario="(j) attachments, ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
