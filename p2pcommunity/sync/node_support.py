"""What the running node asks of the service: taking up a community to sync,
publishing where we listen, where to reach members, and the status line.

A part of `Service` (`service.node_support`), apart from the user commands
in service.py and governance.py because none of it is a command a person
types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from p2pcommunity.sync.peerid import peer_id_from_public_key
from p2pcommunity.sync.timefmt import iso_ms

if TYPE_CHECKING:
    from p2pcommunity.sync.community import Community
    from p2pcommunity.sync.service import Service


class NodeSupport:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._listening: list[str] | None = None  # what publish_addrs was last given

    def take_up(self, community_id: bytes) -> Community:
        """Start holding a community we only know the id of; its log arrives by sync."""
        if community_id not in self.service.store.community_ids():
            with self.service.store.transaction():
                self.service.store.add_community(community_id, self.service.clock())
        return self.service.open_community(community_id)

    def after_join(self, community: Community) -> None:
        """Write our profile into a community we took up, once its rules are accepted
        (until then we write nothing to it), unless it already holds this name."""
        name = self.service.display_name()
        if not name or self.service.rules_pending(community):
            return
        held = self.service.store.read_model.profiles(community.id).get(self.service.me)
        if held is None or held[0] != name:
            self.service.write_profile(community, name, None)
        if self._listening is not None:
            self.publish_addrs(self._listening)

    def publish_addrs(self, addrs: list[str]) -> None:
        """Write our listen addresses into our member documents when they changed."""
        self._listening = list(addrs)
        wanted = "\n".join(addrs)
        for community in self.service.communities():
            if not community.state.is_member(self.service.me):
                continue
            if self.service.rules_pending(community):
                continue  # nothing is written to it before its rules are accepted
            if (
                self.service.store.read_model.member_addrs(community.id).get(self.service.me)
                == wanted
            ):
                continue
            community.write(
                self.service.key, self.service.clock(), lambda seg: seg.write_addrs(addrs)
            )
            self.service.on_local_change(community, "doc")

    def member_addrs(self) -> dict[str, list[str]]:
        """peer id -> where to reach current members: last-known, then published addresses.

        Only current members of a community we hold: a removed member's old
        addresses are never dialed again.
        """
        found: dict[str, list[str]] = {}
        known = self.service.store.known_peers()
        for community in self.service.communities():
            state = community.state
            published = self.service.store.read_model.member_addrs(community.id)
            for member in state.members:
                if member == self.service.me or not state.is_member(member):
                    continue
                addrs = known.get(member, []) + (published.get(member) or "").split("\n")
                bucket = found.setdefault(peer_id_from_public_key(member), [])
                bucket.extend(a for a in addrs if a and a not in bucket)
        return {peer: addrs for peer, addrs in found.items() if addrs}

    def mark_synced(self, community_id: bytes) -> None:
        with self.service.store.transaction():
            self.service.store.set_meta(
                f"last_sync:{community_id.hex()}", str(self.service.clock()).encode()
            )

    def status(self, addrs: list[str], online: list[bytes]) -> dict[str, Any]:
        communities = []
        for community in self.service.communities():
            raw = self.service.store.get_meta(f"last_sync:{community.id.hex()}")
            members = community.state.members
            communities.append(
                {
                    "id": community.id.hex(),
                    "name": community.state.name,
                    "members_online": sum(1 for key in online if key in members),
                    "documents": len(self.service.store.docs_of(community.id)),
                    "last_sync": iso_ms(int(raw)) if raw else None,
                }
            )
        return {
            "peer_id": peer_id_from_public_key(self.service.me),
            "addrs": addrs,
            "peers": [peer_id_from_public_key(key) for key in online],
            "communities": communities,
        }
