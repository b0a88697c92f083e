"""Charts of the recruitment funnel: figures, PNGs for Dagster, an offline HTML report."""
