"""The signature worker: a child process that verifies changes frames for its node.

`python -m p2pcommunity.sigworker`, started by `net/verifier.py`, never by
hand. It reads requests on stdin and answers each, in order, on stdout, until
stdin closes. Nothing is pickled either way: the frames come from peers, so
they are only read by the strict CBOR reader (sync/docs/presign.py).

    at start: READY, once the worker has imported what it needs
    request:  u32 length | FRAME | community id (32) | changes frame (CBOR, as on the wire)
          or  u32 length | CHECKS | records: the rest of a frame the node began itself
    answer:   u32 length | records, one per signature found valid
    record:   public key (32) | signed message (CHECK_MESSAGE_SIZE) | signature (64)

It imports only sync/docs/presign.py and what that needs (no Automerge, no
session): a cold sync verifies in line until the worker is up, so its start
time counts.
"""

from __future__ import annotations

import queue
import signal
import struct
import sys
import threading
from typing import BinaryIO

from p2pcommunity.sync.crypto import CHANGE_TAG, PUBLIC_KEY_SIZE, SIGNATURE_SIZE
from p2pcommunity.sync.docs.presign import SignatureCheck, frame_checks, valid_checks

COMMUNITY_ID_SIZE = 32
CHECK_MESSAGE_SIZE = len(CHANGE_TAG) + 32 + 32  # tag, document id, change hash
RECORD_SIZE = PUBLIC_KEY_SIZE + CHECK_MESSAGE_SIZE + SIGNATURE_SIZE
READY = b"p2pc"
FRAME, CHECKS = b"F", b"C"
_LENGTH = struct.Struct(">I")


def encode_request(community_id: bytes, frame: bytes) -> bytes:
    return _LENGTH.pack(1 + COMMUNITY_ID_SIZE + len(frame)) + FRAME + community_id + frame


def encode_checks_request(checks: list[SignatureCheck]) -> bytes:
    body = _records(checks)
    return _LENGTH.pack(1 + len(body)) + CHECKS + body


def encode_answer(checks: list[SignatureCheck]) -> bytes:
    body = _records(checks)
    return _LENGTH.pack(len(body)) + body


def _records(checks: list[SignatureCheck]) -> bytes:
    # Records are fixed-size: a check of another shape cannot be a change's.
    return b"".join(
        key + message + signature
        for key, message, signature in checks
        if len(key) == PUBLIC_KEY_SIZE
        and len(message) == CHECK_MESSAGE_SIZE
        and len(signature) == SIGNATURE_SIZE
    )


def decode_answer(body: bytes) -> list[SignatureCheck]:
    """The records of an answer (its length prefix already read), or of a request."""
    if len(body) % RECORD_SIZE:
        raise ValueError(f"{len(body)} bytes are not whole records")
    key_end = PUBLIC_KEY_SIZE
    message_end = key_end + CHECK_MESSAGE_SIZE
    return [
        (
            body[i : i + key_end],
            body[i + key_end : i + message_end],
            body[i + message_end : i + RECORD_SIZE],
        )
        for i in range(0, len(body), RECORD_SIZE)
    ]


def answer(request: bytes) -> bytes:
    kind, body = request[:1], request[1:]
    if kind == FRAME:
        checks = frame_checks(body[:COMMUNITY_ID_SIZE], body[COMMUNITY_ID_SIZE:])
    elif kind == CHECKS and len(body) % RECORD_SIZE == 0:
        checks = decode_answer(body)
    else:
        checks = []
    return encode_answer(valid_checks(checks))


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    answers.write(READY)
    answers.flush()
    # A thread takes requests off the pipe as they come: a frame is bigger than a
    # pipe's buffer, and the node should never wait for us to read the rest of one.
    waiting: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_read_requests, args=(requests, waiting), daemon=True).start()
    try:
        while (request := waiting.get()) is not None:
            answers.write(answer(request))
            answers.flush()
    except BrokenPipeError:
        return  # our node is gone: so are we


def _read_requests(requests: BinaryIO, waiting: queue.SimpleQueue[bytes | None]) -> None:
    try:
        while True:
            header = requests.read(_LENGTH.size)
            if len(header) < _LENGTH.size:
                return  # our node closed the pipe: done
            (size,) = _LENGTH.unpack(header)
            request = requests.read(size)
            if len(request) < size:
                return
            waiting.put(request)
    finally:
        waiting.put(None)


# A frozen bundle has no `python -m`: the node runs its own executable with
# this variable set, and cli.main hands over to `main` before parsing anything.
BUNDLE_SWITCH = "P2PCOMMUNITY_SIGWORKER"


def command() -> list[str]:
    """How a node starts its worker: this Python's module, or the bundle's executable."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "p2pcommunity.sigworker"]


def main() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the node decides when
    # we stop (it closes our stdin, or kills us), not the keyboard.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
