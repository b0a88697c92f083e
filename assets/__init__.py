"""Dagster asset definitions, one module per layer (installed as `funnel_pipeline.assets`)."""
