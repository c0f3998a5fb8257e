"""Cost of refusing 1 MiB sync frames built to be slow to decode (issue 11, finding 5).

Run once from a checkout root: `python benchmarks/bench_cbor.py`. It times
`decode_frame` on hostile frames; run it from another checkout (or with
PYTHONPATH pointing at one) to compare before and after.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cbor2

sys.path.insert(0, str(Path.cwd()))

from p2pcommunity.sync.errors import RemoteProtocolError
from p2pcommunity.sync.protocol.frames import MAX_FRAME_SIZE, decode_frame

N = MAX_FRAME_SIZE - 100


def _head(major: int, n: int) -> bytes:
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


def frames() -> dict[str, bytes]:
    key, value = cbor2.dumps("heads"), cbor2.dumps("t") + cbor2.dumps("heads")
    return {
        "1M small ints": cbor2.dumps({"heads": [0] * (N - 20), "t": "heads"}, canonical=True),
        "350k one-item arrays": cbor2.dumps(
            {"heads": [[0]] * (N // 3), "t": "heads"}, canonical=True
        ),
        "150k int-keyed map": cbor2.dumps(
            {"heads": {i: 0 for i in range(N // 6)}, "t": "heads"}, canonical=True
        ),
        "1M empty arrays": b"\xa2" + key + _head(4, N) + b"\x80" * N + value,
        "1M-deep nesting": b"\x81" * N,
        # Just under the item limit: the pre-scan walks every header, then cbor2 decodes.
        "10.9k pairs (32.7k items)": cbor2.dumps(
            {"heads": [[0, 0]] * 10_900, "t": "heads"}, canonical=True
        ),
        "32.7k items in 60 lists": cbor2.dumps(
            {"heads": [[0] * 540] * 60, "t": "heads"}, canonical=True
        ),
        # The most items a frame may hold: 8 bytes each, so 32k items take 256 KiB.
        "32.7k 7-byte strings": cbor2.dumps(
            {"heads": [b"1234567"] * 32_700, "t": "heads"}, canonical=True
        ),
        "tag 35 (regex)": cbor2.dumps({"heads": [cbor2.CBORTag(35, "a+")], "t": "heads"}),
    }


def main() -> None:
    import p2pcommunity

    print(f"p2pcommunity from {Path(p2pcommunity.__file__).parent.parent}")
    refused_ms: list[float] = []
    for name, data in frames().items():
        start = time.perf_counter()
        try:
            decode_frame(data)
            verdict = "accepted"
        except RemoteProtocolError as e:
            verdict = str(e)[:70]
        ms = 1000 * (time.perf_counter() - start)
        if verdict != "accepted":
            refused_ms.append(ms)
        print(f"{name:26} {len(data):>8} B {ms:>8.1f} ms  {verdict}")
    # The floor: cbor2's C decoder alone, with no checks, on the costliest frame the
    # pre-scan lets through to cbor2 (refused afterwards by the frame's own field bounds).
    biggest = frames()["32.7k 7-byte strings"]
    start = time.perf_counter()
    cbor2.loads(biggest)
    floor_ms = 1000 * (time.perf_counter() - start)
    print(f"BENCH cbor_hostile_frame_worst {max(refused_ms):.2f} ms floor={floor_ms:.2f}")


if __name__ == "__main__":
    main()
