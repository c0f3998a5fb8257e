"""Errors of the domain layer.

As in h11, what a peer did wrong (`RemoteProtocolError`, `Rejected`) is kept
apart from what our own caller did wrong (`DomainError` and its codes): the
network layer drops a peer on the first kind, the CLI and control API report
the second to the user with the code of CLI.md.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request the user or a client made that cannot be done; nothing changed.

    A subclass names its code in its header, `class NotFound(DomainError,
    code="not_found")`, so that each error reads as one line and a docstring.
    """

    code = "invalid"

    def __init_subclass__(cls, code: str | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(DomainError, code="not_found"):
    """What the user named (a community, channel, post, member, invite) is not held here."""


class Forbidden(DomainError, code="forbidden"):
    """The user's role (or timeout, or removal) does not allow the command."""


class Invalid(DomainError, code="invalid"):
    """The request's own values are wrong (a name too long, a bad id, a field missing)."""


class Exists(DomainError, code="exists"):
    """A name that must be unique is taken (a channel), or a data dir already has a key."""


class RulesPending(DomainError, code="rules_pending"):
    """The member has not acknowledged the community's current rules (issue 13): until
    they do, nothing of the community is shown and this node writes nothing to it."""


class StoreUnavailable(DomainError):
    """The store's file or disk, not the request, is at fault (store.py raises these).

    Not a bug either, so never `internal`: each says whether anything was
    lost and what to do, and has its own code for scripts.
    """


class DiskFull(StoreUnavailable, code="disk_full"):
    """SQLite could not grow the file: the disk (or the store's page limit) is full."""


class DatabaseLocked(StoreUnavailable, code="db_locked"):
    """Another program holds SQLite's write lock. Not `locked`, which says a
    p2pcommunity node holds the data dir (talk to it instead); this one
    passes once that program lets go, so a script may retry."""


class StoreCorrupt(StoreUnavailable, code="corrupt"):
    """The file is not a database or fails SQLite's checks; it is never recreated silently."""


class StoreIOError(StoreUnavailable, code="io_error"):
    """The disk refused a read or write (I/O error, permissions, read-only)."""


class NewerStore(StoreUnavailable, code="too_new"):
    """The store's format has a newer major version than this release reads."""


class RemoteProtocolError(Exception):
    """A peer sent something malformed or unauthorised: log, drop that peer."""


class Rejected(RemoteProtocolError):
    """A change or op that fails verification; `reason` is a short stable label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
