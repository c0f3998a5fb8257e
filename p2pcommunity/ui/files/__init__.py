"""Files in the app (issue 15): attaching in the composer, attachments in the timeline.

attach.py      the composer's tray: paperclip, drop, paste, chips; the node's size limit
images.py      decoding an image within size and allocation limits (bombs, broken files)
area.py        geometry and painting of a post's attachments, for ui/delegate.py
transfers.py   fetches, saves, progress (the `blob_progress` events) and the status bar
viewer.py      the full image, in a dialog
"""
