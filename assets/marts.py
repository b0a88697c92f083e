"""marts layer: what recruitment leads and auditors read (CONTRACT.md sections 5 and 7).

Marts are built in the `staging` schema and swapped into `marts` in one transaction,
so readers never see a half-built table and a failed run leaves yesterday's.
"""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

@dg.asset(
    key=["marts", "stage_pass_rates"],
    deps=[dg.AssetKey(["core", "applications"])],
    group_name="marts",
    kinds={"duckdb"},
    description="Pass rates per stage by protected characteristic with Wilson intervals, "
                "adverse-impact ratios and Fisher exact tests (CONTRACT.md section 5).",
)
def stage_pass_rates(warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    settings = warehouse.settings()
    steps.build_pass_rate_staging(settings)
    steps.publish(settings, steps.PASS_RATE_MARTS)
    with steps.open_warehouse(settings) as con:
        funnel = con.execute(
            "SELECT stage, entered, passed, pass_rate FROM marts.stage_pass_rates "
            "WHERE characteristic = 'all' ORDER BY stage_order").fetchall()
        flagged = con.execute(
            "SELECT characteristic, group_name, stage, adverse_impact_ratio, fisher_p_value "
            "FROM marts.stage_pass_rates WHERE flagged ORDER BY adverse_impact_ratio").fetchall()
        overall = {f"pass_rate_{stage}": float(rate) for stage, _, _, rate in funnel if rate is not None}
        return dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "marts.stage_pass_rates"),
            "flagged_drop_out_points": len(flagged),
            "funnel": dg.MetadataValue.md(markdown_table(["stage", "entered", "passed", "pass rate"], funnel)),
            "flagged": dg.MetadataValue.md(markdown_table(
                ["characteristic", "group", "stage", "ratio", "p"], flagged[:10])),
            **overall,
        })
