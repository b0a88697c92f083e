"""core layer: typed, canonical tables (docs/CONTRACT.md sections 2-4, 6, 8, 9).

Each asset calls its step (funnel_pipeline/core.py, one SQL file per table in sql/core/),
validates the rows the step touched (expectations/core_*.json) and reports aggregates.
"""

import dagster as dg

from funnel_pipeline import core
from funnel_pipeline.metadata import row_count
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse

from .config import FUNNEL

#: why a blocking check failure stops the run here (shown in the failure message)
_BLOCKED = "Downstream assets (and the marts) are not rebuilt until a run passes these checks."


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["core", table])


@dg.asset(
    key=_key("events"),
    deps=[dg.AssetKey(["raw", "event_rows"]), FUNNEL],
    group_name="core",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="One accepted event per event_id: canonical stage/outcome, UTC occurred_at. "
                "Rejected rows go to quality.rejected_rows with their reason.",
    check_specs=checks.check_specs_for(_key("events")),
)
def events(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    core.build_events(settings)
    results = checks.run_checks(settings, [_key("events")], context.run.run_id, log=context.log)
    with warehouse.open(read_only=True) as con:
        by_stage = con.execute(
            "SELECT s.stage, count(e.event_id) FROM config.stages AS s "
            "LEFT JOIN core.events AS e USING (stage_order) GROUP BY s.stage, s.stage_order "
            "ORDER BY s.stage_order").fetchall()
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.events"),
            "rejected_event_rows": con.execute(
                "SELECT count(*) FROM quality.rejected_rows WHERE kind = 'events'").fetchone()[0],
            **{f"events_at_{stage}": count for stage, count in by_stage},
        }, check_results=checks.check_results(results))
    checks.raise_if_blocking(results, settings, _BLOCKED)


@dg.asset(
    key=_key("applicants"),
    deps=[dg.AssetKey(["raw", "applicant_rows"]), FUNNEL],
    group_name="core",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="One row per person (latest file wins): the groups of every configured "
                "characteristic read from its column, raw values kept.",
    check_specs=checks.check_specs_for(_key("applicants")),
)
def applicants(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    core.build_applicants(settings)
    results = checks.run_checks(settings, [_key("applicants")], context.run.run_id,
                                log=context.log)
    with warehouse.open(read_only=True) as con:
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "core.applicants"),
            "applicants_with_unrecognised_values": con.execute(
                "SELECT count(*) FROM core.applicants WHERE len(unrecognised) > 0").fetchone()[0],
        }, check_results=checks.check_results(results))
    checks.raise_if_blocking(results, settings, _BLOCKED)


_OUTCOME_KEYS = [_key("stage_outcomes"), _key("applications")]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key("stage_outcomes"), deps=[_key("events")], kinds={"duckdb"},
            description="Outcome of each application at each configured stage: its latest "
                        "accepted event (sql/core/stage_outcomes.sql)."),
        dg.AssetSpec(
            _key("applications"), deps=[_key("stage_outcomes"), _key("applicants")],
            kinds={"duckdb"},
            description="One row per application: outcomes by stage, groups by characteristic "
                        "(age bands at the application's date), in-funnel flag, application "
                        "year, out-of-sequence count (sql/core/applications.sql)."),
    ],
    check_specs=checks.check_specs_for(*_OUTCOME_KEYS),
    group_name="core",
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def stage_outcomes(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    core.build_outcomes(settings)
    results = checks.run_checks(settings, _OUTCOME_KEYS, context.run.run_id, log=context.log)
    with warehouse.open(read_only=True) as con:
        yield dg.MaterializeResult(
            asset_key=_OUTCOME_KEYS[0],
            metadata={"dagster/row_count": row_count(con, "core.stage_outcomes")},
            check_results=checks.check_results(results, _OUTCOME_KEYS[0]))
        funnel, orphans, out_of_sequence = con.execute(
            "SELECT count(*) FILTER (WHERE in_funnel), count(*) FILTER (WHERE NOT in_funnel), "
            "count(*) FILTER (WHERE in_funnel AND out_of_sequence_stages > 0) FROM core.applications"
        ).fetchone()
        yield dg.MaterializeResult(
            asset_key=_OUTCOME_KEYS[1],
            metadata={
                "dagster/row_count": row_count(con, "core.applications"),
                "applications_in_funnel": funnel,
                "orphan_applications": orphans,
                "applications_out_of_sequence": out_of_sequence,
            },
            check_results=checks.check_results(results, _OUTCOME_KEYS[1]))
    checks.raise_if_blocking(results, settings, _BLOCKED)


_OPTIONAL_DESCRIPTIONS = {
    "campaigns": "One accepted row per campaign_id with its entry route (docs/CONTRACT.md "
                 "section 6); applications of campaigns without one have entry route 'Unknown'.",
    "population": "One accepted population share per characteristic and canonical group.",
    "interventions": "One accepted positive-action intervention per intervention_id "
                     "(stage / campaign blank = every stage / campaign).",
    "leavers": "One accepted leavers row per person and leaving date as delivered "
               "(docs/CONTRACT.md section 9); the reason is kept, never published.",
}
_RAW_OF = {"campaigns": "campaign_rows", "population": "population_rows",
           "interventions": "intervention_rows", "leavers": "leaver_rows"}
_OPTIONAL_KEYS = [_key(table) for table in core.OPTIONAL_INPUTS]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(_key(table), deps=[dg.AssetKey(["raw", _RAW_OF[table]]), FUNNEL],
                     description=_OPTIONAL_DESCRIPTIONS[table], kinds={"duckdb"})
        for table in core.OPTIONAL_INPUTS
    ],
    check_specs=checks.check_specs_for(*_OPTIONAL_KEYS),
    group_name="core",
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def optional_inputs(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    """The optional inputs: rows rejected with a reason like event rows (incremental)."""
    settings = warehouse.settings()
    core.build_optional(settings)
    results = checks.run_checks(settings, _OPTIONAL_KEYS, context.run.run_id, log=context.log)
    with warehouse.open(read_only=True) as con:
        for table in core.OPTIONAL_INPUTS:
            yield dg.MaterializeResult(
                asset_key=_key(table),
                metadata={
                    "dagster/row_count": row_count(con, f"core.{table}"),
                    "rejected_rows": con.execute(
                        "SELECT count(*) FROM quality.rejected_rows WHERE kind = ?", [table]
                    ).fetchone()[0],
                },
                check_results=checks.check_results(results, _key(table)))
    checks.raise_if_blocking(results, settings, _BLOCKED)
