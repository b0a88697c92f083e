"""charts layer: the pictures recruitment leads look at in the Dagster UI.

One asset per question (funnel_pipeline/charts/pages.py says which figures each page
shows): `charts/funnel`, `charts/pass_rates`, `charts/adverse_impact`, `charts/trends`,
`charts/retention`, and `charts/report`, every chart interactive in one offline HTML file.

How the pictures reach the UI (docs STACK-FACTS "Showing charts in the Dagster UI"):
each figure is rendered to a PNG with a content-hashed name in `<reports_dir>/charts`,
which `funnel ui` (or deploy/funnel-charts.service) serves read-only over HTTP, and the
metadata carries short markdown image links to `FUNNEL_CHART_BASE_URL`. Older
materialisations keep pointing at their own files. One step builds every page: the
marts are read once and kaleido's Chromium starts once per run. A chart that cannot be
drawn fails the page's `pictures_drawn` check instead of vanishing.
"""

from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from funnel_pipeline import inert, vocabulary
from funnel_pipeline.charts import pages
from funnel_pipeline.operations.pools import WAREHOUSE_POOL
from funnel_pipeline.resources import FunnelWarehouse

CHART_ASSETS: tuple[str, ...] = tuple(pages.PAGES)


def _spec(name: str) -> dg.AssetSpec:
    page = pages.PAGES[name]
    return dg.AssetSpec(["charts", name], deps=[dg.AssetKey(["marts", m]) for m in page.reads],
                        description=page.question, kinds={"plotly"})


def _pictures_spec(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "pictures_drawn", asset=dg.AssetKey(["charts", name]), blocking=False,
        description="Every chart of this page was drawn as a picture for the UI. A chart that "
                    "could not be drawn fails this check instead of silently vanishing.")


# --- the asset ----------------------------------------------------------------------------


@dg.multi_asset(
    specs=[_spec(name) for name in CHART_ASSETS],
    check_specs=[_pictures_spec(name) for name in CHART_ASSETS],
    group_name="charts",
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def charts(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse) -> Iterator[dg.MaterializeResult]:
    from funnel_pipeline.charts import render
    from funnel_pipeline.charts.report import write_html_report
    from funnel_pipeline.publish import summary

    settings = warehouse.settings()
    folder = settings.charts_dir
    folder.mkdir(parents=True, exist_ok=True)
    base_url = settings.chart_base_url
    min_size = settings.chart_min_group_size
    with warehouse.open(read_only=True) as con:
        marts = pages.read_marts(con)
        config = vocabulary.current_config(con)
    summary_file = Path(settings.reports_dir) / summary.SUMMARY_NAME
    built = pages.build_figures(marts, config, min_group_size=min_size)
    # pictures only of what a page shows; the report has every chart, interactive
    pictured = {n: f for name in CHART_ASSETS for n, f in pages.shown_on(name, built).items()}

    report = write_html_report(
        built.report, folder, title="Recruitment funnel: where applicants drop out",
        summary_markdown=summary_file.read_text(encoding="utf-8") if summary_file.is_file()
        else None)

    failed: dict[str, str] = {}
    try:
        # Chromium starts at the first picture not already on disk (~3 s, then ~0.3 s
        # each): a run whose figures did not change never starts it
        files = render.write_pngs(pictured, folder, failed=failed)
    finally:
        render.stop_renderer()
    for reason in sorted(set(failed.values())):
        context.log.error(f"chart pictures were not drawn ({sum(r == reason for r in failed.values())}"
                          f" of {len(pictured)}): {inert.shorten(reason, 300)}")

    for name in CHART_ASSETS:
        shown = pages.shown_on(name, built)
        meta, notes = pages.tables_and_numbers(name, marts, config, min_size)
        links = {n: files[n].name for n in shown if n in files}
        markdown = render.chart_markdown(links, base_url, report_filename=report.name)
        extra = list(notes)
        not_drawn = [n for n in shown if n in failed]
        if not_drawn:
            extra.append(f"*{len(not_drawn)} chart picture(s) could not be drawn this run: see "
                         "the check pictures_drawn, and the interactive report.*")
        for line in extra:
            if len(markdown) + len(line) + 2 < render.MARKDOWN_LIMIT:
                markdown = f"{markdown}\n\n{line}"
        # the report is linked from the markdown only: a URL or a server path is one
        # unbreakable word, and the UI widens the value column to the longest word
        # (a 494 px path pushed the pictures out of sight at 1280 px, tests/e2e/test_ui_e2e.py)
        meta = {"charts": dg.MetadataValue.md(markdown), **meta}
        if name == "report":
            meta["summary included"] = summary_file.is_file()
        yield dg.MaterializeResult(asset_key=["charts", name], metadata=meta, check_results=[
            _pictures_check(name, drawn=len(links), not_drawn=not_drawn, failed=failed)])


def _pictures_check(name: str, *, drawn: int, not_drawn: list[str], failed: dict[str, str]
                    ) -> dg.AssetCheckResult:
    """Fails (visibly, not blocking) when a chart of the page could not be drawn."""
    metadata: dict = {"pictures_drawn": drawn, "pictures_not_drawn": len(not_drawn)}
    if not_drawn:
        metadata["why"] = inert.shorten(failed[not_drawn[0]], 200)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["charts", name]), check_name="pictures_drawn",
        passed=not not_drawn, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
