"""publish layer: the annual publication with disclosure control, exported as files.

Built in staging, validated (expectations/mart_publication.json and
mart_publication_leavers.json: no small count shown, none a reader can work out, shown
counts equal the computed counts, rates hidden with their counts), and only then
swapped into marts.publication / marts.publication_leavers and exported: a failed check
leaves the published tables and the files as the previous run left them.
"""

import dagster as dg

from funnel_pipeline import vocabulary
from funnel_pipeline.metadata import row_count
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.publish import publication, workbook
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse

PUBLICATION_KEY = dg.AssetKey(["publish", "annual_publication"])


@dg.asset(
    key=PUBLICATION_KEY,
    deps=[dg.AssetKey(["core", "applications"]), dg.AssetKey(["core", "campaigns"]),
          dg.AssetKey(["marts", "retention"]), dg.AssetKey(["marts", "workforce_flows"])],
    check_specs=checks.check_specs_for(PUBLICATION_KEY),
    group_name="publish",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", "csv", "excel"},
    description="Applicants, sifted, progressed from sift, appointed and failed at the final "
                "stage by characteristic, group and year, and leavers by financial year, with "
                "small counts suppressed as [c] (and every count a reader could work out "
                "from totals); a workbook in the government statistics layout and CSV files "
                "with notes.",
)
def annual_publication(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    results: dict = {}
    gate = checks.staging_gate(settings, [PUBLICATION_KEY], context.run.run_id, context.log,
                               results)
    if publication.build_publication(settings, gate=gate) is None:
        yield from checks.check_results(results)
        checks.raise_if_blocking(
            results, settings, "Publication NOT updated: marts.publication, "
            "marts.publication_leavers and the exported files are unchanged (the previous "
            "run's).")
    files = workbook.export_publication(settings)
    with warehouse.open(read_only=True) as con:
        hidden = " + ".join(f"({m} = '{publication.SUPPRESSED}')::INT"
                            for m in publication.MEASURES)
        cells = con.execute(f"SELECT coalesce(sum({hidden}), 0) FROM marts.publication"
                            ).fetchone()[0]
        leaver_cells = con.execute(
            f"SELECT count(*) FILTER (WHERE {publication.LEAVERS} = '{publication.SUPPRESSED}') "
            "FROM marts.publication_leavers").fetchone()[0]
        rule = publication.rule_of(vocabulary.current_config(con))
        metadata = {
            "dagster/row_count": row_count(con, "marts.publication"),
            "suppressed_counts": int(cells),
            "leaver_rows": row_count(con, "marts.publication_leavers"),
            "suppressed_leaver_counts": int(leaver_cells),
            "suppression_threshold": rule.threshold,
            "rounding_base": rule.rounding_base or "none (exact counts)",
            **{name: dg.MetadataValue.path(str(path)) for name, path in files.items()},
        }
    yield dg.MaterializeResult(asset_key=PUBLICATION_KEY, metadata=metadata,
                               check_results=checks.check_results(results, PUBLICATION_KEY))
