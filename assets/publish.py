"""publish layer: the annual publication with disclosure control, exported as files."""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.publish import publication
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import row_count


@dg.asset(
    key=["publish", "annual_publication"],
    deps=[dg.AssetKey(["core", "applications"]), dg.AssetKey(["core", "campaigns"])],
    group_name="publish",
    kinds={"duckdb", "csv", "excel"},
    description="Applicants, sifted, progressed to assessment, appointed and failed at the final "
                "stage by characteristic, group and year, with small counts suppressed as [c] "
                "(and secondary suppression); marts.publication exported as CSV and XLSX.",
)
def annual_publication(warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    settings = warehouse.settings()
    publication.build_publication(settings)
    files = publication.export_publication(settings)
    with steps.open_warehouse(settings, read_only=True) as con:
        suppressed = con.execute(
            "SELECT count(*) FILTER (WHERE " + " OR ".join(
                f"{m} = '[c]'" for m in publication.MEASURES) + ") FROM marts.publication"
        ).fetchone()[0]
        return dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "marts.publication"),
            "rows_with_suppressed_counts": suppressed,
            "suppression_threshold": settings.suppression_threshold,
            "csv": dg.MetadataValue.path(str(files["csv"])),
            "xlsx": dg.MetadataValue.path(str(files["xlsx"])),
        })
