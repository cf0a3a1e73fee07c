"""MLflow layout of a study: one experiment, a study run, nested task and trial runs."""
