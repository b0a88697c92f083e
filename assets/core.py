"""core layer: typed, canonical tables (CONTRACT.md sections 2-4)."""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

@dg.asset(
    key=["core", "events"],
    deps=[dg.AssetKey(["raw", "event_rows"])],
    group_name="core",
    kinds={"duckdb"},
    description="One accepted event per event_id: canonical stage/outcome, UTC occurred_at. "
                "Rejected rows go to quality.rejected_rows with their reason.",
)
def events(warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    settings = warehouse.settings()
    steps.build_events(settings)
    with steps.open_warehouse(settings) as con:
        by_stage = con.execute(
            "SELECT stage, count(*) FROM core.events GROUP BY stage, stage_order ORDER BY stage_order"
        ).fetchall()
        return dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.events"),
            "rejected_event_rows": con.execute(
                "SELECT count(*) FROM quality.rejected_rows WHERE kind = 'events'").fetchone()[0],
            "events_by_stage": dg.MetadataValue.md(markdown_table(["stage", "events"], by_stage)),
        })

@dg.asset(
    key=["core", "applicants"],
    deps=[dg.AssetKey(["raw", "applicant_rows"])],
    group_name="core",
    kinds={"duckdb"},
    description="One row per person (latest file wins) with raw values and canonical groups.",
)
def applicants(warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    settings = warehouse.settings()
    steps.build_applicants(settings)
    with steps.open_warehouse(settings) as con:
        return dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.applicants"),
            "applicants_with_unrecognised_values": con.execute(
                "SELECT count(*) FROM core.applicants WHERE unrecognised IS NOT NULL").fetchone()[0],
        })

@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["core", "stage_outcomes"],
            deps=[dg.AssetKey(["core", "events"])],
            description="Outcome of each application at each stage: its latest accepted event.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            ["core", "applications"],
            deps=[dg.AssetKey(["core", "stage_outcomes"]), dg.AssetKey(["core", "applicants"])],
            description="One row per application: stage outcomes side by side, groups, "
                        "in-funnel flag, out-of-sequence count.",
            kinds={"duckdb"},
        ),
    ],
    group_name="core",
    can_subset=False,
)
def stage_outcomes(warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    steps.build_outcomes(settings)
    with steps.open_warehouse(settings) as con:
        yield dg.MaterializeResult(
            asset_key=["core", "stage_outcomes"],
            metadata={"dagster/row_count": row_count(con, "core.stage_outcomes")})
        funnel, orphans, out_of_sequence = con.execute(
            "SELECT count(*) FILTER (WHERE in_funnel), count(*) FILTER (WHERE NOT in_funnel), "
            "count(*) FILTER (WHERE in_funnel AND out_of_sequence_stages > 0) FROM core.applications"
        ).fetchone()
        yield dg.MaterializeResult(
            asset_key=["core", "applications"],
            metadata={
                "dagster/row_count": row_count(con, "core.applications"),
                "applications_in_funnel": funnel,
                "orphan_applications": orphans,
                "applications_out_of_sequence": out_of_sequence,
            })
