from __future__ import annotations

import itertools

import pytest
import trio

from p2pcommunity.net.dial import backoff_delays, dial_with_backoff


class Flaky:
    """Fails `failures` times, then returns "conn"; records fake sleeps."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.sleeps: list[float] = []

    async def open(self) -> str:
        self.calls += 1
        await trio.lowlevel.checkpoint()
        if self.calls <= self.failures:
            raise ConnectionError(f"attempt {self.calls}")
        return "conn"

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await trio.lowlevel.checkpoint()


def run_dial(flaky: Flaky, attempts: int, rand: float = 1.0, max_delay: float = 100.0) -> str:
    async def main() -> str:
        return await dial_with_backoff(
            flaky.open,
            attempts=attempts,
            base_delay=1.0,
            max_delay=max_delay,
            sleep=flaky.sleep,
            rand=lambda: rand,
        )

    return trio.run(main)


def test_first_success_does_not_sleep() -> None:
    flaky = Flaky(failures=0)
    assert run_dial(flaky, attempts=5) == "conn"
    assert (flaky.calls, flaky.sleeps) == (1, [])


def test_retries_until_success_with_growing_delays() -> None:
    flaky = Flaky(failures=3)
    assert run_dial(flaky, attempts=5) == "conn"
    assert flaky.calls == 4
    assert flaky.sleeps == [1.0, 2.0, 4.0]


def test_bounded_attempts_reraise_the_last_error() -> None:
    flaky = Flaky(failures=100)
    with pytest.raises(ConnectionError, match="attempt 4"):
        run_dial(flaky, attempts=4)
    assert flaky.calls == 4
    assert len(flaky.sleeps) == 3  # no sleep after the last failure


def test_delays_are_capped() -> None:
    flaky = Flaky(failures=100)
    with pytest.raises(ConnectionError):
        run_dial(flaky, attempts=6, max_delay=3.0)
    assert flaky.sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_keeps_half_of_each_delay() -> None:
    low = backoff_delays(5, base_delay=1.0, max_delay=100.0, rand=lambda: 0.0)
    high = backoff_delays(5, base_delay=1.0, max_delay=100.0, rand=lambda: 0.999)
    assert low == [0.5, 1.0, 2.0, 4.0]
    assert all(lo < hi < 2 * lo for lo, hi in zip(low, high, strict=True))
    # Even with the worst jitter, each wait is at least the previous one.
    assert all(a <= b for a, b in itertools.pairwise(low))


def test_real_random_jitter_stays_in_bounds() -> None:
    for i, delay in enumerate(backoff_delays(8, base_delay=0.5, max_delay=5.0)):
        ceiling = min(5.0, 0.5 * 2**i)
        assert ceiling / 2 <= delay <= ceiling


def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def bad() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("bug")

    async def main() -> None:
        await dial_with_backoff(bad, attempts=5, retry_on=(ConnectionError,))

    with pytest.raises(KeyError):
        trio.run(main)
    assert calls == 1


def test_invalid_arguments() -> None:
    flaky = Flaky(failures=0)
    with pytest.raises(ValueError):
        run_dial(flaky, attempts=0)
    assert flaky.calls == 0


def test_real_sleep_is_cancellable() -> None:
    flaky = Flaky(failures=100)

    async def main() -> None:
        with trio.move_on_after(0.05) as scope:
            await dial_with_backoff(flaky.open, attempts=3, base_delay=60.0, max_delay=60.0)
        assert scope.cancelled_caught

    trio.run(main)
    assert flaky.calls == 1
