"""PyInstaller entry point of the bundled node and CLI (`p2pcommunity-node`)."""

import sys

from p2pcommunity.cli import main

if __name__ == "__main__":
    sys.exit(main())
