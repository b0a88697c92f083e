"""core layer: typed, canonical tables (CONTRACT.md sections 2-4)."""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

#: why a blocking check failure stops the run here (shown in the failure message)
_BLOCKED = "Downstream assets (and the marts) are not rebuilt until a run passes these checks."

@dg.asset(
    key=["core", "events"],
    deps=[dg.AssetKey(["raw", "event_rows"])],
    group_name="core",
    kinds={"duckdb"},
    description="One accepted event per event_id: canonical stage/outcome, UTC occurred_at. "
                "Rejected rows go to quality.rejected_rows with their reason.",
    check_specs=checks.check_specs_for(dg.AssetKey(["core", "events"])),
)
def events(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    steps.build_events(settings)
    results = checks.run_checks(settings, [dg.AssetKey(["core", "events"])], context.run.run_id,
                                log=context.log)
    with steps.open_warehouse(settings) as con:
        by_stage = con.execute(
            "SELECT stage, count(*) FROM core.events GROUP BY stage, stage_order ORDER BY stage_order"
        ).fetchall()
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.events"),
            "rejected_event_rows": con.execute(
                "SELECT count(*) FROM quality.rejected_rows WHERE kind = 'events'").fetchone()[0],
            "events_by_stage": dg.MetadataValue.md(markdown_table(["stage", "events"], by_stage)),
        }, check_results=checks.check_results(results))
    checks.raise_if_blocking(results, settings, _BLOCKED)

@dg.asset(
    key=["core", "applicants"],
    deps=[dg.AssetKey(["raw", "applicant_rows"])],
    group_name="core",
    kinds={"duckdb"},
    description="One row per person (latest file wins) with raw values and canonical groups.",
    check_specs=checks.check_specs_for(dg.AssetKey(["core", "applicants"])),
)
def applicants(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    steps.build_applicants(settings)
    results = checks.run_checks(settings, [dg.AssetKey(["core", "applicants"])], context.run.run_id,
                                log=context.log)
    with steps.open_warehouse(settings) as con:
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.applicants"),
            "applicants_with_unrecognised_values": con.execute(
                "SELECT count(*) FROM core.applicants WHERE unrecognised IS NOT NULL").fetchone()[0],
        }, check_results=checks.check_results(results))
    checks.raise_if_blocking(results, settings, _BLOCKED)

_OUTCOME_KEYS = [dg.AssetKey(["core", "stage_outcomes"]), dg.AssetKey(["core", "applications"])]


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
    check_specs=checks.check_specs_for(*_OUTCOME_KEYS),
    group_name="core",
    can_subset=False,
)
def stage_outcomes(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    steps.build_outcomes(settings)
    results = checks.run_checks(settings, _OUTCOME_KEYS, context.run.run_id, log=context.log)
    with steps.open_warehouse(settings) as con:
        yield dg.MaterializeResult(
            asset_key=["core", "stage_outcomes"],
            metadata={"dagster/row_count": row_count(con, "core.stage_outcomes")},
            check_results=checks.check_results(results, _OUTCOME_KEYS[0]))
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
            },
            check_results=checks.check_results(results, _OUTCOME_KEYS[1]))
    checks.raise_if_blocking(results, settings, _BLOCKED)


_OPTIONAL_DESCRIPTIONS = {
    "campaigns": "One accepted row per campaign_id with its entry route (CONTRACT.md section 6); "
                 "applications of campaigns without one have entry route 'Unknown'.",
    "population": "One accepted population share per characteristic and canonical group.",
    "interventions": "One accepted positive-action intervention per intervention_id "
                     "(stage / campaign blank = every stage / campaign).",
}
_RAW_OF = {"campaigns": "campaign_rows", "population": "population_rows",
           "interventions": "intervention_rows"}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["core", table], deps=[dg.AssetKey(["raw", _RAW_OF[table]])],
                     description=_OPTIONAL_DESCRIPTIONS[table], kinds={"duckdb"})
        for table in steps.OPTIONAL_CORE
    ],
    group_name="core",
    can_subset=False,
)
def optional_inputs(warehouse: FunnelWarehouse):
    """The optional inputs: rows rejected with a reason like event rows (incremental)."""
    settings = warehouse.settings()
    steps.build_optional(settings)
    with steps.open_warehouse(settings, read_only=True) as con:
        for table in steps.OPTIONAL_CORE:
            yield dg.MaterializeResult(
                asset_key=["core", table],
                metadata={
                    "dagster/row_count": row_count(con, f"core.{table}"),
                    "rejected_rows": con.execute(
                        "SELECT count(*) FROM quality.rejected_rows WHERE kind = ?", [table]
                    ).fetchone()[0],
                })
