"""What a hostile LAN can make a node keep from mDNS: members only, bounded (net/lan.py)."""

from __future__ import annotations

from p2pcommunity.net.lan import MAX_ADDRS, MAX_SIGHTINGS, LanDiscovery


def lan(members: set[str]) -> tuple[LanDiscovery, dict[str, list[str]], list[str]]:
    found: dict[str, list[str]] = {}
    lost: list[str] = []
    discovery = LanDiscovery("me", lambda: [], members.__contains__, found.__setitem__, lost.append)
    return discovery, found, lost


def test_only_members_are_kept_and_only_dialable_addresses() -> None:
    discovery, found, lost = lan({"bob"})
    seen = discovery.sightings
    seen.add_addrs("bob", ["/ip4/192.0.2.1/tcp/4001", "/dns4/evil.example/tcp/1"], 120)
    seen.add_addrs("mallory", ["/ip4/192.0.2.66/tcp/4001"], 120)
    seen.add_addrs("me", ["/ip4/192.0.2.2/tcp/4001"], 120)  # our own advertisement
    discovery.poll()
    assert found == {"bob": ["/ip4/192.0.2.1/tcp/4001"]}
    seen.clear_addrs("bob")
    seen.clear_addrs("mallory")
    discovery.poll()
    assert lost == ["bob"]


def test_a_flood_of_advertisements_is_bounded() -> None:
    discovery, found, _ = lan({f"peer{i}" for i in range(2 * MAX_SIGHTINGS)})
    for i in range(2 * MAX_SIGHTINGS):
        addrs = [f"/ip4/192.0.2.{n % 250}/tcp/{1000 + n}" for n in range(3 * MAX_ADDRS)]
        discovery.sightings.add_addrs(f"peer{i}", addrs, 120)
    discovery.poll()
    assert len(found) == MAX_SIGHTINGS
    assert all(len(addrs) == MAX_ADDRS for addrs in found.values())
    assert discovery.sightings.take() == {}  # handed over, nothing left behind
