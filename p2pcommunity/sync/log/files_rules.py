"""Issue 15: the log op that sets a community's file limit (`community set --max-file-size`).

An admin op, like `community_set`, folded into `CommunityState.settings`:
the last `files_set` in the fold order wins. The size is checked on
receipt: an int from 1 byte to 2 GB, the cap of the issue.
"""

from __future__ import annotations

from typing import Any

from p2pcommunity.sync.blobs.manifest import MAX_FILE_SIZE_CAP
from p2pcommunity.sync.log.ops import Op, Role, fields
from p2pcommunity.sync.log.state import COMMUNITY, OpRule, StateBuilder


def is_file_size(value: Any) -> bool:
    return type(value) is int and 0 < value <= MAX_FILE_SIZE_CAP


def _apply_files_set(state: StateBuilder, op: Op) -> None:
    state.settings["max_file_size"] = op.body["max_file_size"]


FILES_RULES: dict[str, OpRule] = {
    "files_set": OpRule(
        required=Role.ADMIN,
        validate=fields({"max_file_size": is_file_size}),
        touches=lambda op: (COMMUNITY,),
        apply=_apply_files_set,
    ),
}
