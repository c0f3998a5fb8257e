"""Fetching and saving attachments through the node, and what the app shows of it.

`attachment save` can run for minutes while chunks arrive, and the node
answers one connection's requests in order, so every save gets its own
`ControlClient` (as the join flow does): the main connection stays free,
and its `blob_progress` events (net/blobs.py) update `status`, which the
timeline's cards draw. A full image is saved into a private file of the
data dir, decoded within the limits of images.py and the file removed at
once: the app never hands a file to another program.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QImage

from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.files.images import decode_bytes, decode_file

log = logging.getLogger(__name__)
Attachment = dict[str, Any]
THUMBS_KEPT = 500
IMAGES_KEPT = 12
FULL_BOX = QSize(4096, 4096)  # a full image is decoded at most this big
SAVE_TIMEOUT_S = 600.0
VIEW_DIR = "viewing"  # in the data dir: full images on their way to the screen


@dataclass(frozen=True)
class Upload:
    """A file the node is preparing for a post (chunking, hashing, storing)."""

    path: str  # as the app sent it in `attach`: absolute
    done: int
    size: int
    stored: bool

    @property
    def fraction(self) -> float:
        return 1.0 if self.stored or self.size <= 0 else min(1.0, max(0.0, self.done / self.size))


def upload_of(method: str, params: dict[str, Any]) -> Upload | None:
    """The `blob_progress` event of a file being attached ("up" with a "path"), else None.

    An "up" event with a "cid" instead is a peer fetching one of our blobs; a
    "failed" one is `failed_upload_of`'s.
    """
    event = _attach_event(method, params)
    if event is None or event[3] not in ("preparing", "stored"):
        return None
    path, done, size, state = event
    return Upload(path, done, size, state == "stored")


def failed_upload_of(method: str, params: dict[str, Any]) -> str | None:
    """The path of a file the node prepared and then removed, since the command that
    attached it failed (state "failed"), else None."""
    event = _attach_event(method, params)
    return event[0] if event is not None and event[3] == "failed" else None


def _attach_event(method: str, params: dict[str, Any]) -> tuple[str, int, int, str] | None:
    if method != "blob_progress" or params.get("direction") != "up":
        return None
    path, done, size, state = (params.get(k) for k in ("path", "done", "size", "state"))
    if not isinstance(path, str) or not 0 < len(path) <= 4096 or not isinstance(state, str):
        return None
    if not isinstance(done, int) or not isinstance(size, int) or done < 0 or size < 0:
        return None
    return path, done, size, state


class _Cache(OrderedDict[str, QImage | None]):
    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def put(self, key: str, image: QImage | None) -> None:
        self[key] = image
        self.move_to_end(key)
        while len(self) > self.keep:
            self.popitem(last=False)


class Transfers(QObject):
    changed = Signal(str)  # cid: its progress, thumbnail or image changed
    layout_changed = Signal()  # an image turned out undecodable: it becomes a card
    running_changed = Signal(int)  # transfers under way
    image_ready = Signal(str)  # cid: its full image is decoded
    saved = Signal(str, str)  # cid, path
    failed = Signal(str, str)  # message, CLI code
    upload_changed = Signal(str)  # path: the node prepared more of a file being attached

    def __init__(self, client: ControlClient, data_dir: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.client = client
        self.data_dir = data_dir
        self.status: dict[str, dict[str, Any]] = {}  # cid -> the last blob_progress
        self._thumbs = _Cache(THUMBS_KEPT)
        self._images = _Cache(IMAGES_KEPT)
        self._jobs: dict[str, ControlClient] = {}  # cid -> its save's own connection
        self._undecodable: set[str] = set()  # images that failed the limits: cards from then on
        self.uploads: dict[str, Upload] = {}  # path -> files the node is preparing
        self._kept: set[str] = set()  # cids `attachment keep` was sent for in this session
        client.notified.connect(self._on_client_notified)

    # -- what a card shows ---------------------------------------------------------

    def thumb(self, att: Attachment) -> QImage | None:
        cid = str(att.get("cid", ""))
        if cid not in self._thumbs:
            raw = att.get("thumb")
            image = None
            if isinstance(raw, str) and len(raw) <= 32 * 1024:
                with contextlib.suppress(binascii.Error, ValueError):
                    image = decode_bytes(base64.b64decode(raw, validate=True), QSize(512, 512))
            self._thumbs.put(cid, image)
        return self._thumbs[cid]

    def undecodable(self, att: Attachment) -> bool:
        return str(att.get("cid")) in self._undecodable

    def image(self, cid: str) -> QImage | None:
        return self._images.get(cid)

    def busy(self, cid: str) -> bool:
        return cid in self._jobs or self.status.get(cid, {}).get("state") == "fetching"

    def fraction(self, cid: str) -> float | None:
        """How much of `cid` is here (0..1) while it moves, else None."""
        status = self.status.get(cid)
        if status is None or not (self.busy(cid) or status.get("sending")):
            return None
        size = int(status.get("size") or 0)
        have, total = int(status.get("have_chunks", 0)), int(status.get("total_chunks", 0))
        if status.get("sending") and not self.busy(cid):
            return None  # serving: a peer fetches it; shown as "Sending"
        if size <= 0 or total <= 0:
            return 0.0
        return min(1.0, max(0.0, have / total))

    def sending(self, cid: str) -> bool:
        return bool(self.status.get(cid, {}).get("sending"))

    def running(self) -> int:
        sending = {c for c, s in self.status.items() if s.get("sending")}
        fetching = {c for c, s in self.status.items() if s.get("state") == "fetching"}
        return len(set(self._jobs) | sending | fetching) + len(self.uploads)

    # -- the node's events -----------------------------------------------------

    def _on_client_notified(self, method: str, params: dict[str, Any]) -> None:
        if method != "blob_progress":
            return
        upload = upload_of(method, params)
        if upload is not None:
            self._on_upload(upload)
            return
        failed = failed_upload_of(method, params)
        if failed is not None:
            self._on_upload_failed(failed)
            return
        cid = params.get("cid")
        if not isinstance(cid, str) or len(cid) > 200:
            return
        before = self.running()
        self.status[cid] = params
        if len(self.status) > 2000:
            self.status.pop(next(iter(self.status)))
        self.changed.emit(cid)
        if self.running() != before:
            self.running_changed.emit(self.running())

    def _on_upload(self, upload: Upload) -> None:
        before = self.running()
        if upload.stored:
            self.uploads.pop(upload.path, None)
        else:
            self.uploads[upload.path] = upload
            while len(self.uploads) > 100:  # a node that never says "stored"
                self.uploads.pop(next(iter(self.uploads)))
        self.upload_changed.emit(upload.path)
        if self.running() != before:
            self.running_changed.emit(self.running())

    def _on_upload_failed(self, path: str) -> None:
        """The command failed (its own error says why): this file is not kept either."""
        if self.uploads.pop(path, None) is None:
            return
        self.upload_changed.emit(path)
        self.running_changed.emit(self.running())
        self.failed.emit(f"the file {Path(path).name} was not stored: nothing was sent", "invalid")

    def ask_status(self, community: str, cid: str) -> None:
        def done(result: dict[str, Any]) -> None:
            self.status[cid] = result
            self.changed.emit(cid)

        self.client.request("attachment status", {"community": community, "cid": cid}, done)

    # -- saving and viewing ------------------------------------------------------

    def open_image(self, community: str, att: Attachment) -> None:
        """Fetch (if needed) and decode the full image; `image_ready` when it is shown."""
        cid = str(att["cid"])
        if self._images.get(cid) is not None:
            self.image_ready.emit(cid)
            return
        folder = self.data_dir / VIEW_DIR
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.part"

        def done(_result: dict[str, Any]) -> None:
            try:
                image = decode_file(str(path), FULL_BOX)
            finally:
                with contextlib.suppress(OSError):
                    path.unlink()
            if image is None:
                self._undecodable.add(cid)
                self.layout_changed.emit()
                name = att.get("name", "the image")
                self.failed.emit(
                    f"{name} cannot be shown (too large or damaged); save it", "invalid"
                )
                return
            self._images.put(cid, image)
            self.keep(community, cid)
            self.changed.emit(cid)
            self.image_ready.emit(cid)

        self._save(community, cid, path, done)

    def keep(self, community: str, cid: str) -> None:
        """The image appeared on screen: the node keeps it (issue 15, "who keeps what").

        Once per blob in a session; the node's answer changes nothing shown, and an
        error (an older node without the method) only goes to the log.
        """
        if cid in self._kept or not community:
            return
        self._kept.add(cid)
        self.client.request(
            "attachment keep",
            {"community": community, "cid": cid},
            on_error=lambda message, code: log.info("attachment keep %s: %s", cid, message),
        )

    def save_to(self, community: str, att: Attachment, target: Path) -> None:
        """Write the attachment to `target` (the user chose it, and to replace it)."""
        cid = str(att["cid"])
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")

        def done(_result: dict[str, Any]) -> None:
            try:
                os.replace(temp, target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    temp.unlink()
                self.failed.emit(f"cannot write {target}: {exc.strerror}", "invalid")
                return
            self.saved.emit(cid, str(target))

        self._save(community, cid, temp, done)

    def _save(self, community: str, cid: str, path: Path, done: Any) -> None:
        if cid in self._jobs:
            return  # one save of a blob at a time: the second click waits for the first
        job = ControlClient(self)
        self._jobs[cid] = job
        params = {"community": community, "cid": cid, "path": str(path), "timeout": SAVE_TIMEOUT_S}

        def finish() -> None:
            self._jobs.pop(cid, None)
            job.close()
            job.deleteLater()
            self.changed.emit(cid)
            self.running_changed.emit(self.running())

        def ok(result: dict[str, Any]) -> None:
            finish()
            done(result)

        def bad(message: str, code: str) -> None:
            finish()
            with contextlib.suppress(OSError):
                path.unlink()
            self.failed.emit(message, code)

        job.connected.connect(lambda: job.request("attachment save", params, ok, bad))

        def gone() -> None:
            if self._jobs.get(cid) is job:
                bad("the node went away", "disconnected")

        job.disconnected.connect(gone)
        job.connect_to(self.client.address)
        self.changed.emit(cid)
        self.running_changed.emit(self.running())

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            job.close()
        self._jobs.clear()
