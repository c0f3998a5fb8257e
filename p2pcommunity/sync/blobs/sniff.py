"""The MIME type of a file, from its first bytes: never from its name.

A file's extension says what its sender wants it to look like; its magic
numbers say what a viewer will parse. Only a short, fixed list of types is
recognised (WHATWG mimesniff's image, PDF and archive signatures); text is
UTF-8 without NULs; everything else is `application/octet-stream`, which
the app only ever offers to save. The receiver sniffs the first chunk
again and refuses a blob whose content is not the type its post claims.
"""

from __future__ import annotations

HEAD_BYTES = 512
OCTET = "application/octet-stream"
TEXT = "text/plain"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b\x08", "application/gzip"),
    (b"OggS\x00", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
)
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
KNOWN = frozenset({mime for _, mime in _SIGNATURES}) | IMAGES | {TEXT, OCTET, "video/mp4"}


def sniff(head: bytes) -> str:
    """The type of a file that starts with `head` (its first HEAD_BYTES or all of it)."""
    head = head[:HEAD_BYTES]
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:11] in (b"iso", b"mp4", b"avc", b"M4V"):
        return "video/mp4"
    if head and b"\x00" not in head and _utf8_prefix(head):
        return TEXT
    return OCTET


def _utf8_prefix(head: bytes) -> bool:
    """UTF-8, allowing a character cut at the end of the sample."""
    for cut in range(4):
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False
