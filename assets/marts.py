"""marts layer: what recruitment leads and auditors read (docs/CONTRACT.md sections 5, 7, 9, 10).

One asset per table of the registry (funnel_pipeline/marts.py); one step builds them all
(one metric definition, one publish): staging → validated (expectations/mart_*.json,
one Dagster check per expectation) → swapped into `marts` only if no blocking check
failed. Metadata holds aggregates only.
"""

import dagster as dg

from funnel_pipeline import inert, marts
from funnel_pipeline.metadata import markdown_table, row_count
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.publish import summary
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse

MART_KEYS = [dg.AssetKey(["marts", m.name]) for m in marts.MARTS]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["marts", m.name], description=m.description, kinds={"duckdb"},
                     deps=[dg.AssetKey(key.split("/")) for key in marts.reads_of(m)])
        for m in marts.MARTS
    ],
    check_specs=checks.check_specs_for(*MART_KEYS),
    group_name="marts",
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def mart_tables(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    """Build staging → validate it (expectations/mart_*.json) → publish only if it passes."""
    settings = warehouse.settings()
    results: dict = {}
    gate = checks.staging_gate(settings, MART_KEYS, context.run.run_id, context.log, results)
    if not marts.build_marts(settings, gate=gate):
        yield from checks.check_results(results)
        checks.raise_if_blocking(
            results, settings, "Marts NOT published: they failed on the staging build, and the "
            "published marts are unchanged (the previous run's).")
    written = summary.write_summary(settings)
    with warehouse.open(read_only=True) as con:
        for m in marts.MARTS:
            metadata = {"dagster/row_count": row_count(con, f"marts.{m.name}")}
            metadata.update(_extra_metadata(con, m.name, written))
            key = dg.AssetKey(["marts", m.name])
            yield dg.MaterializeResult(asset_key=key, metadata=metadata,
                                       check_results=checks.check_results(results, key))


def _extra_metadata(con, name: str, written: summary.WrittenSummary) -> dict:
    if name == "stage_pass_rates":
        funnel = con.execute(
            "SELECT stage, entered, passed, pass_rate FROM marts.stage_pass_rates "
            "WHERE characteristic = 'all' ORDER BY stage_order").fetchall()
        return {
            "flagged_drop_out_points": con.execute(
                "SELECT count(*) FROM marts.stage_pass_rates WHERE flagged").fetchone()[0],
            "funnel": dg.MetadataValue.md(markdown_table(
                ["stage", "entered", "passed", "pass rate"], funnel)),
        }
    if marts.mart(name).pass_rates or name == "pooled_stage_pass_rates":
        return {"flagged_rows": con.execute(
            f"SELECT count(*) FROM marts.{name} WHERE flagged").fetchone()[0]}
    if name == "drop_out_points":
        tally = con.execute(
            "SELECT source_table, count(*), round(sum(shortfall))::BIGINT "
            "FROM marts.drop_out_points GROUP BY source_table").fetchall()
        order = [m.name for m in marts.MARTS]
        by_slice = [(marts.mart(t).slice_label, n, short)
                    for t, n, short in sorted(tally, key=lambda r: order.index(r[0]))]
        return {
            "summary": dg.MetadataValue.md(written.inline),
            "by_slice": dg.MetadataValue.md(
                markdown_table(["slice", "flagged", "people short"], by_slice)),
            # the name only: a whole path is one unbreakable word that widens the UI's table
            "full_summary": dg.MetadataValue.text(f"{written.path.name} in the reports folder"),
        }
    if name == "intervention_effects":
        return {"interventions": con.execute(
            "SELECT count(DISTINCT intervention_id) FROM marts.intervention_effects").fetchone()[0]}
    if name == "representation":
        return {"groups_with_population_share": con.execute(
            "SELECT count(*) FROM marts.representation WHERE population_share IS NOT NULL"
        ).fetchone()[0]}
    if name == "retention":
        return {"recruits": con.execute(
            "SELECT coalesce(max(recruits), 0) FROM marts.retention WHERE characteristic = 'all'"
        ).fetchone()[0], "flagged_retention_gaps": con.execute(
            "SELECT count(*) FROM marts.retention WHERE flagged").fetchone()[0]}
    if name == "workforce_flows":
        return {"financial_years": dg.MetadataValue.md(inert.md(", ".join(
            y for (y,) in con.execute("SELECT DISTINCT financial_year FROM marts.workforce_flows "
                                      "ORDER BY 1").fetchall()) or "none"))}
    return {}
