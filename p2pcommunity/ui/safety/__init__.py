"""The app's side of issue 16: moderation queue, moderation log, appeals, context notes,
report categories, the community policy and watched words, personal safety.

Each dialog and page is a client of the node's safety commands (CLI.md
"Safety", docs/cli-additions.md) and nothing else: the node decides, the app
shows. The rest of the app calls two modules only: `hooks.py` (menus,
composer, notices) and `pane.py` (the log and queue as pages of the community).
"""
