"""Save the whole X screen ($DISPLAY) as a PNG: `grab_screen.py OUT.png`.

Used by xvfb_first_run.sh instead of ImageMagick's `import -window root`.
"""

from __future__ import annotations

import os
import sys

os.environ["QT_QPA_PLATFORM"] = "xcb"

from PySide6.QtGui import QGuiApplication


def main() -> int:
    app = QGuiApplication(sys.argv[:1])
    screen = app.primaryScreen()
    pixmap = screen.grabWindow(0)
    if pixmap.isNull() or not pixmap.save(sys.argv[1], "PNG"):
        print(f"could not grab the screen into {sys.argv[1]}", file=sys.stderr)
        return 1
    print(f"{sys.argv[1]}: {pixmap.width()}x{pixmap.height()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
