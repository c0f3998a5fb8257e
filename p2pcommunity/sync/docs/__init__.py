"""Member documents: signed Automerge segments, verified before Automerge sees a byte."""
