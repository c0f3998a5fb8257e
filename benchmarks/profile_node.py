"""Run `p2pcommunity-node` under cProfile counting CPU time, not wall time.

    python benchmarks/profile_node.py OUT.prof --data-dir D run ...

Wall-clock profiles of nodes sharing a busy machine charge a function for
the time the process waited to be scheduled (a `send` that wakes another
process looks slow); CPU time shows what the node itself spends.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    profile = cProfile.Profile(time.process_time)
    sys.argv = ["p2pcommunity-node", *args]
    profile.enable()
    try:
        runpy.run_module("p2pcommunity.cli", run_name="__main__")
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
