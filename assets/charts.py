"""charts layer: the pictures recruitment leads look at in the Dagster UI (issue 6).

One asset per audience question, each showing its charts *inline* on its page:

* `charts/funnel`         — how many applicants get through each stage, and where does
                            each group fall away? (headline characteristic)
* `charts/pass_rates`     — which groups pass a stage less often, beyond chance?
* `charts/adverse_impact` — how does each group's pass rate compare with the reference
                            group's (four-fifths rule), stage by stage?
* `charts/trends`         — is it getting better or worse, campaign by campaign, and
                            does it differ by entry route?
* `charts/report`         — every chart, interactive, plus the drop-out summary, in one
                            offline HTML file.

How the pictures reach the UI (docs STACK-FACTS "Showing charts in the Dagster UI"):
each figure is rendered to a PNG with a content-hashed name in `<reports_dir>/charts`,
which `funnel ui` (or deploy/funnel-charts.service) serves read-only over HTTP, and the
metadata carries short markdown image links to `FUNNEL_CHART_BASE_URL`. Older
materialisations keep pointing at their own files. The table metadata and the link to
the HTML report (a file path too) still tell the story when the chart server is down.

Charts are built from the marts only (aggregates), read through a read-only connection.
One step builds all five assets: the marts are read once, kaleido's Chromium starts once
per run and is stopped at the end of the step, and every asset can link the same
report.
"""

import math
from collections.abc import Iterator, Mapping
from pathlib import Path

import dagster as dg
import pandas as pd

from funnel_pipeline import contract, inert, warehouse
from funnel_pipeline.resources import FunnelWarehouse
from funnel_pipeline.settings import Settings

#: folder under `reports_dir` holding the PNGs and HTML reports (what the chart server serves)
CHARTS_SUBDIR = "charts"
#: the characteristic of the headline funnel
HEADLINE_CHARACTERISTIC = "ethnicity"
#: characteristics with a pass-rate chart and a heatmap each
CHARACTERISTICS: tuple[str, ...] = tuple(c.name for c in contract.CHARACTERISTICS)
#: the stage the campaign and entry-route charts follow (the assessment centre is where
#: most applicants are lost after the sift)
TREND_STAGE = "assessment"
#: characteristics of the trend charts: two-group ones keep a line per group readable
TREND_CHARACTERISTICS: tuple[str, ...] = ("sex", "ethnic_minority", "disability", "lgbt_plus")

PASS_RATES = "stage_pass_rates"
BY_CAMPAIGN = "stage_pass_rates_by_campaign"
BY_ENTRY_ROUTE = "stage_pass_rates_by_entry_route"
DROP_OUT_POINTS = "drop_out_points"

_QUESTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "funnel": (
        ("How many applicants get through each stage, and where does each group fall away? "
         f"The overall funnel, the funnel by {HEADLINE_CHARACTERISTIC} and its pass rates."),
        (PASS_RATES,),
    ),
    "pass_rates": (
        ("Which groups pass a stage less often than the reference group, beyond chance? "
         "Pass rate per stage and group with 95% ranges, four-fifths marks and flagged "
         "drop-out points, one chart per protected characteristic."),
        (PASS_RATES,),
    ),
    "adverse_impact": (
        ("How does each group's pass rate compare with the reference group's, stage by "
         "stage? Ratios (four-fifths rule), with differences that could be chance faded."),
        (PASS_RATES,),
    ),
    "trends": (
        (f"Is it getting better or worse? Pass rate at the {TREND_STAGE} stage per group, "
         "campaign by campaign and by entry route."),
        (BY_CAMPAIGN, BY_ENTRY_ROUTE),
    ),
    "report": (
        ("Every chart of the run, interactive (hover for the counts), with the drop-out "
         "summary, in one HTML file that works offline."),
        (PASS_RATES, BY_CAMPAIGN, BY_ENTRY_ROUTE, DROP_OUT_POINTS),
    ),
}
CHART_ASSETS: tuple[str, ...] = tuple(_QUESTIONS)


def _pictures_spec(name: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "pictures_drawn", asset=dg.AssetKey(["charts", name]), blocking=False,
        description="Every chart of this page was drawn as a picture for the UI. A chart that "
                    "could not be drawn fails this check instead of silently vanishing.")


def _spec(name: str) -> dg.AssetSpec:
    description, marts = _QUESTIONS[name]
    return dg.AssetSpec(
        ["charts", name],
        deps=[dg.AssetKey(["marts", m]) for m in marts],
        description=description,
        kinds={"plotly"},
    )


# --- reading the marts ------------------------------------------------------------------


def read_marts(settings: Settings) -> dict[str, pd.DataFrame | None]:
    """The marts the charts need, as frames; None for a table that does not exist (yet)."""
    wanted = (PASS_RATES, BY_CAMPAIGN, BY_ENTRY_ROUTE, DROP_OUT_POINTS)
    with warehouse.connect(settings.duckdb_path, read_only=True,
                           memory_limit=settings.duckdb_memory_limit) as con:
        present = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()}
        frames: dict[str, pd.DataFrame | None] = {
            t: (con.execute(f"SELECT * FROM marts.{t}").df() if t in present else None)
            for t in wanted if t != DROP_OUT_POINTS
        }
        frames[DROP_OUT_POINTS] = None
        if DROP_OUT_POINTS in present:
            frames["drop_out_summary"] = _drop_out_summary(con, settings)
    return frames


def _drop_out_summary(con, settings: Settings) -> str | None:
    """The plain-language drop-out summary (aggregates only) for the HTML report."""
    try:
        from funnel_pipeline.publish import summary

        return summary.summarise(con)
    except Exception:  # noqa: BLE001 - fall back to the file the marts step wrote
        try:
            from funnel_pipeline.publish.summary import SUMMARY_NAME
        except Exception:  # noqa: BLE001
            SUMMARY_NAME = "drop_out_summary.md"
        path = Path(settings.reports_dir) / SUMMARY_NAME
        return path.read_text(encoding="utf-8") if path.is_file() else None


# --- figures ----------------------------------------------------------------------------


def _name(what: str, characteristic: str) -> str:
    """Figure name: the image's alt text in the UI and (slugged) its file name."""
    return f"{what}: {characteristic.replace('_', ' ')}"


def build_figures(marts: Mapping[str, pd.DataFrame | None], *, min_group_size: int,
                  width: int = 450) -> dict[str, dict]:
    """Asset name → {figure name → Plotly figure}; names become file names and alt text."""
    from funnel_pipeline.charts import figures as F

    rates = marts.get(PASS_RATES)
    by_campaign = marts.get(BY_CAMPAIGN)
    by_route = marts.get(BY_ENTRY_ROUTE)
    kw = {"min_group_size": min_group_size, "width": width}
    out: dict[str, dict] = {name: {} for name in CHART_ASSETS if name != "report"}
    if rates is not None:
        h = HEADLINE_CHARACTERISTIC
        out["funnel"] = {
            "Funnel": F.funnel_overall(rates, width=width),
            f"Funnel by {h}": F.funnel_by_group(rates, h, **kw),
            _name("Pass rates", h): F.pass_rates_by_group(rates, h, **kw),
        }
        out["pass_rates"] = {_name("Pass rates", c): F.pass_rates_by_group(rates, c, **kw)
                             for c in CHARACTERISTICS}
        out["adverse_impact"] = {_name("Ratios", c): F.adverse_impact_heatmap(rates, c, **kw)
                                 for c in CHARACTERISTICS}
    if by_campaign is not None:
        out["trends"].update({
            _name("Campaigns", c): F.pass_rate_trend_by_campaign(by_campaign, c, TREND_STAGE, **kw)
            for c in TREND_CHARACTERISTICS})
    if by_route is not None:
        out["trends"].update({
            _name("Entry routes", c): F.pass_rates_by_entry_route(by_route, c, TREND_STAGE, **kw)
            for c in TREND_CHARACTERISTICS})
    return out


# --- tables and headline numbers (aggregates only, never ids) ---------------------------


def _value(v: object) -> object:
    if v is None or (not isinstance(v, str) and pd.isna(v)):  # type: ignore[arg-type]
        return None
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    if isinstance(v, float) or type(v).__name__.startswith("float"):
        return round(float(v), 4)
    if type(v).__name__.startswith("int"):
        return int(v)  # type: ignore[call-overload]
    return str(v)


def _large_enough(frame: pd.DataFrame, keys: list[str], min_group_size: int) -> pd.DataFrame:
    """Rows of groups with at least `min_group_size` applications (as the charts show them)."""
    from funnel_pipeline.charts import _frames

    if frame.empty:
        return frame
    sizes = _frames.applications(frame, [*keys, "characteristic", "group_name"])
    ok = [sizes.get(tuple(r), 0) >= min_group_size
          for r in frame[[*keys, "characteristic", "group_name"]].itertuples(index=False)]
    return frame.loc[ok]


_COLUMNS: dict[str, tuple[str, str]] = {
    # output column: (source column, type)
    "Segment": ("segment", "string"),
    "Characteristic": ("characteristic_label", "string"),
    "Group": ("group_label", "string"),
    "Stage": ("stage_label", "string"),
    "Applications at stage": ("entered", "int"),
    "With a result": ("decided", "int"),
    "Passed": ("passed", "int"),
    "Pass rate": ("pass_rate", "float"),
    "95% range low": ("pass_rate_ci_low", "float"),
    "95% range high": ("pass_rate_ci_high", "float"),
    "Share of group's applications": ("cumulative_pass_rate", "float"),
    "Reference group": ("reference_label", "string"),
    "Ratio to reference": ("adverse_impact_ratio", "float"),
    "p-value": ("fisher_p_value", "float"),
    "Flagged": ("flagged", "bool"),
}


def plotted_table(frame: pd.DataFrame, columns: list[str]) -> dg.TableMetadataValue:
    """`MetadataValue.table` of the plotted figures, with plain-English column names."""
    from funnel_pipeline.charts.labels import characteristic_label, group_label, stage_label

    d = frame.copy()
    if not d.empty:
        d["characteristic_label"] = [characteristic_label(c) for c in d["characteristic"]]
        d["group_label"] = [group_label(c, g) for c, g in zip(d["characteristic"], d["group_name"])]
        d["stage_label"] = [stage_label(s) for s in d["stage"]]
        d["decided"] = d["passed"] + d["failed"] + d["withdrawn"]
        d["reference_label"] = [group_label(c, r) if isinstance(r, str) else None
                                for c, r in zip(d["characteristic"], d["reference_group"])]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _COLUMNS[name][1]) for name in columns])
    records = [
        dg.TableRecord({name: _value(row[_COLUMNS[name][0]]) for name in columns})
        for _, row in d.iterrows()
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def _sorted(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
    from funnel_pipeline.charts.labels import group_order

    order = {c: i for i, c in enumerate(("all", *CHARACTERISTICS))}
    d = frame.copy()
    d["_c"] = [order.get(c, 99) for c in d["characteristic"]]
    d["_g"] = 0
    for c in d["characteristic"].unique():
        groups = group_order(c, list(d.loc[d["characteristic"] == c, "group_name"].unique()))
        mask = d["characteristic"] == c
        d.loc[mask, "_g"] = [groups.index(g) for g in d.loc[mask, "group_name"]]
    return d.sort_values([*keys, "_c", "_g", "stage_order"], kind="stable")


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _tables_and_numbers(name: str, marts: Mapping[str, pd.DataFrame | None],
                        min_group_size: int) -> tuple[dict, str]:
    """Table metadata + headline numbers of one asset, and a note on what is missing."""
    rates = marts.get(PASS_RATES)
    meta: dict = {}
    note = ""
    if name in ("funnel", "pass_rates", "adverse_impact", "report") and rates is None:
        return meta, f"*marts.{PASS_RATES} does not exist yet: no charts.*"
    if name == "funnel":
        all_rows = rates.loc[rates["characteristic"] == contract.ALL_CHARACTERISTIC]
        head = _large_enough(rates.loc[rates["characteristic"] == HEADLINE_CHARACTERISTIC], [],
                             min_group_size)
        meta["plotted_figures"] = plotted_table(
            _sorted(pd.concat([all_rows, head])),
            ["Characteristic", "Group", "Stage", "Applications at stage", "With a result",
             "Passed", "Pass rate", "Share of group's applications", "Flagged"])
        first = all_rows.loc[all_rows["stage_order"] == 1, "entered"]
        if len(first):
            meta["applications"] = int(first.iloc[0])
        for _, r in all_rows.sort_values("stage_order").iterrows():
            if (v := _finite(r["pass_rate"])) is not None:
                meta[f"pass_rate_{r['stage']}"] = v
        last = all_rows.sort_values("stage_order").tail(1)
        if len(last) and (v := _finite(last["cumulative_pass_rate"].iloc[0])) is not None:
            meta["appointed_share_of_applications"] = v
    elif name in ("pass_rates", "adverse_impact"):
        d = _large_enough(rates.loc[rates["characteristic"].isin(CHARACTERISTICS)], [],
                          min_group_size)
        if name == "pass_rates":
            cols = ["Characteristic", "Group", "Stage", "With a result", "Passed", "Pass rate",
                    "95% range low", "95% range high", "Flagged"]
        else:
            d = d.loc[d["adverse_impact_ratio"].notna()]
            cols = ["Characteristic", "Group", "Stage", "Reference group", "Ratio to reference",
                    "p-value", "Flagged"]
        meta["plotted_figures"] = plotted_table(_sorted(d), cols)
        flagged = d.loc[d["flagged"].fillna(False).astype(bool)]
        meta["flagged_drop_out_points"] = len(flagged)
        if name == "adverse_impact":
            for c in CHARACTERISTICS:
                ratios = d.loc[d["characteristic"] == c, "adverse_impact_ratio"].dropna()
                if len(ratios) and (v := _finite(ratios.min())) is not None:
                    meta[f"lowest_ratio_{c}"] = v
    elif name == "trends":
        parts = []
        by_campaign, by_route = marts.get(BY_CAMPAIGN), marts.get(BY_ENTRY_ROUTE)
        missing = [f"marts.{t}" for t, f in ((BY_CAMPAIGN, by_campaign), (BY_ENTRY_ROUTE, by_route))
                   if f is None]
        if missing:
            note = f"*Not built yet: {', '.join(missing)}.*"
        chars = (contract.ALL_CHARACTERISTIC, *TREND_CHARACTERISTICS)
        if by_campaign is not None:
            d = _large_enough(by_campaign.loc[by_campaign["characteristic"].isin(chars)],
                              ["campaign_id"], min_group_size)
            d = d.loc[d["stage"] == TREND_STAGE].copy()
            d["segment"] = [f"Campaign {c} ({r})" for c, r in zip(d["campaign_id"], d["entry_route"])]
            parts.append(_sorted(d, "campaign_id"))
            meta["campaigns"] = int(by_campaign["campaign_id"].nunique())
        if by_route is not None:
            d = _large_enough(by_route.loc[by_route["characteristic"].isin(chars)],
                              ["entry_route"], min_group_size)
            d = d.loc[d["stage"] == TREND_STAGE].copy()
            d["segment"] = [f"Entry route {r}" for r in d["entry_route"]]
            parts.append(_sorted(d, "entry_route"))
            meta["entry_routes"] = int(by_route["entry_route"].nunique())
        if parts:
            meta["plotted_figures"] = plotted_table(
                pd.concat(parts), ["Segment", "Characteristic", "Group", "Stage", "With a result",
                                   "Passed", "Pass rate", "Ratio to reference", "Flagged"])
        if by_campaign is not None and not by_campaign.empty:
            alls = by_campaign.loc[(by_campaign["characteristic"] == contract.ALL_CHARACTERISTIC)
                                   & (by_campaign["stage"] == TREND_STAGE)]
            if len(alls):
                latest = alls.sort_values("campaign_id").iloc[-1]
                if (v := _finite(latest["pass_rate"])) is not None:
                    meta[f"{TREND_STAGE}_pass_rate_latest_campaign"] = v
    return meta, note


# --- the asset ----------------------------------------------------------------------------


@dg.multi_asset(
    specs=[_spec(name) for name in CHART_ASSETS],
    check_specs=[_pictures_spec(name) for name in CHART_ASSETS],
    group_name="charts",
    can_subset=False,
)
def charts(context: dg.AssetExecutionContext, warehouse: FunnelWarehouse) -> Iterator[dg.MaterializeResult]:
    from funnel_pipeline.charts import render
    from funnel_pipeline.charts.report import write_html_report

    settings = warehouse.settings()
    folder = Path(settings.reports_dir) / CHARTS_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    base_url = settings.chart_base_url
    min_size = settings.chart_min_group_size
    marts = read_marts(settings)
    per_asset = build_figures(marts, min_group_size=min_size)
    everything = {n: f for figs in per_asset.values() for n, f in figs.items()}

    report = write_html_report(
        everything, folder, title="Recruitment funnel: where applicants drop out",
        summary_markdown=marts.get("drop_out_summary"))
    report_url = f"{base_url.rstrip('/')}/{report.name}"

    failed: dict[str, str] = {}
    try:
        # Chromium starts at the first picture not already on disk (~3 s, then ~0.3 s
        # each): a run whose figures did not change never starts it
        files = render.write_pngs(everything, folder, failed=failed)
    finally:
        render.stop_renderer()
    for reason in sorted(set(failed.values())):
        context.log.error(f"chart pictures were not drawn ({sum(r == reason for r in failed.values())}"
                          f" of {len(everything)}): {inert.shorten(reason, 300)}")

    for name in CHART_ASSETS:
        shown = per_asset.get(name) or (
            {n: everything[n] for n in ("Funnel", _name("Pass rates", HEADLINE_CHARACTERISTIC))
             if n in everything} if name == "report" else {})
        meta, note = _tables_and_numbers(name, marts, min_size)
        links = {n: files[n].name for n in shown if n in files}
        markdown = render.chart_markdown(links, base_url, report_filename=report.name)
        extra = [note] if note else []
        not_drawn = [n for n in shown if n in failed]
        if not_drawn:
            extra.append(f"*{len(not_drawn)} chart picture(s) could not be drawn this run: see "
                         "the check pictures_drawn, and the interactive report.*")
        for line in extra:
            if len(markdown) + len(line) + 2 < render.MARKDOWN_LIMIT:
                markdown = f"{markdown}\n\n{line}"
        meta = {
            "charts": dg.MetadataValue.md(markdown),
            **meta,
            "report": dg.MetadataValue.url(report_url),
            "report_file": dg.MetadataValue.path(str(report.resolve())),
            "chart_count": len(everything) if name == "report" else len(shown),
        }
        if name == "report":
            meta["drop_out_summary_included"] = bool(marts.get("drop_out_summary"))
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
