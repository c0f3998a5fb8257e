"""Decode images from peers without letting one exhaust or crash the app.

Everything a peer sends is hostile: a 60000 x 60000 PNG compresses to a few
hundred KB and would want 14 GB as pixels. So `QImageReader` reads the
header first and the size is checked before `read()`, the reader's
allocation limit is set as a second wall (Qt refuses larger buffers on its
own), and the dimensions are capped. A reader that fails gives None: the
caller shows the file as a card instead. Nothing here touches the node.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader

MAX_SIDE = 16_384  # px: larger images are not decoded in the app
MAX_PIXELS = 64 * 1024 * 1024  # as sync/blobs/images.py: 8k x 8k
ALLOCATION_LIMIT_MB = 300  # RGBA of 64 Mpx is 256 MB; Qt refuses any buffer beyond this
MAX_ENCODED_BYTES = 64 * 1024 * 1024
_KEEP = Qt.AspectRatioMode.KeepAspectRatio


def _read(reader: QImageReader, fit: QSize | None) -> QImage | None:
    reader.setAllocationLimit(ALLOCATION_LIMIT_MB)
    reader.setAutoTransform(True)
    size = reader.size()  # the header only
    if not size.isValid() or size.width() <= 0 or size.height() <= 0:
        return None
    if size.width() > MAX_SIDE or size.height() > MAX_SIDE:
        return None
    if size.width() * size.height() > MAX_PIXELS:
        return None
    if fit is not None and (size.width() > fit.width() or size.height() > fit.height()):
        # Decoders that can (JPEG) then decode at the smaller size directly.
        reader.setScaledSize(size.scaled(fit, _KEEP))
    image = reader.read()
    return None if image.isNull() else image


def decode_bytes(data: bytes, fit: QSize | None = None) -> QImage | None:
    """An image from bytes within the limits (scaled down to `fit`), or None."""
    if not data or len(data) > MAX_ENCODED_BYTES:
        return None
    array = QByteArray(data)
    buffer = QBuffer(array)
    if not buffer.open(QIODevice.OpenModeFlag.ReadOnly):
        return None
    try:
        return _read(QImageReader(buffer), fit)
    finally:
        buffer.close()


def decode_file(path: str, fit: QSize | None = None) -> QImage | None:
    """An image from a file within the limits (scaled down to `fit`), or None."""
    return _read(QImageReader(path), fit)


def fitted(width: int, height: int, box: QSize) -> QSize:
    """(width, height) scaled down, never up, to fit `box`; at least 1 x 1."""
    if width <= 0 or height <= 0:
        return QSize(box.width(), box.height() // 2)
    size = QSize(width, height)
    if width > box.width() or height > box.height():
        size = size.scaled(box, _KEEP)
    return QSize(max(1, size.width()), max(1, size.height()))
