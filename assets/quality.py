"""quality layer: what was left out and why, and what was checked, for auditors (aggregates only)."""


import dagster as dg

from funnel_pipeline import marts
from funnel_pipeline.metadata import markdown_table, row_count
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.quality import checks, history, report
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.settings import QUALITY_SUBDIR


@dg.asset(
    key=["quality", "rejected_rows"],
    deps=[dg.AssetKey(["core", "events"]), dg.AssetKey(["core", "applicants"]),
          dg.AssetKey(["core", "campaigns"]), dg.AssetKey(["core", "population"]),
          dg.AssetKey(["core", "interventions"]), dg.AssetKey(["core", "leavers"])],
    group_name="quality",
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description="Rejected rows, whole, with file, row number and reason; this asset reports "
                "the counts by kind and reason (query quality.rejected_rows for the rows).",
    check_specs=checks.check_specs_for(dg.AssetKey(["quality", "rejected_rows"])),
)
def rejected_rows(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse):
    results = checks.run_checks(warehouse.settings(), [dg.AssetKey(["quality", "rejected_rows"])],
                                context.run.run_id, log=context.log)
    with warehouse.open(read_only=True) as con:
        by_reason = con.execute(
            "SELECT kind, reason, count(*) FROM quality.rejected_rows GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        failed_files = con.execute(
            "SELECT count(*) FROM raw.landing_files WHERE status = 'failed'").fetchone()[0]
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": row_count(con, "quality.rejected_rows"),
            "failed_files": failed_files,
            "by_reason": dg.MetadataValue.md(markdown_table(["kind", "reason", "rows"], by_reason)),
        }, check_results=checks.check_results(results))
    checks.raise_if_blocking(results, warehouse.settings(), "Assets downstream are not rebuilt "
                                                            "until a run passes these checks.")


@dg.asset(
    key=["quality", "validation_report"],
    deps=[dg.AssetKey(["marts", m.name]) for m in marts.MARTS],
    group_name="quality",
    pool=WAREHOUSE_POOL,
    kinds={"html"},
    description="The auditor report: every run's data-quality checks (suite, check, severity, "
                "pass/fail, observed value, unexpected count), offline HTML built from "
                "quality.validation_results. Every step that validates rebuilds it, so a run "
                "blocked before this asset still appears in it.",
)
def validation_report(context: dg.AssetExecutionContext,
                      warehouse: FunnelWarehouse) -> dg.MaterializeResult:
    settings = warehouse.settings()
    base = settings.chart_base_url.rstrip("/")
    with warehouse.open() as con:
        history.ensure_table(con)
        index = report.build_report(con, settings.quality_dir)
        runs, this_run = con.execute(
            f"SELECT count(DISTINCT run_id), count(*) FILTER (WHERE run_id = ?) FROM {history.TABLE}",
            [context.run.run_id]).fetchone()
        by_status = con.execute(
            f"SELECT severity, success, count(*) FROM {history.TABLE} WHERE run_id = ? "
            "GROUP BY ALL ORDER BY ALL", [context.run.run_id]).fetchall()
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(index)),
        # served by the chart server (a browser refuses file:// links from the UI)
        "report_url": dg.MetadataValue.url(f"{base}/{QUALITY_SUBDIR}/index.html"),
        "this_run_url": dg.MetadataValue.url(
            f"{base}/{QUALITY_SUBDIR}/runs/{report.run_page_name(context.run.run_id)}"),
        "history_table": history.TABLE,
        "runs_in_history": runs,
        "checks_this_run": this_run,
        "this_run": dg.MetadataValue.md(markdown_table(
            ["severity", "passed", "checks"], by_status)),
    })
