"""The domain API behind the CLI and the control API.

Each method is one user command of CLI.md: it resolves what the user typed
(ids, unique prefixes, names), checks what the user may do, performs the
change through `Community`, and returns the JSON shape CLI.md documents.
A refused command raises a `DomainError` with the documented code and has
changed nothing. Time is passed in (`clock`), never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nacl.signing import SigningKey

from p2pcommunity.sync.accountability import Accountability, cite
from p2pcommunity.sync.community import Community
from p2pcommunity.sync.docs import content
from p2pcommunity.sync.docs.memberdoc import PostRecord, new_local_id, post_id_for
from p2pcommunity.sync.errors import Forbidden, Invalid, NotFound, Rejected, RulesPending
from p2pcommunity.sync.files import Files
from p2pcommunity.sync.governance import Governance
from p2pcommunity.sync.knowledge import Knowledge
from p2pcommunity.sync.log.community_log import CommunityState, Member, Role
from p2pcommunity.sync.mentions import find_mentions
from p2pcommunity.sync.names import labels
from p2pcommunity.sync.node_support import NodeSupport
from p2pcommunity.sync.pages import Pages
from p2pcommunity.sync.peerid import peer_id_from_public_key, public_key_from_peer_id
from p2pcommunity.sync.personal import Personal
from p2pcommunity.sync.reading import Reading
from p2pcommunity.sync.reports import open_reports
from p2pcommunity.sync.safety.part import Safety
from p2pcommunity.sync.storage.store import PostRow, Store
from p2pcommunity.sync.timefmt import iso_ms

NAME_KEY = "display_name"


def _role_name(role: Role | None) -> str | None:
    return None if role is None else role.name.lower()


class Service:
    def __init__(self, store: Store, key: SigningKey, clock: Callable[[], int]) -> None:
        self.store = store
        self.key = key
        self.me = bytes(key.verify_key)
        self.clock = clock
        self._communities: dict[bytes, Community] = {}
        # Called with (community, kind) after every local change; the node uses it
        # to push the change to connected peers at once.
        self.on_local_change: Callable[[Community, str], None] = lambda community, kind: None
        self.governance = Governance(self)
        self.node_support = NodeSupport(self)
        self.knowledge = Knowledge(self)
        self.pages = Pages(self)
        self.accountability = Accountability(self)
        self.files = Files(self)  # issue 15
        self.safety = Safety(self)
        self.reading = Reading(self)
        # The read commands, under the names CLI.md gives them.
        self.read = self.reading.read
        self.thread = self.reading.thread
        self.search = self.reading.search
        self.mark_read = self.reading.mark_read
        self.personal = Personal(self)  # issue 16: mutes, on this device only

    def close(self) -> None:
        for community in self._communities.values():
            community.save_snapshots()

    # -- resolving what the user typed -----------------------------------------

    def community(self, ref: str, *, rules_gate: bool = True) -> Community:
        """The community `ref` names. `rules_gate`: refuse with `rules_pending` while this
        member has not acknowledged its current rules (only showing the community, its
        rules, accepting them and leaving pass without)."""
        community = self._resolve(ref)
        if rules_gate and self.rules_pending(community):
            raise RulesPending(
                f"acknowledge the rules of {community.state.name!r} first (rules accept COMMUNITY)"
            )
        return community

    def rules_pending(self, community: Community) -> bool:
        """A member who has not acknowledged the current rules version."""
        state = community.state
        member = state.members.get(self.me)
        return (
            state.rules_version > 0
            and member is not None
            and state.is_member(self.me)
            and member.rules_acked < state.rules_version
        )

    def _resolve(self, ref: str) -> Community:
        ids = self.store.community_ids()
        wanted = ref.strip().lower()
        matches = [cid for cid in ids if cid.hex() == wanted]
        if not matches and len(wanted) >= 6:
            matches = [cid for cid in ids if cid.hex().startswith(wanted)]
        if not matches:
            matches = [cid for cid in ids if self.open_community(cid).state.name == ref]
        if not matches:
            raise NotFound(f"no community {ref!r}")
        if len(matches) > 1:
            raise Invalid(f"{ref!r} names more than one community; use its id")
        return self.open_community(matches[0])

    def open_community(self, community_id: bytes) -> Community:
        community = self._communities.get(community_id)
        if community is None:
            community = Community.load(self.store, community_id)
            self.adopt(community)
        return community

    def adopt(self, community: Community) -> None:
        """Hold `community` as the one object for its id."""
        community.gate = self.safety.forward_gate
        community.serve_limit = self.safety.serve_limit
        community.leave_segment = self.safety.leave_segment
        self._communities[community.id] = community

    def drop_cached(self, community_id: bytes) -> None:
        """Forget the in-memory community so the next use reloads it from SQLite."""
        self._communities.pop(community_id, None)

    def communities(self) -> list[Community]:
        return [self.open_community(cid) for cid in self.store.community_ids()]

    @staticmethod
    def channel_id(state: CommunityState, ref: str) -> bytes:
        wanted = ref.strip().lower()
        for channel_id, channel in state.channels.items():
            if channel_id.hex() == wanted or channel.name == ref.lstrip("#"):
                return channel_id
        prefixed = [
            cid for cid in state.channels if len(wanted) >= 6 and cid.hex().startswith(wanted)
        ]
        if len(prefixed) == 1:
            return prefixed[0]
        raise NotFound(f"no channel {ref!r}")

    def post_row(self, community: Community, ref: str) -> PostRow:
        wanted = ref.strip().lower()
        row = self.store.read_model.post(wanted)
        if row is None and len(wanted) >= 6:
            found = self.store.read_model.posts_by_prefix(community.id, wanted)
            if len(found) == 1:
                row = self.store.read_model.post(found[0])
        if row is None or row.community_id != community.id or row.deleted:
            raise NotFound(f"no post {ref!r}")
        return row

    @staticmethod
    def peer_key(peer: str) -> bytes:
        return public_key_from_peer_id(peer.strip())

    # -- identity and profile --------------------------------------------------

    def display_name(self) -> str:
        raw = self.store.get_meta(NAME_KEY)
        return raw.decode() if raw else ""

    def whoami(self, addrs: list[str] | None = None) -> dict[str, Any]:
        return {
            "peer_id": peer_id_from_public_key(self.me),
            "name": self.display_name(),
            "addrs": addrs or [],
        }

    def set_display_name(self, name: str) -> str:
        """Store the display name, normalised as content.py demands; returns it."""
        name = _clean_name(name, "display name")
        with self.store.transaction():
            self.store.set_meta(NAME_KEY, name.encode())
        return name

    def profile_set(self, name: str | None, bio: str | None) -> dict[str, Any]:
        if bio is not None:
            _check(content.bio_problem(bio))
        if name is not None:
            name = self.set_display_name(name)
        for community in self.communities():
            # A community whose rules wait gets the profile when they are accepted.
            if community.state.is_member(self.me) and not self.rules_pending(community):
                self.write_profile(community, name, bio)
        return {}

    def write_profile(self, community: Community, name: str | None, bio: str | None) -> None:
        # Every segment starts with an empty profile map and the newest segment's
        # profile wins, so each write carries the whole profile, not just a change.
        held_name, held_bio = self.store.read_model.profiles(community.id).get(self.me) or (
            None,
            None,
        )
        name = name if name is not None else held_name
        bio = bio if bio is not None else held_bio
        now = self.clock()
        community.write(self.key, now, lambda seg: seg.write_profile(name, bio, now))
        self.on_local_change(community, "doc")

    # -- communities -----------------------------------------------------------

    def community_create(self, name: str, description: str = "") -> dict[str, Any]:
        name = _clean_name(name, "community name")
        if len(description) > 1024:
            raise Invalid("description longer than 1024 characters")
        community = Community.create(self.store, self.key, name, description, self.clock())
        self.adopt(community)
        if self.display_name():
            self.write_profile(community, self.display_name(), None)
        return {"community_id": community.id.hex()}

    def community_list(self) -> dict[str, Any]:
        rows = []
        for community in self.communities():
            state = community.state
            rows.append(
                {
                    "id": community.id.hex(),
                    "name": state.name,
                    "role": _role_name(state.role_of(self.me)),
                    "members": sum(1 for key in state.members if state.is_member(key)),
                    "channels": len(state.channels),
                    **self._my_standing(community),
                }
            )
        return {"communities": rows}

    def _my_standing(self, community: Community) -> dict[str, Any]:
        member = community.state.members.get(self.me)
        until = member.timeout_until_ms if member is not None else None
        return {
            "rules_acknowledged": not self.rules_pending(community),
            "timed_out_until": iso_ms(until)
            if until is not None and until > self.clock()
            else None,
        }

    def community_show(self, ref: str) -> dict[str, Any]:
        """Shown also while the rules wait (the app shows them from here), but then
        without its channels: nothing of the community is shown before."""
        community = self.community(ref, rules_gate=False)
        state = community.state
        pending = self.rules_pending(community)
        return {
            "id": community.id.hex(),
            "name": state.name,
            "description": state.description,
            "owner": peer_id_from_public_key(state.owner),
            "role": _role_name(state.role_of(self.me)),
            "rules": state.rules,
            "rules_version": state.rules_version,
            "channels": [] if pending else self.channel_list(ref)["channels"],
            "members": sum(1 for key in state.members if state.is_member(key)),
            "max_file_size": self.files.max_file_size(community),  # the app checks before sending
            "nodes": [
                {"peer_id": peer_id_from_public_key(key), "addr": addr}
                for key, addr in sorted(state.nodes.items())
            ],
            **self._my_standing(community),
        }

    def community_set(
        self,
        ref: str,
        name: str | None,
        description: str | None,
        max_file_size: str | None = None,
    ) -> dict[str, Any]:
        community = self.community(ref)
        if max_file_size is not None:  # issue 15: its own op, checked before the others
            self.files.set_max_file_size(community, max_file_size)
            if name is None and description is None:
                return {}
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = _clean_name(name, "community name")
        if description is not None:
            if len(description) > 1024:
                raise Invalid("description longer than 1024 characters")
            body["description"] = description
        if not body:
            raise Invalid("nothing to set: give --name or --description")
        self.append_op(community, "community_set", body)
        return {}

    def leave(self, ref: str) -> dict[str, Any]:
        community = self.community(ref, rules_gate=False)
        self.store.delete_community(community.id)
        self._communities.pop(community.id, None)
        return {}

    def append_op(self, community: Community, op_type: str, body: dict[str, Any]) -> bytes:
        try:
            op = community.append_op(self.key, op_type, body, self.clock())
        except Rejected as exc:
            if exc.reason == "forbidden":
                raise Forbidden(f"your role does not allow {op_type.replace('_', ' ')}") from exc
            raise Invalid(str(exc)) from exc
        self.on_local_change(community, "log")
        return op.hash

    def require_role(self, community: Community, role: Role, action: str) -> None:
        held = community.state.role_of(self.me)
        if held is None or held < role:
            raise Forbidden(f"only {role.name.lower()}s and above may {action}")

    # -- channels --------------------------------------------------------------

    def channel_create(
        self, ref: str, name: str, topic: str = "", kind: str = "chat"
    ) -> dict[str, Any]:
        community = self.community(ref)
        if kind not in ("chat", "forum", "qa"):
            raise Invalid("a channel's kind is chat, forum or qa")
        name = _clean_name(name.lstrip("#"), "channel name")
        self.require_role(community, Role.ADMIN, "create channels")
        if community.state.channel_by_name(name) is not None:
            raise Invalid(f"a channel named {name!r} exists", code="exists")
        body = {"name": name, "topic": topic}
        if kind != "chat":  # issue 14; a chat channel's op stays what older releases read
            body["kind"] = kind
        op_hash = self.append_op(community, "channel_create", body)
        return {"channel_id": op_hash.hex()}

    def channel_rename(self, ref: str, channel: str, name: str) -> dict[str, Any]:
        community = self.community(ref)
        channel_id = self.channel_id(community.state, channel)
        name = _clean_name(name.lstrip("#"), "channel name")
        self.require_role(community, Role.ADMIN, "rename channels")
        if community.state.channel_by_name(name) is not None:
            raise Invalid(f"a channel named {name!r} exists", code="exists")
        self.append_op(community, "channel_rename", {"channel": channel_id, "name": name})
        return {}

    def channel_archive(self, ref: str, channel: str) -> dict[str, Any]:
        community = self.community(ref)
        channel_id = self.channel_id(community.state, channel)
        self.require_role(community, Role.ADMIN, "archive channels")
        self.append_op(community, "channel_archive", {"channel": channel_id})
        return {}

    def channel_list(self, ref: str) -> dict[str, Any]:
        community = self.community(ref)
        state = community.state
        channels = sorted(state.channels.values(), key=lambda c: (c.created_ms, c.id))
        unread = self.store.read_model.unread_counts(
            community.id, self.me, self.store.blocked(), community.visibility(self.clock())
        )
        muted = self.store.personal.channels(community.id)
        return {
            "channels": [
                {
                    "id": c.id.hex(),
                    "name": c.name,
                    "topic": c.topic,
                    "archived": c.archived,
                    "kind": c.kind,
                    "unread": unread.get(c.id, (0, 0))[0],
                    "mentions": unread.get(c.id, (0, 0))[1],
                    "muted": c.id in muted,
                }
                for c in channels
            ]
        }

    # -- posts -----------------------------------------------------------------

    def _require_member(self, community: Community) -> None:
        if not community.state.is_member(self.me):
            raise Forbidden("you are not a member of this community")

    def _require_not_timed_out(self, community: Community) -> None:
        member = community.state.members.get(self.me)
        until = member.timeout_until_ms if member is not None else None
        if until is not None and until > self.clock():
            raise Forbidden(f"you are timed out until {iso_ms(until)}")

    def reported_by_me(self, community: Community) -> frozenset[str]:
        """The posts this member reported (their reports are sealed to them too)."""
        mine = [(r, b) for r, b in self.store.reports(community.id) if r == self.me]
        return frozenset(r.post_id for r in open_reports(self.key, mine))

    def write_report(self, community: Community, report_id: str, body: bytes) -> None:
        community.write(self.key, self.clock(), lambda seg: seg.write_report(report_id, body))
        self.on_local_change(community, "doc")

    def post(
        self,
        ref: str,
        channel: str,
        text: str,
        reply_to: str | None = None,
        attach: list[str] | None = None,
    ) -> dict[str, Any]:
        community = self.community(ref)
        state = community.state
        channel_id = self.channel_id(state, channel)
        self._require_member(community)
        if state.channels[channel_id].archived:
            raise Forbidden(f"#{state.channels[channel_id].name} is archived (read-only)")
        self._require_not_timed_out(community)
        if not attach or text.strip():  # a post of files alone may have no text
            text = _clean_text(text)
        parent = self.post_row(community, reply_to).id if reply_to else None
        self.knowledge.check_plain_post(community, channel_id, parent)
        mentions = _mentions(text, state, self.store.read_model.profiles(community.id))
        attachments = self.files.attach(community, attach) if attach else ()
        local_id = new_local_id()
        now = self.clock()
        record = PostRecord(local_id, channel_id, text, parent, mentions, now, attachments)
        held = self.safety.check_outgoing(community, record, post_id_for(self.me, local_id))
        community.write(self.key, now, lambda seg: seg.write_post(record))
        self.on_local_change(community, "doc")
        return {"post_id": post_id_for(self.me, local_id), "held": held}

    def _own_post(self, community: Community, ref: str) -> PostRow:
        row = self.post_row(community, ref)
        if row.author != self.me:
            raise Forbidden("you can only change your own posts")
        return row

    def edit(self, ref: str, post: str, text: str) -> dict[str, Any]:
        community = self.community(ref)
        self._require_member(community)
        row = self._own_post(community, post)
        self._require_not_timed_out(community)
        text = _clean_text(text)
        self.safety.check_edit(community, row.id, text)
        now = self.clock()
        community.write(self.key, now, lambda seg: seg.write_edit(row.id, text, now))
        self.on_local_change(community, "doc")
        return {}

    def delete(self, ref: str, post: str) -> dict[str, Any]:
        community = self.community(ref)
        self._require_member(community)
        row = self._own_post(community, post)
        now = self.clock()
        community.write(self.key, now, lambda seg: seg.write_delete(row.id, now))
        self.on_local_change(community, "doc")
        return {}

    def react(self, ref: str, post: str, emoji: str) -> dict[str, Any]:
        community = self.community(ref)
        self._require_member(community)
        row = self.post_row(community, post)
        emoji = emoji.strip()
        if content.emoji_problem(emoji) is not None:
            raise Invalid(f"not a reaction: {emoji!r}")
        held = self.store.read_model.reactions([row.id]).get(row.id, {})
        on = self.me not in held.get(emoji, [])
        if on and sum(self.me in keys for keys in held.values()) >= content.MAX_REACTIONS_PER_POST:
            raise Invalid(f"at most {content.MAX_REACTIONS_PER_POST} reactions of yours on a post")
        community.write(self.key, self.clock(), lambda seg: seg.write_reaction(row.id, emoji, on))
        self.on_local_change(community, "doc")
        return {"reacted": on}

    # -- members ---------------------------------------------------------------

    def member_add(self, ref: str, peer: str) -> dict[str, Any]:
        community = self.community(ref)
        key = self.peer_key(peer)
        self.require_role(community, Role.ADMIN, "add members")
        if community.state.is_member(key):
            raise Invalid(f"{peer} is already a member", code="exists")
        self.append_op(community, "member_add", {"member": key})
        return {}

    def role_set(self, ref: str, peer: str, role: str, rule: str | None = None) -> dict[str, Any]:
        community = self.community(ref)
        key = self.peer_key(peer)
        if role not in ("admin", "moderator", "member"):
            raise Invalid("role must be admin, moderator or member")
        self.require_role(community, Role.ADMIN, "set roles")
        state = community.state
        if not state.is_member(key):
            raise NotFound(f"{peer} is not a member")
        if key == state.owner:
            raise Forbidden("the owner's role cannot change")
        current = state.role_of(key)
        if current is not None and current > Role[role.upper()]:
            # Before the demotion, so that every peer holding it holds the heads too:
            # what they wrote to restricted pages up to now keeps counting (issue 14).
            self.pages.record_removal(community, key)
        self.append_op(community, "role_set", cite({"member": key, "role": role}, rule))
        return {}

    def member_list(self, ref: str, online: frozenset[bytes] = frozenset()) -> dict[str, Any]:
        community = self.community(ref)
        state = community.state
        names = self.store.read_model.profiles(community.id)
        label = self.member_labels(community, names)
        now = self.clock()

        def status(member: Member) -> str:
            if member.status == "removed":
                return "removed"
            if member.timeout_until_ms is not None and member.timeout_until_ms > now:
                return "timed_out"
            return "online" if member.key in online else "offline"

        members = sorted(
            state.members.values(),
            key=lambda m: (m.status == "removed", -(state.role_of(m.key) or 0), m.joined_ms, m.key),
        )
        return {
            "members": [
                {
                    "peer_id": peer_id_from_public_key(m.key),
                    "name": (names.get(m.key) or (None, None))[0] or "",
                    "label": label[m.key],
                    "role": _role_name(state.role_of(m.key) or m.role),
                    "status": status(m),
                    "timed_out_until": m.timeout_until_ms if status(m) == "timed_out" else None,
                }
                for m in members
            ]
        }

    @staticmethod
    def member_labels(
        community: Community, names: dict[bytes, tuple[str | None, str | None]]
    ) -> dict[bytes, str]:
        """Display labels of every member (names.py): a shared or role-like name gets an id."""
        return labels(
            {key: (names.get(key) or (None, None))[0] or "" for key in community.state.members}
        )

    # -- local-only ------------------------------------------------------------

    def block(self, peer: str) -> dict[str, Any]:
        key = self.peer_key(peer)
        if key == self.me:
            raise Invalid("you cannot block yourself")
        with self.store.transaction():
            self.store.block(key)
        return {}

    def unblock(self, peer: str) -> dict[str, Any]:
        key = self.peer_key(peer)
        with self.store.transaction():
            self.store.unblock(key)
        return {}


def _check(problem: str | None) -> None:
    """A rule of content.py broken by what the user asked us to write."""
    if problem is not None:
        raise Invalid(problem)


def _clean_name(name: str, what: str) -> str:
    """A name NFKC-normalised and stripped, with no hidden characters (content.py)."""
    try:
        return content.clean_name(name, what)
    except content.ContentError as exc:
        raise Invalid(str(exc)) from exc


def _clean_text(text: str) -> str:
    if not text.strip():
        raise Invalid("empty post")
    _check(content.text_problem(text))
    return text


def _mentions(
    text: str, state: CommunityState, names: dict[bytes, tuple[str | None, str | None]]
) -> tuple[bytes, ...]:
    found = find_mentions(text, state, {key: name for key, (name, _bio) in names.items()})
    _check(content.mentions_problem(list(found)))
    return found
