"""marts layer: what recruitment leads and auditors read (CONTRACT.md sections 5 and 7).

Marts are built in the `staging` schema and swapped into `marts` in one transaction,
so readers never see a half-built table and a failed run leaves yesterday's. Between
the two, the staging tables are validated (expectations/mart_*.json, one Dagster check
per expectation); a blocking failure fails the step and nothing is swapped in. One
multi-asset builds them all (one metric definition, one publish); each table is its own
asset with aggregate-only metadata.
"""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.publish import summary
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

_CORE_DEPS = {
    "stage_durations": ["applications"],
    "representation": ["applications", "population"],
    "intervention_effects": ["applications", "interventions", "stage_outcomes"],
}
_PASS_RATE_DEPS = ["applications", "campaigns"]
_DESCRIPTIONS = {
    "stage_pass_rates": "Pass rates per stage by protected characteristic with Wilson intervals, "
                        "adverse-impact ratios and Fisher exact tests (CONTRACT.md section 5).",
    "stage_pass_rates_by_campaign": "The section 5 metrics within each campaign (with its entry route).",
    "stage_pass_rates_by_entry_route": "The section 5 metrics within each entry route "
                                       "('Unknown' = campaign without a campaigns row).",
    "intersectional_stage_pass_rates": "The section 5 metrics for pairs of sex, ethnic minority, "
                                       "disability and LGBT+ (e.g. 'Female x Yes').",
    "drop_out_points": "Every flagged row of the four pass-rate tables, with expected passes at "
                       "parity, shortfall and Holm-adjusted p-values; largest shortfall first.",
    "stage_durations": "Median and 90th-percentile days from passing one stage to the outcome "
                       "of the next, by group.",
    "representation": "Applicant and appointed shares of each stated group against its share of "
                      "the local working-age population.",
    "intervention_effects": "Pass rates before and after each positive-action intervention, by "
                            "stage and group, with Fisher exact tests.",
}


MART_KEYS = [dg.AssetKey(["marts", mart]) for mart in steps.MARTS]


def _deps(mart: str) -> list[dg.AssetKey]:
    if mart == "drop_out_points":
        return [dg.AssetKey(["marts", m]) for m in steps.PASS_RATE_MARTS if m != mart]
    return [dg.AssetKey(["core", t]) for t in _CORE_DEPS.get(mart, _PASS_RATE_DEPS)]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", mart], deps=_deps(mart), description=_DESCRIPTIONS[mart],
                     kinds={"duckdb"})
        for mart in steps.MARTS
    ],
    check_specs=checks.check_specs_for(*MART_KEYS),
    group_name="marts",
    can_subset=False,
)
def marts(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    """Build staging → validate it (expectations/mart_*.json) → publish only if it passes."""
    settings = warehouse.settings()
    results: dict = {}
    gate = checks.staging_gate(settings, MART_KEYS, context.run.run_id, context.log, results)
    if not steps.build_marts(settings, gate=gate):
        yield from checks.check_results(results)
        checks.raise_if_blocking(
            results, settings, "Marts NOT published: they failed on the staging build, and the "
            "published marts are unchanged (the previous run's).")
    summary_path, summary_text = summary.write_summary(settings)
    with steps.open_warehouse(settings, read_only=True) as con:
        for mart in steps.MARTS:
            metadata = {"dagster/row_count": row_count(con, f"marts.{mart}")}
            metadata.update(_extra_metadata(con, mart, summary_path, summary_text))
            key = dg.AssetKey(["marts", mart])
            yield dg.MaterializeResult(asset_key=key, metadata=metadata,
                                       check_results=checks.check_results(results, key))


def _extra_metadata(con, mart: str, summary_path, summary_text: str) -> dict:
    if mart == "stage_pass_rates":
        funnel = con.execute(
            "SELECT stage, entered, passed, pass_rate FROM marts.stage_pass_rates "
            "WHERE characteristic = 'all' ORDER BY stage_order").fetchall()
        flagged = con.execute(
            "SELECT characteristic, group_name, stage, adverse_impact_ratio, fisher_p_value "
            "FROM marts.stage_pass_rates WHERE flagged ORDER BY adverse_impact_ratio").fetchall()
        return {
            "flagged_drop_out_points": len(flagged),
            "funnel": dg.MetadataValue.md(markdown_table(["stage", "entered", "passed", "pass rate"], funnel)),
            "flagged": dg.MetadataValue.md(markdown_table(
                ["characteristic", "group", "stage", "ratio", "p"], flagged[:10])),
            **{f"pass_rate_{stage}": float(rate) for stage, _, _, rate in funnel if rate is not None},
        }
    if mart in ("stage_pass_rates_by_campaign", "stage_pass_rates_by_entry_route",
                "intersectional_stage_pass_rates"):
        return {"flagged_rows": con.execute(
            f"SELECT count(*) FROM marts.{mart} WHERE flagged").fetchone()[0]}
    if mart == "drop_out_points":
        by_source = con.execute(
            "SELECT source_table, count(*), round(sum(shortfall), 1) FROM marts.drop_out_points "
            "GROUP BY source_table ORDER BY source_table").fetchall()
        return {
            "by_source_table": dg.MetadataValue.md(
                markdown_table(["source table", "flagged", "total shortfall"], by_source)),
            "summary": dg.MetadataValue.md(summary_text),
            "summary_file": dg.MetadataValue.path(str(summary_path)),
        }
    if mart == "intervention_effects":
        return {"interventions": con.execute(
            "SELECT count(DISTINCT intervention_id) FROM marts.intervention_effects").fetchone()[0]}
    if mart == "representation":
        return {"groups_with_population_share": con.execute(
            "SELECT count(*) FROM marts.representation WHERE population_share IS NOT NULL"
        ).fetchone()[0]}
    return {}
