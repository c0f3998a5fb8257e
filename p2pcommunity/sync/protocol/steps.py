"""What a step of a sync session gives back: the frames to send and the events for the node.

Plain data: the session (session.py) fills an `Outbox` while it handles a
frame and returns its `Step`; the node (net/node.py) sends the frames and
acts on the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from p2pcommunity.sync.docs.memberdoc import DocRef
from p2pcommunity.sync.protocol.frames import Frame, encode_frame
from p2pcommunity.sync.protocol.pages import PageChangesApplied


@dataclass(frozen=True)
class OpsAdded:
    """Log ops this session stored (the node tells the community's other sessions)."""

    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class ChangesApplied:
    ref: DocRef  # the member document (owner, segment) the changes belong to
    count: int  # new to this store: copies of changes it held are not counted


@dataclass(frozen=True)
class ChangesGated:
    """Our policy gate refused changes of this document from `seq` on (an always-on
    node does not store, so does not forward, what its policy hides: docs/safety.md)."""

    ref: DocRef
    seq: int
    rule: str


@dataclass(frozen=True)
class Refused:
    """The peer refused us (a refused frame): the session is over, for `reason`."""

    reason: str


@dataclass(frozen=True)
class CaughtUp:
    """Both sides have exchanged their state and nothing known is missing on either side."""


Event = OpsAdded | ChangesApplied | ChangesGated | Refused | CaughtUp | PageChangesApplied


@dataclass(frozen=True)
class Step:
    frames: list[bytes] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    close: bool = False  # the caller closes the stream after sending `frames`


class Outbox:
    """What one step of a session sends and reports, gathered while it runs."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.events: list[Event] = []
        self.close = False

    def send(self, frame: Frame) -> None:
        self.frames.append(encode_frame(frame))

    def step(self) -> Step:
        return Step(self.frames, self.events, self.close)
