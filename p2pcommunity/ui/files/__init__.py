"""Files in the app (issue 15): attaching in the composer, attachments in the timeline.

attach.py      the chips of every surface that attaches (composers, New topic/page, replies,
               the page editor): paperclip, drop, paste, the node's size limit and progress
images.py      decoding an image within size and allocation limits (bombs, broken files)
area.py        geometry and painting of a post's attachments, for ui/delegate.py
transfers.py   fetches, saves, progress (the `blob_progress` events) and the status bar
viewer.py      the full image, in a dialog
strip.py       area.py's painting as a widget, for the topic page and the wiki
"""
