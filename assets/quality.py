"""quality layer: what was left out and why, for auditors (aggregates only)."""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

@dg.asset(
    key=["quality", "rejected_rows"],
    deps=[dg.AssetKey(["core", "events"]), dg.AssetKey(["core", "applicants"])],
    group_name="quality",
    kinds={"duckdb"},
    description="Rejected rows, whole, with file, row number and reason; this asset reports "
                "the counts by kind and reason (query quality.rejected_rows for the rows).",
)
def rejected_rows(warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    with steps.open_warehouse(warehouse.settings()) as con:
        by_reason = con.execute(
            "SELECT kind, reason, count(*) FROM quality.rejected_rows GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        failed_files = con.execute(
            "SELECT count(*) FROM raw.landing_files WHERE status = 'failed'").fetchone()[0]
        return dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "quality.rejected_rows"),
            "failed_files": failed_files,
            "by_reason": dg.MetadataValue.md(markdown_table(["kind", "reason", "rows"], by_reason)),
        })
