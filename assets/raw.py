"""raw layer: the landing folder's files, recorded and copied row for row as text."""

import dagster as dg

from funnel_pipeline import steps
from funnel_pipeline.landing import REQUIRED_COLUMNS
from funnel_pipeline.models import LANDED_ROW_MODELS
from funnel_pipeline.quality import checks
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.summaries import markdown_table, row_count

RAW_TABLES = {kind: f"raw/{model.__tablename__}" for kind, model in LANDED_ROW_MODELS.items()}

@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["raw", "landing_files"]),
            description="Manifest: every file seen in the landing folder with size, SHA-256, "
                        "status (loaded / duplicate / failed + reason) and rows delivered.",
            kinds={"duckdb"},
        ),
        *[
            dg.AssetSpec(
                dg.AssetKey(key.split("/")),
                description=f"Every row of the {kind} files as delivered (text), with file and "
                            "row number; columns beyond the contract kept as JSON.",
                kinds={"duckdb"},
            )
            for kind, key in RAW_TABLES.items()
        ],
    ],
    check_specs=checks.check_specs_for(dg.AssetKey(["raw", "event_rows"])),
    group_name="raw",
    can_subset=False,
)
def landing_files(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    """Load the files not loaded before (incremental and idempotent)."""
    settings = warehouse.settings()
    summary = steps.ingest(settings, run_id=context.run.run_id)
    for name, reason in summary.failures:
        context.log.warning(f"landing file {name!r} failed: {reason}")
    results = checks.run_checks(settings, [dg.AssetKey(["raw", "event_rows"])], context.run.run_id,
                                log=context.log)
    with steps.open_warehouse(settings) as con:
        by_status = con.execute(
            "SELECT status, count(*), sum(rows_delivered)::BIGINT FROM raw.landing_files "
            "GROUP BY status ORDER BY status").fetchall()
        yield dg.MaterializeResult(
            asset_key=["raw", "landing_files"],
            metadata={
                "dagster/row_count": row_count(con, "raw.landing_files"),
                "files_new_this_run": summary.files_new,
                "files_failed_this_run": summary.failed,
                "files_duplicate_this_run": summary.duplicates,
                "by_status": dg.MetadataValue.md(
                    markdown_table(["status", "files", "rows"], by_status)),
            },
        )
        for kind, key in RAW_TABLES.items():
            yield dg.MaterializeResult(
                asset_key=key.split("/"),
                metadata={"dagster/row_count": row_count(con, key.replace("/", ".")),
                          "required_columns": ", ".join(REQUIRED_COLUMNS[kind])},
                check_results=checks.check_results(results, dg.AssetKey(key.split("/"))),
            )
    checks.raise_if_blocking(results, settings, "The landed rows stay in raw; nothing downstream "
                                                "runs until a run passes these checks.")
