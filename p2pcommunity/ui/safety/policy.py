"""Community policy (admins) and watched words (moderators), in one dialog of two tabs.

The policy tab shows `policy show` as a form (slow mode per channel, the rate
limit, mention and link limits, probation and whether new members' posts wait
for approval); Save sends one `policy set` per changed key, in order, and
stops at the first refusal. Everyone can read the policy; the form is
editable for admins only. The words tab lists `words list` (moderators only:
the list is sealed, so it does not advertise the words) and adds or removes
a word with its action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from p2pcommunity.ui.actions import ADMINS, MODERATORS
from p2pcommunity.ui.client import ControlClient
from p2pcommunity.ui.safety.common import Row, SafetyDialog, add_row, row_of, tree

WORD_ACTIONS = (
    ("block", "Block: refuse the message"),
    ("hold", "Hold for approval"),
    ("flag", "Flag for the moderation queue"),
)
COUNT_KEYS = (
    ("posts_per_minute", "rate.posts_per_minute", "Posts per minute per member"),
    ("max_mentions", "max_mentions", "Mentions per post"),
    ("max_links", "max_links", "Links per post"),
)


def _spin(maximum: int, off: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(off, maximum)
    spin.setSpecialValueText("Off")
    spin.setSuffix(suffix)
    return spin


class PolicyDialog(SafetyDialog):
    def __init__(
        self,
        client: ControlClient,
        community: str,
        role: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(client, community, "Safety settings", parent)
        self.resize(620, 520)
        self.is_admin = role in ADMINS
        self.is_moderator = role in MODERATORS
        self.loaded: dict[str, str] = {}  # policy set key -> value as last shown
        self.tabs = QTabWidget()
        self.body.addWidget(self.tabs, 1)
        self._build_policy_tab()
        if self.is_moderator:
            self._build_words_tab()
        self.reload()

    # ------------------------------------------------------------------ policy

    def _build_policy_tab(self) -> None:
        page = QWidget()
        form = QFormLayout()
        self.slow_form = QFormLayout()
        self.slow: dict[str, QSpinBox] = {}  # channel name -> seconds
        self.counts: dict[str, QSpinBox] = {}
        for _field, key, label in COUNT_KEYS:
            spin = _spin(1000, -1)
            spin.setAccessibleName(label)
            self.counts[key] = spin
            form.addRow(label + ":", spin)
        self.probation = _spin(24 * 90, 0, " h")
        self.probation.setAccessibleName("Probation for new members")
        form.addRow("Probation for new members:", self.probation)
        self.hold = QCheckBox("Hold new members' posts for approval during probation")
        form.addRow("", self.hold)
        note = QLabel(
            "Every member's app enforces these rules, and every peer hides what breaks them. "
            "A change applies to posts written after it."
        )
        note.setWordWrap(True)
        note.setObjectName("muted")
        self.save_button = QPushButton("Save policy")
        self.save_button.clicked.connect(self.save)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("<b>Slow mode</b> (at most one post per member per …)"))
        layout.addLayout(self.slow_form)
        layout.addWidget(QLabel("<b>Limits</b>"))
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addStretch(1)
        layout.addWidget(self.save_button)
        if not self.is_admin:
            self.save_button.hide()
            layout.insertWidget(0, QLabel("Only admins can change the policy."))
        self.tabs.addTab(page, "Policy")

    def reload(self) -> None:
        self.status.setText("Loading…")

        def channels(result: Row) -> None:
            names = [c["name"] for c in result.get("channels", [])]
            self.ask("policy show", {}, lambda policy: self._show_policy(names, policy))

        self.ask("channel list", {}, channels)
        if self.is_moderator:
            self.ask("words list", {}, self._show_words)

    def _show_policy(self, channels: list[str], policy: Row) -> None:
        while self.slow_form.rowCount():
            self.slow_form.removeRow(0)
        self.slow = {}
        for name in channels:
            spin = _spin(24 * 3600, 0, " s")
            spin.setAccessibleName(f"Slow mode in #{name}")
            spin.setValue(int(policy.get("slow_mode", {}).get(name) or 0))
            self.slow[name] = spin
            self.slow_form.addRow(f"#{name}:", spin)
        for field, key, _label in COUNT_KEYS:
            value = policy.get(field)
            self.counts[key].setValue(-1 if value is None else int(value))
        self.probation.setValue(int(policy.get("probation_s") or 0) // 3600)
        self.hold.setChecked(bool(policy.get("probation_hold")))
        for widget in (*self.slow.values(), *self.counts.values(), self.probation, self.hold):
            widget.setEnabled(self.is_admin)
        self.loaded = self._wanted()
        self.status.setText(f"Policy version {policy.get('version') or 0}.")

    def _wanted(self) -> dict[str, str]:
        out = {
            f"slow_mode.{name}": f"{s.value()}s" if s.value() else "off"
            for name, s in self.slow.items()
        }
        for key, spin in self.counts.items():
            out[key] = str(spin.value()) if spin.value() >= 0 else "off"
        out["probation"] = f"{self.probation.value()}h" if self.probation.value() else "off"
        out["probation.hold"] = "on" if self.hold.isChecked() else "off"
        return out

    def save(self) -> None:
        changes = [(k, v) for k, v in self._wanted().items() if self.loaded.get(k) != v]
        if not changes:
            self.status.setText("Nothing changed.")
            return
        self.save_button.setEnabled(False)
        self._send(changes)

    def _send(self, changes: list[tuple[str, str]]) -> None:
        if not changes:
            self.save_button.setEnabled(True)
            self.status.setText("Policy saved. Every member's app applies it from now on.")
            self.changed.emit()
            self.reload()
            return
        (key, value), rest = changes[0], changes[1:]

        def failed(message: str, code: str) -> None:
            self.save_button.setEnabled(True)
            self.fail(message, code)

        self.request(
            "policy set",
            {"community": self.community, "key": key, "value": value},
            lambda _r: self._send(rest),
            failed,
        )

    # ------------------------------------------------------------------ words

    def _build_words_tab(self) -> None:
        page = QWidget()
        self.words = tree(["Word or phrase", "Action"], "Watched words")
        self.words.setColumnWidth(0, 300)
        self.words.currentItemChanged.connect(self._update_word_buttons)
        self.word = QLineEdit()
        self.word.setPlaceholderText("A word or a phrase of up to 4 words")
        self.word.setAccessibleName("New watched word")
        self.word.returnPressed.connect(self.add_word)
        self.action = QComboBox()
        for value, label in WORD_ACTIONS:
            self.action.addItem(label, value)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_word)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_word)
        adding = QHBoxLayout()
        adding.addWidget(self.word, 1)
        adding.addWidget(self.action)
        adding.addWidget(self.add_button)
        info = QLabel(
            "Matching ignores case, accents, full-width letters, look-alike letters and "
            "digits used as letters. Only moderators and admins can read this list."
        )
        info.setWordWrap(True)
        info.setObjectName("muted")
        layout = QVBoxLayout(page)
        layout.addWidget(self.words, 1)
        layout.addWidget(self.remove_button)
        layout.addLayout(adding)
        layout.addWidget(info)
        self.tabs.addTab(page, "Watched words")
        self._update_word_buttons()

    def _show_words(self, result: Row) -> None:
        self.words.clear()
        labels = dict(WORD_ACTIONS)
        for word in result.get("words", []):
            shown = word.get("word") or "(added before you were a moderator)"
            add_row(self.words, [shown, labels.get(word.get("action"), "")], word)
        self._update_word_buttons()

    def _update_word_buttons(self, *_args: object) -> None:
        self.remove_button.setEnabled(bool(row_of(self.words.currentItem()).get("word")))

    def add_word(self) -> None:
        word = self.word.text().strip()
        if not word:
            return
        action = str(self.action.currentData())
        self.job(
            "words add",
            {"word": word, "action": action},
            f"Watching “{word}”.",
            self._words_changed(self.word.clear),
        )

    def remove_word(self) -> None:
        word = row_of(self.words.currentItem()).get("word")
        if word:
            self.job(
                "words remove",
                {"word": word},
                f"No longer watching “{word}”.",
                self._words_changed(),
            )

    def _words_changed(self, first: Callable[[], Any] | None = None) -> Callable[[], None]:
        def then() -> None:
            if first is not None:
                first()
            self.ask("words list", {}, self._show_words)

        return then
