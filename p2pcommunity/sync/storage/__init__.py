"""SQLite: the replicated data, the read models projected from it, migrations."""
