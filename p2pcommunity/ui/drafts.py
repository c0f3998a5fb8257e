"""Unsent messages per channel, kept in the data dir across restarts.

A draft is saved a moment after the user stops typing (one write per pause,
not per key) and at once when the channel changes or the app quits, to
`ui-drafts.json` beside the app's settings. The file is replaced atomically
(write a temporary file, fsync, rename), so a crash leaves either the old
drafts or the new ones, never half a file. A file that does not parse is
ignored (and left alone for the user to look at), never a reason not to start.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QSettings, QTimer

log = logging.getLogger(__name__)

FILE_NAME: Final = "ui-drafts.json"
SAVE_DELAY_MS: Final = 400
MAX_DRAFTS: Final = 500  # keys kept; the oldest go first
MAX_DRAFT_CHARS: Final = 20_000  # a little over the post limit, so nothing typed is cut


class DraftStore(QObject):
    """key ("community/channel") -> text, persisted to `path` (None: memory only)."""

    def __init__(self, path: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self._drafts: dict[str, str] = self._load()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self.flush)

    @classmethod
    def beside(cls, settings: QSettings, parent: QObject | None = None) -> DraftStore:
        """The store in the same directory as `settings` (the data dir)."""
        name = settings.fileName()
        return cls(Path(name).parent / FILE_NAME if name else None, parent)

    def _load(self) -> dict[str, str]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable drafts file %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            return {}
        return {
            str(k): v[:MAX_DRAFT_CHARS] for k, v in data.items() if isinstance(v, str) and v.strip()
        }

    def get(self, key: str) -> str:
        return self._drafts.get(key, "")

    def set(self, key: str, text: str) -> None:
        text = text[:MAX_DRAFT_CHARS]
        if not key or self._drafts.get(key, "") == text:
            return
        self._drafts.pop(key, None)  # re-inserted last: dicts keep the newest at the end
        if text.strip():
            self._drafts[key] = text
        while len(self._drafts) > MAX_DRAFTS:
            self._drafts.pop(next(iter(self._drafts)))
        self._dirty = True
        self._timer.start()

    def keys_with_text(self) -> list[str]:
        return [k for k, v in self._drafts.items() if v.strip()]

    def flush(self) -> None:
        """Write now if anything changed since the last write."""
        self._timer.stop()
        if not self._dirty or self.path is None:
            return
        self._dirty = False
        data = json.dumps(self._drafts, ensure_ascii=False, indent=0)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".drafts-", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            log.warning("could not save drafts to %s: %s", self.path, exc)
