"""The community log: signed ops in a hash DAG, what each op means, and the fold."""
