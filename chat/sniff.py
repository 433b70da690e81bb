"""What a file is, from its first bytes: the client's name and declared type are only claims.

A claim that can be checked against the bytes (an image, a PDF, an archive...) must agree with
them, or the upload is a lie about its type and refused. Other claims (a .docx is a zip) only
refine what the bytes say. Markup (HTML, SVG, XML) is recognised so that it is never served
as something a browser would run.
"""

import mimetypes

OCTET_STREAM = "application/octet-stream"
# Types a browser may show inline: images that chat.attachments decodes and re-encodes itself.
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}
# Types a browser would run or render with scripts: always downloaded, and as octet-stream.
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "application/xml",
    "text/xml",
    "text/javascript",
    "application/javascript",
}

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"\x1a\x45\xdf\xa3", "video/webm"),
)
# Every type above can be told from the bytes, so a claim of one of them is checked.
CHECKABLE_TYPES = {kind for _, kind in _SIGNATURES} | {"image/webp", "video/mp4", "audio/wav"}
# Formats that are a zip inside, or text inside, by another name: the claim refines the sniffed type.
_REFINES = {
    "application/zip": {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/epub+zip",
        "application/java-archive",
    },
    "text/plain": {"text/csv", "text/markdown", "application/json"},
}
_MARKUP = (
    (b"<!doctype html", "text/html"),
    (b"<html", "text/html"),
    (b"<head", "text/html"),
    (b"<body", "text/html"),
    (b"<script", "text/html"),
    (b"<iframe", "text/html"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "application/xml"),
)


def sniffed_type(head: bytes) -> str:
    """The type the first bytes of a file (a few KB) show; octet-stream when they show none."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "image/webp" if head[8:12] == b"WEBP" else "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return _text_type(head)


def _text_type(head: bytes) -> str:
    if b"\x00" in head:
        return OCTET_STREAM
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end in the middle of a character; anything earlier is not UTF-8 text.
        if error.start < len(head) - 3:
            return OCTET_STREAM
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for start, kind in _MARKUP:
        if lowered.startswith(start):
            return kind
    # Browsers that sniff also find markup further in; so does this.
    if any(tag in lowered for tag in (b"<html", b"<script", b"<svg", b"<body", b"<iframe")):
        return "text/html"
    return "text/plain"


def claimed_types(*, name: str, declared: str | None) -> set[str]:
    """What the client says the file is: its declared Content-Type and what its name's extension means."""
    claims = {(declared or "").split(";")[0].strip().lower(), mimetypes.guess_type(name)[0] or ""}
    return claims - {"", OCTET_STREAM}


def resolved_type(*, sniffed: str, claims: set[str]) -> str | None:
    """The type to record, or None when a claim the bytes can check disagrees with them (a lie)."""
    for claim in claims - {sniffed}:
        if sniffed in INLINE_IMAGE_TYPES and claim in INLINE_IMAGE_TYPES:
            continue  # A photo saved under the wrong extension: still an image, and the bytes decide which.
        if claim in CHECKABLE_TYPES or (claim.startswith("image/") and claim != "image/svg+xml"):
            return None
    return next((claim for claim in claims if claim in _REFINES.get(sniffed, ())), sniffed)


def served_type(content_type: str) -> str:
    """The Content-Type a file is served with: never one a browser would run."""
    return OCTET_STREAM if content_type in ACTIVE_TYPES else content_type
