"""Running `p2pcommunity-node run` subprocesses for end-to-end tests."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.conftest import NODE, Cli

LOOPBACK = "/ip4/127.0.0.1/tcp/0"


@dataclass
class RunningNode:
    cli: Cli
    proc: subprocess.Popen[str]
    addrs: list[str] = field(default_factory=list)

    @property
    def addr(self) -> str:
        return self.addrs[0]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self.proc.stderr:
            self.proc.stderr.close()
        return self.proc.returncode


def start_node(cli: Cli, *extra: str, timeout: float = 30.0) -> RunningNode:
    """Start a node and return once it prints its address and answers `whoami`.

    Raises AssertionError with the node's stderr when it exits, or is not
    ready by `timeout`; the node is stopped first, so nothing is left behind.
    """
    log_path = Path(str(cli.data_dir) + ".log")
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [*NODE, "--data-dir", str(cli.data_dir), "run", "--listen", LOOPBACK, *extra],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=os.environ.copy(),
    )
    log.close()
    node = RunningNode(cli, proc)
    deadline = time.monotonic() + timeout

    def fail(why: str) -> AssertionError:
        node.stop()
        return AssertionError(f"{why}; its stderr:\n{log_path.read_text(errors='replace')}")

    assert proc.stdout is not None
    # The first line is the listen address; wait for it no longer than the deadline.
    if not select.select([proc.stdout], [], [], timeout)[0]:
        raise fail(f"the node printed no address in {timeout:g} s")
    line = proc.stdout.readline()
    if not line:
        raise fail(f"the node exited ({proc.wait(5)})")
    node.addrs.append(line.strip())
    # The control socket comes up before the addresses are printed, so this
    # normally answers at once; it is bounded all the same.
    while True:
        answer = cli("whoami", check=False)
        if answer.code == 0:
            return node
        if proc.poll() is not None:
            raise fail(f"the node exited ({proc.returncode})")
        if time.monotonic() > deadline:
            raise fail(f"the node did not answer whoami in {timeout:g} s: {answer.err.strip()}")
        time.sleep(0.05)


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def init_all(*clis: Cli, named: bool = False) -> None:
    """`init` each data dir; with `named`, the profile name is the folder's name."""
    for cli in clis:
        cli("init", *(("--name", cli.data_dir.name) if named else ()))


def community_with(owner: Cli, title: str, *members: Cli) -> str:
    """`owner` creates the community `title` and adds each of `members` by peer id."""
    community: str = owner.json("community", "create", title)["community_id"]
    for member in members:
        owner("member", "add", community, member.json("whoami")["peer_id"])
    return community
