"""Screenshots of issue 16 in the app: the moderation queue, the moderation log, an appeal
and its outcome, a context note under a post.

Run under Xvfb (real X11 rendering, fonts and all):

    xvfb-run -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python docs/screenshots/safety_screenshots.py

Three apps on temporary data dirs (three real nodes on 127.0.0.1): Alice owns
"Climbing club", Bob and Carol are members. Carol posts spam, a false claim and
an insult; Bob reports them; Alice watches a word that holds Carol's raffle,
works the queue, notes the false claim, hides the insult; Carol appeals and
Alice reverses it. Then Bob mutes #offtopic (dimmed in his sidebar, no badge,
while #gear keeps its badge), mutes a word and blocks Carol: his "Mute words
and channels" dialog lists her. Every node is stopped at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QTreeWidgetItem
from timeline_screenshots import LOCAL, call, grab, qt, spin, start, tear_down, wait

from p2pcommunity.ui.app import App
from p2pcommunity.ui.safety.appeals import AppealsDialog
from p2pcommunity.ui.safety.modlog import AppealDialog
from p2pcommunity.ui.safety.policy import PolicyDialog
from p2pcommunity.ui.theme import apply_theme


def front(app: App, *others: App) -> None:
    for other in others:
        other.window.hide()  # no window manager places them: one at a time
    app.window.show()
    app.window.raise_()
    app.window.activateWindow()
    spin(500)


def main() -> None:
    apply_theme(qt, False)
    tmp = Path(tempfile.mkdtemp(prefix="p2pc-safety-shots-"))
    apps = alice, bob, carol = tuple(App(tmp / n, LOCAL) for n in ("alice", "bob", "carol"))
    try:
        for app, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
            start(app, name)
        cid = call(alice, "community create", {"name": "Climbing club"})["community_id"]
        call(alice, "rules set", {"community": cid, "text": "Be kind.\nNo adverts."})
        addr = call(alice, "whoami", {})["addrs"][0]
        for member in (bob, carol):
            call(alice, "member add", {"community": cid, "peer": member.peer_id})
            call(member, "join", {"community": cid, "bootstrap": [addr], "timeout": 30})
            call(member, "rules accept", {"community": cid})
            member.chat.refresh_communities(select=cid)
        alice.chat.refresh_communities(select=cid)
        for app in apps:
            wait(lambda a=app: bool(a.chat.channel), what="general")
        general = alice.chat.channel

        def post(app: App, text: str, reply_to: str | None = None) -> str:
            params = {"community": cid, "channel": general, "text": text, "reply_to": reply_to}
            return str(call(app, "post", {k: v for k, v in params.items() if v})["post_id"])

        def seen(app: App, post_id: str) -> None:
            wait(
                lambda: any(
                    p["id"] == post_id
                    for p in call(app, "read", {"community": cid, "channel": general})["posts"]
                ),
                what="sync",
            )

        welcome = post(alice, "Welcome! Rope check before every climb, please.")
        post(bob, "Anyone up for the north face on Saturday?")
        spam = post(carol, "Buy cheap ropes at ropes-discount.example, 80% off!!")
        chalk = post(carol, "Chalk causes lung damage. Never use it indoors.")
        insult = post(carol, "@Bob you climb like a sack of potatoes", reply_to=welcome)
        for p in (spam, chalk, insult):
            seen(bob, p)
        seen(alice, chalk)
        for who, p, reason, category in (
            (bob, spam, "An advert", "spam"),
            (alice, chalk, "This is not true", "misinformation"),
            (bob, insult, "Rude to me", "harassment"),
        ):
            params = {"community": cid, "post": p, "reason": reason, "category": category}
            call(who, "report", params)
        call(alice, "words add", {"community": cid, "word": "raffle", "action": "hold"})
        call(alice, "channel create", {"community": cid, "name": "gear"})
        wait(
            lambda: (
                "gear"
                in [c["name"] for c in call(carol, "channel list", {"community": cid})["channels"]]
            ),
            what="log",
        )
        raffle = post(carol, "Join my raffle for a free harness, DM me")
        wait(
            lambda: len(call(alice, "reports", {"community": cid})["reports"]) == 3, what="reports"
        )
        seen(alice, insult)
        wait(lambda: bool(call(alice, "pending", {"community": cid})["posts"]), what="held")
        del raffle

        # 1. The moderation queue page, with the misinformation report selected
        front(alice, bob, carol)
        alice.chat.on_community_changed(cid, "shots")
        wait(lambda: alice.chat.safety_pages.queue_badge.text() == "4", what="queue badge")
        alice.banner.hide()  # Carol's reply to Bob's thread, from before
        alice.chat.safety_pages.show_queue()
        queue = alice.chat.safety_pages.queue
        wait(lambda: queue.reports.topLevelItemCount() == 3, what="queue")
        wait(lambda: queue.pending.topLevelItemCount() == 1, what="queue pending")
        chalk_item = next(
            queue.reports.topLevelItem(i)
            for i in range(3)
            if queue.reports.topLevelItem(i).text(0) == "Misinformation"
        )
        queue.reports.setCurrentItem(chalk_item)
        wait(lambda: "Chalk" in queue.context.toPlainText(), what="context")
        spin(300)
        grab(alice.window, "safety-queue.png")
        alice.chat.safety_pages.back()
        settings = alice.chat.menus.safety.open_policy()
        assert isinstance(settings, PolicyDialog)
        wait(lambda: "general" in settings.slow, what="policy form")
        settings.slow["general"].setValue(30)
        grab(settings, "safety-policy.png")
        settings.tabs.setCurrentIndex(1)
        wait(lambda: settings.words.topLevelItemCount() == 1, what="words")
        grab(settings, "safety-words.png")
        settings.close()
        front(bob, alice, carol)
        report = bob.chat.menus.safety.report({"id": welcome})
        grab(report, "safety-report.png")
        report.close()
        front(alice, bob, carol)

        # Alice acts: a note under the false claim, the insult hidden, Carol timed out
        note = "Climbing chalk is magnesium carbonate; studies find no lung harm at gym levels."
        call(alice, "note", {"community": cid, "post": chalk, "text": note})
        call(
            alice,
            "hide",
            {"community": cid, "post": insult, "reason": "Insulting a member", "rule": "Be kind."},
        )
        call(
            alice,
            "timeout",
            {"community": cid, "peer": carol.peer_id, "duration": "1h", "rule": "No adverts."},
        )
        call(alice, "approve", {"community": cid, "post": queue_held(alice, cid)})

        # 2. The note under the post, in Bob's timeline
        front(bob, alice, carol)
        bob.chat.on_community_changed(cid, "shots")
        wait(lambda: any(r.get("note") for r in bob.chat.timeline.rows()), what="note in timeline")
        spin(800)
        bob.banner.hide()  # Carol's mention of Bob, from before
        grab(bob.window, "safety-note.png")

        # 3. The moderation log, as every member sees it (Carol's: her entries are "you")
        front(carol, alice, bob)
        wait(lambda: len(call(carol, "modlog", {"community": cid})["entries"]) >= 4, what="modlog")
        carol.chat.safety_pages.show_modlog()
        log = carol.chat.safety_pages.modlog
        wait(lambda: log.view.topLevelItemCount() >= 4, what="log rows")
        wait(
            lambda: any(
                log.view.topLevelItem(i).text(3) == "your message"
                for i in range(log.view.topLevelItemCount())
            ),
            what="her message",
        )
        hide = next(
            log.view.topLevelItem(i)
            for i in range(log.view.topLevelItemCount())
            if log.view.topLevelItem(i).text(2) == "hid a message"
        )
        log.view.setCurrentItem(hide)
        spin(300)
        grab(carol.window, "safety-modlog.png")

        # 4. Carol's appeal, then Alice's list of appeals, then the outcome Carol is told
        appeal = log.open_appeal()
        assert isinstance(appeal, AppealDialog)
        appeal.text.setPlainText(
            "It was a joke between friends, Bob and I climb together every week. "
            "I apologised to him already."
        )
        grab(appeal, "safety-appeal.png")
        appeal.send()
        wait(lambda: log.status.text().startswith("Appeal sent"), what="appeal sent")
        carol.chat.safety_pages.back()
        wait(lambda: bool(call(alice, "appeals", {"community": cid})["appeals"]), what="appeal")
        front(alice, bob, carol)
        appeals = alice.chat.menus.safety.open_appeals()
        assert isinstance(appeals, AppealsDialog)
        appeals.resize(900, 480)
        wait(lambda: appeals.view.topLevelItemCount() == 1, what="appeals")
        grab(appeals, "safety-appeals.png")
        appeals.close()
        appeal_id = call(alice, "appeals", {"community": cid})["appeals"][0]["id"]
        call(
            alice,
            "appeal resolve",
            {
                "community": cid,
                "appeal": appeal_id,
                "outcome": "reverse",
                "note": "Fair enough; keep it friendly in public.",
            },
        )
        front(carol, alice, bob)
        watcher = carol.chat.menus.safety.outcomes
        wait(lambda: bool(watcher.notices), what="outcome notice")
        spin(300)
        carol.banner.raise_()
        grab(carol.window, "safety-appeal-outcome.png")
        carol.banner.hide()
        carol.chat.safety_pages.show_modlog()
        wait(lambda: log.view.topLevelItemCount() >= 6, what="log with outcome")

        def hide_entry() -> QTreeWidgetItem:  # found afresh: the page reloads on sync events
            return next(
                log.view.topLevelItem(i)
                for i in range(log.view.topLevelItemCount())
                if log.view.topLevelItem(i).text(2) == "hid a message"
            )

        wait(lambda: hide_entry().text(6) == "Reversed", what="the outcome on the entry")
        log.view.setCurrentItem(hide_entry())
        spin(300)
        grab(carol.window, "safety-modlog-outcome.png")
        carol.chat.safety_pages.back()
        personal_shots(alice, bob, carol, cid)
    finally:
        for app in apps:
            app.shutdown()
        wait(lambda: not any(a.node.stopping for a in apps), 20, "nodes to stop")
        tear_down(apps)
        shutil.rmtree(tmp, ignore_errors=True)


def personal_shots(alice: App, bob: App, carol: App, cid: str) -> None:
    """Bob's own mutes and blocks (this device only): the sidebar and the dialog."""
    call(alice, "channel create", {"community": cid, "name": "offtopic"})
    for channel, text in (("gear", "New rope in the club locker"), ("offtopic", "Cat pics!")):
        for _ in range(3):
            call(alice, "post", {"community": cid, "channel": channel, "text": text})

    def unread(channel: str) -> int:
        listed = call(bob, "channel list", {"community": cid})["channels"]
        return int(next((c["unread"] for c in listed if c["name"] == channel), 0))

    wait(lambda: unread("gear") >= 3 and unread("offtopic") == 3, what="sync")
    call(bob, "channel mute", {"community": cid, "channel": "offtopic"})
    call(bob, "mute add", {"word": "spoilers"})
    call(bob, "block", {"peer": carol.peer_id})
    front(bob, alice, carol)
    bob.chat.reload_timeline()
    bob.chat.on_community_changed(cid, "shots")  # a mute is local: no sync event says so
    wait(lambda: any(r.get("muted") for r in bob.chat.channels.rows()), what="sidebar muted")
    spin(500)
    grab(bob.window, "safety-muted-channel.png")
    dialog = bob.chat.menus.safety.open_mutes()
    wait(lambda: dialog.blocked.count() == 1, what="blocked list")
    dialog.blocked.setCurrentRow(0)
    spin(300)
    grab(dialog, "safety-mutes-blocked.png")
    dialog.close()


def queue_held(alice: App, cid: str) -> str:
    return str(call(alice, "pending", {"community": cid})["posts"][0]["id"])


if __name__ == "__main__":
    main()
