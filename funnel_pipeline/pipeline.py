"""Every step in order, without Dagster: for tests, the benchmark and the profiler.

The Dagster assets call the same step functions in the same order (and validate between
them); this is the shortest path from a landing folder to published tables.
"""

from __future__ import annotations

from funnel_pipeline import core, marts
from funnel_pipeline.publish import publication, summary, workbook
from funnel_pipeline.raw import IngestSummary, ingest
from funnel_pipeline.settings import Settings


def run_all(settings: Settings, run_id: str | None = None) -> IngestSummary:
    """Configuration → raw → core → marts → summary → publication and its export."""
    core.apply_configuration(settings, run_id)
    ingested = ingest(settings, run_id)
    core.build_events(settings)
    core.build_applicants(settings)
    core.build_optional(settings)
    core.build_outcomes(settings)
    marts.build_marts(settings)
    summary.write_summary(settings)
    publication.build_publication(settings)
    workbook.export_publication(settings)
    return ingested
