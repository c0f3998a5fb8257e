"""Width, height and a small thumbnail of an image, decoded within limits.

Pillow decodes in C: a malformed or hostile file must not be able to
exhaust memory or crash the node. So the header is read first (`open` is
lazy) and its size checked against MAX_PIXELS before any pixel is
decoded; Pillow's own `MAX_IMAGE_PIXELS` guard is set to the same bound
and its warning made an error; `draft` lets JPEG decode at a reduced
scale. Anything Pillow raises means "no thumbnail": the file is still
attached, shown as a file card. Pillow has no Qt or trio in it, so it may
live in sync/ (the app decodes full images itself, with its own limits).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

MAX_PIXELS = 64 * 1024 * 1024  # 8k x 8k: larger images get no thumbnail
MAX_THUMB_BYTES = 16 * 1024
THUMB_SIDES = (256, 160, 96, 64)


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    thumb: bytes | None


def inspect(path: Path) -> ImageInfo | None:
    """The image's size and a JPEG/PNG thumbnail <= 16 KB, or None if not decodable."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover -- Pillow is a dependency
        return None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                width, height = img.size
                if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
                    return None
                return ImageInfo(width, height, _thumbnail(img))
        except Exception:  # noqa: BLE001 -- any decoder failure: no image metadata
            return None


def _thumbnail(img: object) -> bytes | None:
    from PIL import Image

    assert isinstance(img, Image.Image)
    try:
        img.draft("RGB", (THUMB_SIDES[0], THUMB_SIDES[0]))
        img.load()
        small = img.convert("RGB")
    except Exception:  # noqa: BLE001 -- truncated or hostile pixel data
        return None
    for side in THUMB_SIDES:
        copy = small.copy()
        copy.thumbnail((side, side))
        for quality in (75, 50):
            out = io.BytesIO()
            copy.save(out, "JPEG", quality=quality)
            if out.tell() <= MAX_THUMB_BYTES:
                return out.getvalue()
    return None
