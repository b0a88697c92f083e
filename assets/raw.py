"""raw layer: the landing folder's files, recorded and copied row for row as text."""

from pathlib import Path

import dagster as dg

from funnel_pipeline import inert
from funnel_pipeline.metadata import markdown_table, row_count
from funnel_pipeline.models import LANDED_ROW_MODELS
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.quality import checks
from funnel_pipeline.raw import REQUIRED_COLUMNS, LoadedFileCheck, check_loaded_files, ingest
from funnel_pipeline.resources import FunnelWarehouse

from .config import FUNNEL

RAW_TABLES = {kind: f"raw/{model.__tablename__}" for kind, model in LANDED_ROW_MODELS.items()}
LANDING_FILES = dg.AssetKey(["raw", "landing_files"])
#: at most this many file names are listed in a check's metadata (the count is exact)
_NAMES_SHOWN = 20


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            dg.AssetKey(["raw", "landing_files"]),
            deps=[FUNNEL],
            description="Manifest: every file seen in the landing folder with size, SHA-256, "
                        "status (loaded / duplicate / failed + reason) and rows delivered.",
            kinds={"duckdb"},
        ),
        *[
            dg.AssetSpec(
                dg.AssetKey(key.split("/")),
                deps=[FUNNEL],
                description=f"Every row of the {kind} files as delivered (text), with file and "
                            "row number; columns beyond the contract kept as JSON.",
                kinds={"duckdb"},
            )
            for kind, key in RAW_TABLES.items()
        ],
    ],
    check_specs=[
        *checks.check_specs_for(dg.AssetKey(["raw", "event_rows"])),
        dg.AssetCheckSpec(
            "loaded_files_unchanged", asset=LANDING_FILES,
            description="Every file loaded before is still in the landing folder with the bytes "
                        "that were loaded (a landed file is never modified). A file that "
                        "disappeared or changed is named here; its rows stay as loaded, but a "
                        "rebuild would lose or change them."),
    ],
    group_name="raw",
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def landing_files(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    """Load the files not loaded before (incremental and idempotent)."""
    settings = warehouse.settings()
    summary = ingest(settings, run_id=context.run.run_id)
    for name, reason in summary.failures:
        context.log.warning(f"landing file {name!r} failed: {reason}")
    for name in summary.unsettled:
        context.log.warning(f"landing file {name!r} is still being written: left for a later run")
    for name in summary.changed_while_read:
        context.log.warning(f"landing file {name!r} changed while it was read: nothing of it was "
                            "kept; the next run loads it again")
    results = checks.run_checks(settings, [dg.AssetKey(["raw", "event_rows"])], context.run.run_id,
                                log=context.log)
    with warehouse.open(read_only=True) as con:
        loaded_check = check_loaded_files(con, Path(settings.landing_dir))
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
                "files_still_being_written": len(summary.unsettled),
                "files_changed_while_read": len(summary.changed_while_read),
                "by_status": dg.MetadataValue.md(
                    markdown_table(["status", "files", "rows"], by_status)),
            },
            check_results=[_loaded_files_result(loaded_check)],
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


def _loaded_files_result(found: LoadedFileCheck) -> dg.AssetCheckResult:
    """The warning check of files that vanished or changed after they were loaded."""
    def names(files: list[str]) -> str:
        shown = ", ".join(inert.md(n, 60) for n in files[:_NAMES_SHOWN])
        return shown + (f" and {len(files) - _NAMES_SHOWN} more" if len(files) > _NAMES_SHOWN else "")

    metadata: dict = {"files_checked": found.checked, "files_gone": len(found.gone),
                      "files_changed": len(found.changed)}
    if found.gone:
        metadata["gone"] = dg.MetadataValue.md(names(found.gone))
    if found.changed:
        metadata["changed"] = dg.MetadataValue.md(names(found.changed))
    return dg.AssetCheckResult(
        asset_key=LANDING_FILES, check_name="loaded_files_unchanged", passed=found.ok,
        severity=dg.AssetCheckSeverity.WARN, metadata=metadata,
        description=None if found.ok else (
            f"{len(found.gone)} loaded file(s) gone and {len(found.changed)} changed since they "
            "were loaded; `funnel rebuild` refuses to drop them unless told to."))
