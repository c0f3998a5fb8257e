"""Retry a dial with exponential backoff and jitter (ARCHITECTURE §6).

The host itself never retries (`host.py` sets libp2p's own retries to 0 and
bypasses its negative cache), so this is the one retry policy. Sleep and
randomness are parameters so tests run without real time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import trio

logger = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delays(
    attempts: int,
    base_delay: float,
    max_delay: float,
    rand: Callable[[], float] = random.random,
) -> list[float]:
    """The waits between `attempts` tries: base·2^i capped at max_delay, times 0.5..1.

    "Equal jitter": half of each delay is fixed, so delays still grow with
    the attempt number; the random half keeps peers that lost the same
    connection from redialling in lockstep.
    """
    delays = []
    for i in range(max(attempts - 1, 0)):
        ceiling = min(max_delay, base_delay * 2**i)
        delays.append(ceiling * (0.5 + 0.5 * rand()))
    return delays


async def dial_with_backoff(
    open_fn: Callable[[], Awaitable[T]],
    attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 10.0,
    *,
    sleep: Callable[[float], Awaitable[None]] = trio.sleep,
    rand: Callable[[], float] = random.random,
    retry_on: tuple[type[Exception], ...] = (Exception,),
) -> T:
    """Call `open_fn` until it succeeds, at most `attempts` times; re-raise the last error.

    Only exceptions in `retry_on` are retried; anything else (and
    cancellation) propagates at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    if base_delay < 0 or max_delay < 0:
        raise ValueError("delays must not be negative")
    delays = backoff_delays(attempts, base_delay, max_delay, rand)
    for attempt in range(attempts):
        try:
            return await open_fn()
        except retry_on as e:
            if attempt == attempts - 1:
                raise
            delay = delays[attempt]
            logger.debug(
                "dial attempt %d/%d failed (%r); retrying in %.2fs",
                attempt + 1,
                attempts,
                e,
                delay,
            )
            await sleep(delay)
    raise AssertionError("unreachable")
