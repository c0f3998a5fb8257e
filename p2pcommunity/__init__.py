"""p2pcommunity: invite-only communities with no central server."""

__version__ = "0.1.0"
