"""Files attached to posts: content ids, manifests, content sniffing, image metadata.

Pure functions over bytes and file paths; the chunk files live in
`storage/blob_store.py`, the transfer in `net/blobs.py`, the commands in
`sync/files.py`.
"""
