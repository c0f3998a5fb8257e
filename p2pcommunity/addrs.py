"""Multiaddrs as the node uses them: whose peer an address names, and which to publish.

Parsed with py-multiaddr (installed with libp2p), never by slicing strings:
a relayed address `/.../p2p/RELAY/p2p-circuit/p2p/PEER` names PEER, and an
address that does not parse is an `Invalid` error naming it.

Resolving this host's own addresses (for a wildcard listen address) asks the
system resolver, which can block for seconds; `host_addresses` is therefore
called once, in a thread, when the node starts, and `publishable` itself is
pure and cheap enough to run on the trio loop for every invite.
"""

from __future__ import annotations

import ipaddress
import socket

from multiaddr import Multiaddr

from p2pcommunity.sync.errors import Invalid
from p2pcommunity.sync.peerid import public_key_from_peer_id


def parse(addr: str) -> Multiaddr:
    try:
        return Multiaddr(addr)
    except Exception as exc:  # noqa: BLE001 -- py-multiaddr raises many types
        raise Invalid(f"{addr!r} is not a multiaddr: {exc}") from None


def peer_of(multiaddr: str) -> str:
    """The peer id at the end of a `/p2p/<id>` multiaddr."""
    items = list(parse(multiaddr).items())
    if not items or items[-1][0].name != "p2p":
        raise Invalid(f"{multiaddr!r} does not end in /p2p/<peer id>")
    peer = str(items[-1][1])
    public_key_from_peer_id(peer)
    return peer


def is_wildcard(addr: str) -> bool:
    """An address that listens on every interface (`/ip4/0.0.0.0/...`, `/ip6/::/...`)."""
    items = list(parse(addr).items())
    return bool(items) and items[0][0].name in ("ip4", "ip6") and _unspecified(str(items[0][1]))


def _unspecified(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_unspecified


def host_addresses() -> list[str]:
    """This host's IPv4 addresses, as the resolver knows them (blocking: run in a thread)."""
    try:
        return list(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        return []


def publishable(addrs: list[str], host_ips: list[str]) -> list[str]:
    """Listen addresses as others can dial them: a wildcard becomes this host's addresses.

    `/ip4/0.0.0.0/...` gives one address per entry of `host_ips`; an IPv6
    wildcard is dropped (we do not know which of our IPv6 addresses to give).
    """
    out: list[str] = []
    for addr in addrs:
        parsed = parse(addr)
        items = list(parsed.items())
        if not items:
            continue
        proto, value = items[0][0].name, str(items[0][1])
        if proto in ("ip4", "ip6") and _unspecified(value):
            if proto == "ip4":
                rest = "".join(str(part) for part in parsed.split()[1:])
                out += [f"/ip4/{ip}{rest}" for ip in host_ips]
            continue
        out.append(str(parsed))
    return list(dict.fromkeys(out))
