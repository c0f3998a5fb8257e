"""What the running node asks of the service: taking up a community to sync,
publishing where we listen, where to reach members, and the status line.

A mixin of `Service`, apart from the user commands in service.py and
governance.py because none of it is a command a person types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nacl.signing import SigningKey

from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.storage.store import Store


class NodeSupport:
    store: Store
    key: SigningKey
    me: bytes
    clock: Callable[[], int]
    on_local_change: Callable[[Community, str], None]

    if TYPE_CHECKING:

        def communities(self) -> list[Community]: ...
        def open_community(self, community_id: bytes) -> Community: ...
        def display_name(self) -> str: ...
        def _write_profile(
            self, community: Community, name: str | None, bio: str | None
        ) -> None: ...

    def take_up(self, community_id: bytes) -> Community:
        """Start holding a community we only know the id of; its log arrives by sync."""
        if community_id not in self.store.community_ids():
            with self.store.transaction():
                self.store.add_community(community_id, self.clock())
        return self.open_community(community_id)

    def after_join(self, community: Community) -> None:
        if self.display_name():
            self._write_profile(community, self.display_name(), None)

    def publish_addrs(self, addrs: list[str]) -> None:
        """Write our listen addresses into our member documents when they changed."""
        wanted = "\n".join(addrs)
        for community in self.communities():
            if not community.state.is_member(self.me):
                continue
            if self.store.member_addrs(community.id).get(self.me) == wanted:
                continue
            community.write(self.key, self.clock(), lambda seg: seg.write_addrs(addrs))
            self.on_local_change(community, "doc")

    def member_addrs(self) -> dict[str, list[str]]:
        """peer id -> where to reach current members: last-known, then published addresses.

        Only current members of a community we hold: a removed member's old
        addresses are never dialed again.
        """
        found: dict[str, list[str]] = {}
        known = self.store.known_peers()
        for community in self.communities():
            state = community.state
            published = self.store.member_addrs(community.id)
            for member in state.members:
                if member == self.me or not state.is_member(member):
                    continue
                addrs = known.get(member, []) + (published.get(member) or "").split("\n")
                bucket = found.setdefault(peer_id_from_public_key(member), [])
                bucket.extend(a for a in addrs if a and a not in bucket)
        return {peer: addrs for peer, addrs in found.items() if addrs}

    def mark_synced(self, community_id: bytes) -> None:
        with self.store.transaction():
            self.store.set_meta(f"last_sync:{community_id.hex()}", str(self.clock()).encode())

    def status(self, addrs: list[str], online: list[bytes]) -> dict[str, Any]:
        communities = []
        for community in self.communities():
            raw = self.store.get_meta(f"last_sync:{community.id.hex()}")
            members = community.state.members
            communities.append(
                {
                    "id": community.id.hex(),
                    "name": community.state.name,
                    "members_online": sum(1 for key in online if key in members),
                    "documents": len(self.store.docs_of(community.id)),
                    "last_sync": iso_ms(int(raw)) if raw else None,
                }
            )
        return {
            "peer_id": peer_id_from_public_key(self.me),
            "addrs": addrs,
            "peers": [peer_id_from_public_key(key) for key in online],
            "communities": communities,
        }
