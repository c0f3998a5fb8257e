"""What every benchmark prints and measures the same way: the BENCH line,
percentiles and this process's RSS."""

from __future__ import annotations

import resource
from collections.abc import Sequence


def bench(name: str, value: float, unit: str, floor: float | str) -> None:
    floor_text = floor if isinstance(floor, str) else f"{floor:.4g}"
    print(f"BENCH {name} {value:.4g} {unit} floor={floor_text}", flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]
