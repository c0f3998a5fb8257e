"""Every command of the table checks its params before it runs (JSON-RPC -32602).

Over a real control socket to the node's own handler (`NodeControl.handle`),
for every command: each required param left out, and each param given a
value of the wrong type, is answered with INVALID_PARAMS naming the field,
never with an internal error. The node behind the handler raises if it is
touched at all, so a bad request provably changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from p2pcommunity.command_spec import Command, Param, Where, validate
from p2pcommunity.commands import TABLE
from p2pcommunity.control import protocol as p
from p2pcommunity.control.client import ControlClient, ControlError
from p2pcommunity.control.server import serve_control
from p2pcommunity.node_control import NodeControl

TIMEOUT = 60.0
BY_API = [c for c in TABLE if c.where is Where.ANYWHERE]
NOT_BY_API = [c for c in TABLE if c.where is not Where.ANYWHERE]


class Untouchable:
    """A node that fails any use: validation must refuse before the call runs."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the node was used ({name}) for a request that should be refused")


def good(param: Param) -> Any:
    if param.choices:
        return param.choices[0]
    return {str: "x", int: 1, float: 1.5, bool: True, list: ["x"]}[param.kind]


def wrong(param: Param) -> list[Any]:
    """Values of the wrong JSON type for `param` (a bool is not a number here)."""
    return {
        str: [5, ["x"], {"a": 1}, True],
        int: ["5", 1.5, True],
        float: ["1.5", False, [1]],
        bool: ["yes", 1],
        list: ["x", [1], {"a": "b"}],
    }[param.kind]


def complete(command: Command) -> dict[str, Any]:
    return {q.name: good(q) for q in command.params if q.wire and q.required}


def cases() -> list[tuple[str, dict[str, Any], str]]:
    """(method, params, the field the error must name) for every command."""
    out = []
    for command in BY_API:
        for param in command.params:
            if not param.wire:
                continue
            if param.required:
                params = complete(command)
                del params[param.name]
                out.append((command.name, params, param.name))
            for value in wrong(param):
                out.append((command.name, {**complete(command), param.name: value}, param.name))
            if param.choices:
                out.append((command.name, {**complete(command), param.name: "nope"}, param.name))
        out.append((command.name, {**complete(command), "frobnicate": 1}, "frobnicate"))
    return out


def _serve(data_dir: Path, client_side: Any) -> Any:
    control = NodeControl(Untouchable(), lambda: [], lambda: [])  # type: ignore[arg-type]

    async def main() -> Any:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve_control, data_dir, control.handle)
            with trio.fail_after(TIMEOUT):
                result = await trio.to_thread.run_sync(  # type: ignore[call-arg]
                    client_side, abandon_on_cancel=True
                )
            nursery.cancel_scope.cancel()
        return result

    return trio.run(main)


def test_every_command_refuses_missing_and_ill_typed_params(tmp_path: Path) -> None:
    todo = cases()
    assert {method for method, _, _ in todo} == {c.name for c in BY_API}

    def client_side() -> list[tuple[str, dict[str, Any], str, int, str, str]]:
        answers = []
        client = ControlClient.connect(tmp_path, timeout=10.0)
        assert client is not None
        with client:
            for method, params, name in todo:
                with pytest.raises(ControlError) as caught:
                    client.call(method, params)
                exc = caught.value
                answers.append((method, params, name, exc.rpc_code, exc.code, str(exc)))
        return answers

    for method, params, name, rpc_code, code, message in _serve(tmp_path, client_side):
        where = f"{method} {params}: {message}"
        assert rpc_code == p.INVALID_PARAMS, where
        assert code == "invalid", where
        assert repr(name) in message, where
        assert "internal" not in message and "KeyError" not in message, where


def test_commands_that_never_run_in_the_node_are_refused_by_it(tmp_path: Path) -> None:
    def client_side() -> list[int]:
        client = ControlClient.connect(tmp_path, timeout=10.0)
        assert client is not None
        codes = []
        with client:
            for command in [*NOT_BY_API, None]:
                with pytest.raises(ControlError) as caught:
                    client.call(command.name if command else "no such command", {})
                codes.append(caught.value.rpc_code)
        return codes

    assert set(_serve(tmp_path, client_side)) == {p.METHOD_NOT_FOUND}


@pytest.mark.parametrize("command", NOT_BY_API, ids=lambda c: c.name)
def test_local_commands_validate_their_args_too(command: Command) -> None:
    """identity export/import and run are checked the same way in the CLI process."""
    args = {q.name: good(q) for q in command.params if q.required}
    for param in command.params:
        if param.required:
            missing = {k: v for k, v in args.items() if k != param.name}
            with pytest.raises(p.InvalidParams, match=repr(param.name)):
                validate(command, missing, local=True)
        for value in wrong(param):
            with pytest.raises(p.InvalidParams, match=repr(param.name)):
                validate(command, {**args, param.name: value}, local=True)


def test_defaults_and_nulls() -> None:
    read = next(c for c in TABLE if c.name == "read")
    assert validate(read, {"community": "c", "channel": "g", "before": None}) == {
        "community": "c",
        "channel": "g",
        "limit": 50,
        "before": None,
        "include_hidden": False,
    }
    join = next(c for c in TABLE if c.name == "join")
    args = validate(join, {"community": "code", "timeout": 60})
    assert args["timeout"] == 60.0 and isinstance(args["timeout"], float)
    assert args["bootstrap"] == []
    with pytest.raises(p.InvalidParams, match="'passphrase_file'"):  # never sent to a node
        validate(join, {"community": "code", "passphrase_file": "/x"})
