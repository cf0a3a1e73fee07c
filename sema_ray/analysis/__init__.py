"""Statistics, plots and tables over the results of a study."""
