"""Forum and Q&A channels, topics and wiki pages in the app (issue 14).

pane.py is the one entry point the chat page knows; session.py what the views
share; topic_list.py, topic_page.py, pages.py, history.py and dialogs.py the
views; markdown.py the safe Markdown rendering they all use.
"""
