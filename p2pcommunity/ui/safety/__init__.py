"""The app's side of issue 16: moderation queue, moderation log, appeals, context notes,
report categories, the community policy and watched words, personal safety.

Each dialog is a client of the node's safety commands (CLI.md "Safety",
docs/cli-additions.md) and nothing else: the node decides, the app shows.
`hooks.py` is the only module the rest of the app calls.
"""
