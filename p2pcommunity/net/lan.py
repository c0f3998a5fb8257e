"""LAN discovery (`run --mdns`): members on the local network found by mDNS.

We use py-libp2p 0.8.1's mDNS module (`libp2p.discovery.mdns`, over
zeroconf) for the wire format, the advertisement and the browsing, but not
all of it as it comes:

- Its listener writes what it finds into the peerstore it is handed, from
  zeroconf's own threads. It is handed a `Sightings` recorder instead, behind
  a lock, so no libp2p state is touched off the trio thread; and we do not
  listen to its `peerDiscovery` event, which is one per process and would
  mix up the sightings of several nodes in one process (the tests have that).
- Creating it binds sockets and registering blocks while zeroconf probes the
  name, so both run in a worker thread, as does the goodbye on exit.

A sighting is only a hint about where a peer is. It is kept only for a
current member of a community this node holds (anyone on a LAN can
advertise any peer id), bounded in peers and addresses so that a noisy LAN
cannot grow memory, and the dialer then dials it: Noise proves the peer id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from libp2p.discovery.mdns.mdns import MDNSDiscovery

log = logging.getLogger(__name__)

POLL_S = 1.0
MAX_SIGHTINGS = 256  # peers waiting to be looked at, between two polls
MAX_ADDRS = 8  # addresses kept per peer


class Sightings:
    """What the mDNS listener saw, handed over from its threads to trio's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, list[str] | None] = {}  # peer id -> addrs; None: gone

    # The two methods the listener calls on its "peerstore", in zeroconf's threads.
    def add_addrs(self, peer_id: object, addrs: list[object], _ttl: int) -> None:
        usable = [str(a) for a in addrs if str(a).startswith(("/ip4/", "/ip6/"))]
        with self._lock:
            if str(peer_id) in self._seen or len(self._seen) < MAX_SIGHTINGS:
                self._seen[str(peer_id)] = usable[:MAX_ADDRS]

    def clear_addrs(self, peer_id: object) -> None:
        with self._lock:
            if str(peer_id) in self._seen or len(self._seen) < MAX_SIGHTINGS:
                self._seen[str(peer_id)] = None

    def take(self) -> dict[str, list[str] | None]:
        with self._lock:
            seen, self._seen = self._seen, {}
        return seen


class _Swarm:
    """The two things `MDNSDiscovery` asks of a swarm: our id and a peerstore."""

    def __init__(self, peer_id: str, peerstore: Sightings) -> None:
        self._peer_id = peer_id
        self.peerstore = peerstore

    def get_peer_id(self) -> str:
        return self._peer_id


class LanDiscovery:
    """Advertises `addrs()` on the LAN and reports members seen there.

    `found(peer, addrs)` and `lost(peer)` run in trio's thread, only for peers
    that `is_member` accepts."""

    def __init__(
        self,
        peer_id: str,
        addrs: Callable[[], list[str]],
        is_member: Callable[[str], bool],
        found: Callable[[str, list[str]], None],
        lost: Callable[[str], None],
    ) -> None:
        self.peer_id = peer_id
        self.addrs = addrs
        self.is_member = is_member
        self.found = found
        self.lost = lost
        self.sightings = Sightings()

    def _open(self, addrs: list[str]) -> MDNSDiscovery:
        from libp2p.discovery.mdns.mdns import MDNSDiscovery

        swarm: Any = _Swarm(self.peer_id, self.sightings)
        mdns = MDNSDiscovery(swarm, port=0, listen_addrs=addrs)
        mdns.broadcaster.register()
        return mdns

    @staticmethod
    def _close(mdns: MDNSDiscovery) -> None:
        mdns.broadcaster.unregister()
        mdns.listener.stop()
        mdns.zeroconf.close()

    async def run(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        mdns = await trio.to_thread.run_sync(self._open, self.addrs())
        log.info("LAN discovery (mDNS) on: advertising %s", ", ".join(self.addrs()))
        task_status.started()
        try:
            while True:
                self.poll()
                await trio.sleep(POLL_S)
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._close, mdns)

    def poll(self) -> None:
        for peer, addrs in self.sightings.take().items():
            if peer == self.peer_id or not self.is_member(peer):
                continue
            if addrs:
                self.found(peer, addrs)
            else:
                self.lost(peer)
