"""publish layer: the annual publication with disclosure control, exported as files.

Built in staging, validated (expectations/mart_publication.json: no small count shown,
shown counts equal the computed counts, rates hidden with their counts), and only then
swapped into marts.publication and exported: a failed check leaves the published table
and the CSV/XLSX files as the previous run left them.
"""

import dagster as dg

from funnel_pipeline import vocabulary
from funnel_pipeline.metadata import row_count
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.publish import publication
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse

PUBLICATION_KEY = dg.AssetKey(["publish", "annual_publication"])


@dg.asset(
    key=PUBLICATION_KEY,
    deps=[dg.AssetKey(["core", "applications"]), dg.AssetKey(["core", "campaigns"]),
          dg.AssetKey(["marts", "retention"])],
    check_specs=checks.check_specs_for(PUBLICATION_KEY),
    group_name="publish",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", "csv", "excel"},
    description="Applicants, sifted, progressed to assessment, appointed and failed at the final "
                "stage by characteristic, group and year, with small counts suppressed as [c] "
                "(and secondary suppression); marts.publication exported as CSV and XLSX.",
)
def annual_publication(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    settings = warehouse.settings()
    results: dict = {}
    gate = checks.staging_gate(settings, [PUBLICATION_KEY], context.run.run_id, context.log,
                               results)
    if publication.build_publication(settings, gate=gate) is None:
        yield from checks.check_results(results)
        checks.raise_if_blocking(
            results, settings, "Publication NOT updated: marts.publication and the exported "
            "files are unchanged (the previous run's).")
    files = publication.export_publication(settings)
    with warehouse.open(read_only=True) as con:
        suppressed = con.execute(
            "SELECT count(*) FILTER (WHERE " + " OR ".join(
                f"{m} = '[c]'" for m in publication.MEASURES) + ") FROM marts.publication"
        ).fetchone()[0]
        metadata = {
            "dagster/row_count": row_count(con, "marts.publication"),
            "rows_with_suppressed_counts": suppressed,
            "suppression_threshold": vocabulary.current_config(con).publication.threshold,
            "csv": dg.MetadataValue.path(str(files["csv"])),
            "xlsx": dg.MetadataValue.path(str(files["xlsx"])),
        }
    yield dg.MaterializeResult(asset_key=PUBLICATION_KEY, metadata=metadata,
                               check_results=checks.check_results(results, PUBLICATION_KEY))
