"""PyInstaller entry point of the bundled desktop app (`p2pcommunity`)."""

import sys

from p2pcommunity.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
