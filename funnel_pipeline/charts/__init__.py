"""Charts of the recruitment funnel, for people who run recruitment, not for analysts.

* `figures` — pure builders: marts frames (docs/CONTRACT.md sections 5, 7, 9, 10) → Plotly figures,
  sized and wrapped for the Dagster UI (`_text` measures every line).
* `pages` — what each chart page of the UI shows (figures, tables, counts).
* `render` — PNG files with content-hashed names + short markdown for Dagster metadata.
* `report` — one self-contained, offline, interactive HTML report per run.
* `server` — a read-only HTTP server for the charts folder (the UI fetches PNGs by URL).

Nothing here touches the database: callers pass the mart tables as pandas frames.
"""

from .figures import (
    DEFAULT_MIN_GROUP_SIZE,
    DEFAULT_WIDTH,
    adverse_impact_forest,
    adverse_impact_heatmap,
    funnel_by_group,
    funnel_overall,
    pass_rate_trend_by_year,
    pass_rates_by_entry_route,
    pass_rates_by_group,
    retention_curves,
)
from .render import chart_filename, chart_markdown, render_png, write_pngs
from .report import report_html, write_html_report

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "DEFAULT_WIDTH",
    "adverse_impact_forest",
    "adverse_impact_heatmap",
    "chart_filename",
    "chart_markdown",
    "funnel_by_group",
    "funnel_overall",
    "pass_rate_trend_by_year",
    "pass_rates_by_entry_route",
    "pass_rates_by_group",
    "render_png",
    "report_html",
    "retention_curves",
    "write_html_report",
    "write_pngs",
]
