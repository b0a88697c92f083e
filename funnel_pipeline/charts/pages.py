"""The chart pages of the Dagster UI: which figures, tables and numbers each page shows.

One page (asset `charts/<page>`) per question a recruitment lead asks; each shows its
charts inline, a table of the plotted figures and a few headline counts. Everything is
read from published marts (aggregates) and named from the funnel configuration, so a
force's own stages and characteristics appear with its own labels.

Which characteristic leads the funnel page and which stage the trend pages follow is
decided by the data, not by code: the characteristic and stage with the largest total
shortfall among the flagged drop-out points over all applicants (else the first
characteristic and the second stage).

Sized for the UI (issue 18): pictures are `figures.DEFAULT_WIDTH` wide; tables have a few
short columns, and metadata keys have no word longer than `KEY_WORD_LIMIT` letters,
because the key column is as wide as its longest word and every pixel it takes is taken
from the pictures (measured in tests/e2e/test_ui_e2e.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import duckdb
import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline import inert, warehouse
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, NOT_STATED, FunnelConfig
from funnel_pipeline.marts import ALL_ROUTES, UNKNOWN_ENTRY_ROUTE

from . import _frames
from . import figures as F
from .labels import Labels, pct

PASS_RATES = "stage_pass_rates"
BY_ENTRY_ROUTE = "stage_pass_rates_by_entry_route"
BY_YEAR = "stage_pass_rates_by_year"
DROP_OUT_POINTS = "drop_out_points"
RETENTION = "retention"
WORKFORCE_FLOWS = "workforce_flows"
#: the marts the pages read
MARTS_READ: tuple[str, ...] = (PASS_RATES, BY_ENTRY_ROUTE, BY_YEAR, DROP_OUT_POINTS, RETENTION,
                               WORKFORCE_FLOWS)
#: not a mart: the Kaplan–Meier steps of sql/charts/retention_curves.sql
CURVES = "retention_curves"
#: how far the retention curves reach: ten years of service, in months
CURVE_MONTHS = 120
#: the longest word a metadata key of a chart page may have (see the module docstring)
KEY_WORD_LIMIT = 8


@dataclass(frozen=True)
class Page:
    question: str
    reads: tuple[str, ...]


PAGES: dict[str, Page] = {
    "funnel": Page("How many applicants get through each stage, and where does each group fall "
                   "away? The overall funnel, the funnel of the characteristic with the largest "
                   "drop-out, and its pass rates.", (PASS_RATES, DROP_OUT_POINTS)),
    "pass_rates": Page("Which groups pass a stage less often than the reference group, beyond "
                       "chance? Pass rate per stage and group with 95% ranges, four-fifths marks "
                       "and flagged drop-out points, one chart per characteristic.", (PASS_RATES,)),
    "adverse_impact": Page("How sure are we of each gap? Each group's pass rate as a ratio to the "
                           "reference group's, with the range it very likely lies in (95%), stage "
                           "by stage, against the four-fifths line.", (PASS_RATES,)),
    "trends": Page("Is the gap closing? Pass rate at the stage with the largest drop-out, per "
                   "group, year of application by year with 95% ranges, and by entry route.",
                   (BY_YEAR, BY_ENTRY_ROUTE, DROP_OUT_POINTS)),
    "retention": Page("Do we keep the recruits we win? How long recruits stay by group "
                      "(Kaplan–Meier), and hires and leavers by entry route with each group's "
                      "share, this financial year against last.", (RETENTION, WORKFORCE_FLOWS)),
    "report": Page("Every chart of the run, interactive (hover for the counts), with the "
                   "drop-out summary, in one HTML file that works offline.", MARTS_READ),
}


# --- reading ----------------------------------------------------------------------------


def read_marts(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame | None]:
    """The marts the pages read and the retention curves, as frames; None for a table
    that does not exist (yet)."""
    present = {f"{s}.{t}" for s, t in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
    out: dict[str, pd.DataFrame | None] = {
        # ORDER BY ALL: a table's scan order is not fixed, and the same data must draw
        # the same figures (their hashes name the files a rebuild keeps linking to)
        t: (con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").df()
            if f"marts.{t}" in present else None)
        for t in MARTS_READ}
    needed = {"staging.survival_steps", "staging.recruits", "core.leavers",
              "config.characteristics", "config.groups"}
    out[CURVES] = pd.DataFrame(warehouse.query_sql_file(
        con, "charts/retention_curves.sql",
        {"all_characteristic": ALL_CHARACTERISTIC, "max_months": CURVE_MONTHS}),
        columns=["characteristic", "group_name", "month", "retained", "at_risk", "recruits",
                 "leavers", "leavers_loaded", "observed_until"]) if needed <= present else None
    return out


@dataclass(frozen=True)
class Focus:
    characteristic: str
    stage: str


def focus(marts: Mapping[str, pd.DataFrame | None], config: FunnelConfig) -> Focus:
    """Where the data says to look (see the module docstring)."""
    points = marts.get(DROP_OUT_POINTS)
    characteristic, stage = config.characteristics[0].name, config.stages[1].name
    if points is not None and not points.empty:
        overall = points.loc[points["source_table"] == PASS_RATES]
        if not overall.empty:
            characteristic = _largest_shortfall(
                overall, "characteristic", [c.name for c in config.characteristics])
            stage = _largest_shortfall(overall, "stage", [s.name for s in config.stages])
    return Focus(characteristic, stage)


def _largest_shortfall(points: pd.DataFrame, by: str, preferred: list[str]) -> str:
    """The `by` value with the largest total shortfall; a tie (to 9 decimals: a float sum's
    last bits depend on the order it was added in) goes to the first in `preferred`, so an
    incremental run and a rebuild of the same data pick the same page focus."""
    totals = points.groupby(by)["shortfall"].sum().round(9)
    tied = set(totals.index[totals == totals.max()].astype(str))
    return next((k for k in preferred if k in tied), min(tied))


@dataclass(frozen=True)
class Retention:
    """What the retention page can say: curves only when leavers were loaded."""

    curves: pd.DataFrame | None
    table: pd.DataFrame | None
    observed_until: datetime | None

    @property
    def measurable(self) -> bool:
        return (self.curves is not None and self.table is not None and not self.curves.empty
                and int(self.curves["leavers_loaded"].iloc[0]) > 0)

    @property
    def consistent(self) -> bool:
        """The curves count the recruits and leavers the published mart counts (a
        recruits table newer than the published marts, after a failed publish, does not)."""
        if not self.measurable:
            return False
        curves = self.curves.groupby(["characteristic", "group_name"])[
            ["recruits", "leavers"]].max()
        mart = self.table.set_index(["characteristic", "group_name"])[["recruits", "leavers"]]
        return curves.sort_index().astype(int).equals(mart.sort_index().astype(int))


def retention_of(marts: Mapping[str, pd.DataFrame | None]) -> Retention:
    curves = marts.get(CURVES)
    until = None
    if curves is not None and not curves.empty and pd.notna(curves["observed_until"].iloc[0]):
        until = pd.Timestamp(curves["observed_until"].iloc[0]).to_pydatetime()
    return Retention(curves, marts.get(RETENTION), until)


def month_year(moment: datetime | None) -> str | None:
    """`June 2025`: the end of the data, to the month only (no day of anyone's leaving)."""
    return moment.strftime("%B %Y") if moment else None


# --- figures ----------------------------------------------------------------------------


def _name(what: str, label: str) -> str:
    """Figure name: the image's alt text in the UI; `what` alone (slugged) names its file
    (`render.chart_filename` keeps the label, which may come from input, out of URLs)."""
    return f"{what}: {label}"


@dataclass(frozen=True)
class Charts:
    """The figures of a run: what each UI page shows, and every chart of the report."""

    pages: dict[str, dict[str, go.Figure]]
    report: dict[str, go.Figure]


def build_figures(marts: Mapping[str, pd.DataFrame | None], config: FunnelConfig, *,
                  min_group_size: int, width: int = F.DEFAULT_WIDTH) -> Charts:
    """Page → {figure name → Plotly figure}; names become file names and alt text.

    The report holds every page's charts and, beyond them, the at-a-glance heatmaps and
    the entry-route charts of every characteristic (a page shows those of the focus
    characteristic only: the UI shows a page's markdown only below 1,000 characters).
    """
    labels = Labels(config)
    plain = Labels(config, medium="text")
    rates, by_route, by_year = (marts.get(t) for t in (PASS_RATES, BY_ENTRY_ROUTE, BY_YEAR))
    where = focus(marts, config)
    kw = {"labels": labels, "min_group_size": min_group_size, "width": width}
    ui: dict[str, dict[str, go.Figure]] = {name: {} for name in PAGES if name != "report"}
    extra: dict[str, dict[str, go.Figure]] = {name: {} for name in ui}
    names = [c.name for c in config.characteristics]
    if rates is not None:
        h = where.characteristic
        ui["funnel"] = {
            "Funnel": F.funnel_overall(rates, labels=labels, width=width),
            _name("Funnel", plain.characteristic_label(h)): F.funnel_by_group(rates, h, **kw),
            _name("Pass rates", plain.characteristic_label(h)):
                F.pass_rates_by_group(rates, h, **kw),
        }
        ui["pass_rates"] = {_name("Pass rates", plain.characteristic_label(c)):
                            F.pass_rates_by_group(rates, c, **kw) for c in names}
        ui["adverse_impact"] = {_name("Ratios", plain.characteristic_label(c)):
                                F.adverse_impact_forest(rates, c, **kw) for c in names}
        extra["adverse_impact"] = {_name("Ratios at a glance", plain.characteristic_label(c)):
                                   F.adverse_impact_heatmap(rates, c, **kw) for c in names}
    if by_year is not None:
        ui["trends"].update({
            _name("Years", plain.characteristic_label(c)):
                F.pass_rate_trend_by_year(by_year, c, where.stage, **kw) for c in names})
    if by_route is not None:
        routes = {_name("Entry routes", plain.characteristic_label(c)):
                  F.pass_rates_by_entry_route(by_route, c, where.stage, **kw) for c in names}
        lead = _name("Entry routes", plain.characteristic_label(where.characteristic))
        ui["trends"][lead] = routes.pop(lead)
        extra["trends"] = routes
    kept = retention_of(marts)
    if kept.table is not None and kept.curves is not None:
        if not kept.measurable:
            ui["retention"] = {"Retention": F.no_leavers(width)}
        elif kept.consistent:
            ui["retention"] = {
                _name("Retention", plain.characteristic_label(c)): F.retention_curves(
                    kept.curves, kept.table, c, observed_until=month_year(kept.observed_until),
                    **kw) for c in names}
    report = {n: f for page in ui for n, f in (*ui[page].items(), *extra[page].items())}
    return Charts(ui, report)


def shown_on(name: str, charts: Charts) -> dict[str, go.Figure]:
    """The figures page `name` shows (the report page: the first two of the funnel)."""
    if name == "report":
        return dict(list(charts.pages.get("funnel", {}).items())[:2])
    return charts.pages.get(name, {})


# --- tables and headline numbers (aggregates only, never ids) ---------------------------


def _rate(v: object, digits: int = 1) -> str | None:
    f = _frames.num(v)
    return None if f is None else pct(f, digits)


def _interval(low: object, high: object, percent: bool) -> str | None:
    lo, hi = _frames.num(low), _frames.num(high)
    if lo is None or hi is None:
        return None
    return f"{pct(lo, 1)}–{pct(hi, 1)}" if percent else f"{F.ratio_text(lo)}–{F.ratio_text(hi)}"


def _with_range(value: str | None, interval: str | None) -> str | None:
    """`52.1% (45.2%–58.9%)`: one column under a short header, so the cell wraps between
    the value and its interval (the UI never wraps a header; two columns of unbreakable
    numbers made the table wider than the value cell at a 1280 px window, measured in
    tests/e2e/test_ui_e2e.py)."""
    if value is None:
        return None
    return f"{value} ({interval})" if interval else value


def _large_enough(frame: pd.DataFrame, keys: list[str], min_group_size: int) -> pd.DataFrame:
    """Rows of groups with at least `min_group_size` applications (as the charts show them)."""
    if frame.empty:
        return frame
    sizes = _frames.applications(frame, [*keys, "characteristic", "group_name"])
    ok = [sizes.get(tuple(r), 0) >= min_group_size
          for r in frame[[*keys, "characteristic", "group_name"]].itertuples(index=False)]
    return frame.loc[ok]


def group_names(frame: pd.DataFrame, plain: Labels) -> list[str]:
    """Each row's group as the tables name it: its label, and its characteristic's label
    in front where the same label stands for groups of two characteristics (`Not stated`,
    `White` of ethnicity and of ethnic-minority background)."""
    pairs = list(zip(frame["characteristic"], frame["group_name"]))
    label = {p: plain.group_label(*p) for p in set(pairs)}
    owners: dict[str, set[str]] = {}
    for (c, _), text in label.items():
        owners.setdefault(text, set()).add(c)
    return [label[p] if len(owners[label[p]]) == 1
            else f"{plain.characteristic_label(p[0])}: {label[p]}" for p in pairs]


#: output column: (how a row gives it, type)
_COLUMNS: dict[str, tuple[str, str]] = {
    "When": ("segment", "string"),
    "Group": ("group", "string"),
    "Stage": ("stage_label", "string"),
    "Passed": ("passed", "int"),
    "Of all": ("of_all", "string"),
    "Pass rate": ("rate", "string"),
    "Rate (95%)": ("rate_with_range", "string"),
    "Ratio": ("ratio", "string"),
    "Ratio (95%)": ("ratio_with_range", "string"),
    "Flagged": ("flag", "string"),
}


def plotted_table(frame: pd.DataFrame, columns: list[str], plain: Labels
                  ) -> dg.TableMetadataValue:
    """`MetadataValue.table` of the plotted figures: few, short columns, rates as rounded
    percentages (what the charts print), never raw floats."""
    d = frame.copy()
    if not d.empty:
        d["group"] = group_names(d, plain)
        d["stage_label"] = [plain.stage_label(s) for s in d["stage"]]
        d["of_all"] = [_rate(v, 0) for v in d["cumulative_pass_rate"]]
        d["rate"] = [_rate(v) for v in d["pass_rate"]]
        d["rate_with_range"] = [_with_range(v, _interval(lo, hi, True)) for v, lo, hi in zip(
            d["rate"], d["pass_rate_ci_low"], d["pass_rate_ci_high"])]
        d["ratio"] = [None if _frames.num(v) is None else F.ratio_text(float(v))
                      for v in d["adverse_impact_ratio"]]
        d["ratio_with_range"] = ([_with_range(v, _interval(lo, hi, False)) for v, lo, hi in zip(
            d["ratio"], d["air_ci_low"], d["air_ci_high"])] if "air_ci_low" in d else None)
        d["flag"] = ["Yes" if _frames.is_true(v) else "" for v in d["flagged"]]
    return _table(d, columns)


def _table(d: pd.DataFrame, columns: list[str]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _COLUMNS.get(name, ("", "string"))[1])
                                     for name in columns])
    source = {name: _COLUMNS[name][0] if name in _COLUMNS else name for name in columns}
    records = [dg.TableRecord({name: _value(row[source[name]]) for name in columns})
               for _, row in d.iterrows()]
    return dg.MetadataValue.table(records=records, schema=schema)


def _value(v: object) -> object:
    if v is None or (not isinstance(v, str) and pd.isna(v)):  # type: ignore[arg-type]
        return None
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return bool(v)
    if type(v).__name__.startswith("int"):
        return int(v)  # type: ignore[call-overload]
    return inert.shorten(v)


def _sorted(frame: pd.DataFrame, plain: Labels, *keys: str) -> pd.DataFrame:
    order = {c: i for i, c in enumerate((ALL_CHARACTERISTIC, *plain.characteristic_names))}
    d = frame.copy()
    d["_c"] = [order.get(c, 99) for c in d["characteristic"]]
    d["_g"] = 0
    for c in d["characteristic"].unique():
        groups = plain.group_order(c, list(d.loc[d["characteristic"] == c, "group_name"].unique()))
        mask = d["characteristic"] == c
        d.loc[mask, "_g"] = [groups.index(g) for g in d.loc[mask, "group_name"]]
    return d.sort_values([*keys, "_c", "_g", "stage_order"], kind="stable")


def _flagged(frame: pd.DataFrame) -> int:
    return int(sum(_frames.is_true(v) for v in frame["flagged"]))


def tables_and_numbers(name: str, marts: Mapping[str, pd.DataFrame | None],
                       config: FunnelConfig, min_group_size: int) -> tuple[dict, list[str]]:
    """Table metadata + headline counts of one page, and notes for its markdown."""
    plain = Labels(config, medium="text")
    rates = marts.get(PASS_RATES)
    names = list(plain.characteristic_names)
    meta: dict = {}
    if name == "retention":
        return _retention_tables(marts, plain, min_group_size)
    if name in ("funnel", "pass_rates", "adverse_impact", "report") and rates is None:
        return meta, [f"*marts.{PASS_RATES} does not exist yet: no charts.*"]
    if name == "funnel":
        all_rows = rates.loc[rates["characteristic"] == ALL_CHARACTERISTIC]
        h = focus(marts, config).characteristic
        head = _large_enough(rates.loc[rates["characteristic"] == h], [], min_group_size)
        meta["plotted figures"] = plotted_table(
            _sorted(pd.concat([all_rows, head]), plain),
            ["Group", "Stage", "Passed", "Of all", "Pass rate"], plain)
        first = all_rows.loc[all_rows["stage_order"] == 1, "entered"]
        if len(first):
            meta["applied"] = int(first.iloc[0])
        return meta, [("*Of all: share of the group's applications that passed the stage. Pass "
                      "rate: of those with a result at the stage.*")]
    if name in ("pass_rates", "adverse_impact"):
        d = _large_enough(rates.loc[rates["characteristic"].isin(names)], [], min_group_size)
        if name == "pass_rates":
            cols = ["Group", "Stage", "Rate (95%)", "Flagged"]
        else:
            d = d.loc[d["adverse_impact_ratio"].notna()]
            cols = ["Group", "Stage", "Ratio (95%)", "Flagged"]
        meta["plotted figures"] = plotted_table(_sorted(d, plain), cols, plain)
        meta["flagged"] = _flagged(d)
        what = ("Rate: of those with a result at the stage" if name == "pass_rates" else
                "Ratio: the group's pass rate ÷ the reference group's")
        return meta, [f"*{what}; in brackets, the range it very likely lies in (95%).*"]
    if name == "trends":
        where = focus(marts, config)
        parts = []
        by_year, by_route = marts.get(BY_YEAR), marts.get(BY_ENTRY_ROUTE)
        chars = (ALL_CHARACTERISTIC, *names)
        if by_year is not None:
            d = _large_enough(by_year.loc[by_year["characteristic"].isin(chars)],
                              ["application_year"], min_group_size)
            d = d.loc[d["stage"] == where.stage].copy()
            d["segment"] = [str(int(y)) for y in d["application_year"]]
            parts.append(_sorted(d, plain, "application_year"))
        if by_route is not None:
            d = _large_enough(by_route.loc[by_route["characteristic"].isin(
                (ALL_CHARACTERISTIC, where.characteristic))], ["entry_route"], min_group_size)
            d = d.loc[d["stage"] == where.stage].copy()
            d["segment"] = [f"Route {r}" for r in d["entry_route"]]
            parts.append(_sorted(d, plain, "entry_route"))
        if parts:
            meta["plotted figures"] = plotted_table(
                pd.concat(parts), ["When", "Group", "Pass rate", "Ratio", "Flagged"], plain)
            return meta, [(f"*Pass rates at {inert.md(plain.stage_label(where.stage))}; When: "
                          "the year of application, or the entry route.*")]
    return meta, []


# --- the board table: hires and leavers by entry route, this year against last -----------


def _years(flows: pd.DataFrame) -> list[str]:
    """The last two financial years, oldest first ('2024/25' sorts as text)."""
    present = sorted(flows["financial_year"].unique())
    if not present:
        return []
    this = present[-1]
    start = int(this[:4])
    last = f"{start - 1}/{start % 100:02d}"
    return [last, this]


def _year_header(year: str, until: datetime | None) -> str:
    """A year's column header; a year still running says so."""
    end = pd.Timestamp(f"{int(year[:4]) + 1}-04-01", tz="UTC")
    return f"{year} so far" if until is not None and pd.Timestamp(until) < end else year


def board_table(flows: pd.DataFrame, flow: str, reference: Mapping[str, str],
                plain: Labels, until: datetime | None) -> dg.TableMetadataValue | None:
    """Hires (or leavers) by entry route: the count, then each stated group's share
    (other than the reference group, whose share is what the others leave), for the
    last two financial years."""
    years = _years(flows)
    d = flows.loc[(flows["flow"] == flow) & flows["financial_year"].isin(years)]
    if d.empty:
        return None
    headers = [_year_header(y, until) for y in years]
    routes = sorted(d["entry_route"].unique(),
                    key=lambda r: (r != ALL_ROUTES, r == UNKNOWN_ENTRY_ROUTE, str(r).lower()))
    shown = d.loc[[g != reference.get(c) and g != NOT_STATED
                   for c, g in zip(d["characteristic"], d["group_name"])]]
    shown = _sorted(shown.assign(stage_order=0), plain)
    pairs = shown[["characteristic", "group_name"]].drop_duplicates()
    labels = dict(zip(zip(pairs["characteristic"], pairs["group_name"]), group_names(pairs, plain)))
    rows = []
    for route in routes:
        r = d.loc[d["entry_route"] == route]
        total = r.groupby("financial_year")["total"].max()
        rows.append({"Route": route, "Group": f"All {flow}",
                     **{h: f"{int(total.get(y, 0)):,}" for h, y in zip(headers, years)}})
        for (c, g), label in labels.items():
            cells = r.loc[(r["characteristic"] == c) & (r["group_name"] == g)].set_index(
                "financial_year")
            rows.append({"Route": "", "Group": label, **{
                h: (f"{pct(_frames.num(cells.loc[y, 'share']))} ({int(cells.loc[y, 'group_count'])})"
                    if y in cells.index and _frames.num(cells.loc[y, "share"]) is not None
                    else "–") for h, y in zip(headers, years)}})
    for row in rows:
        row["Route"] = inert.shorten(row["Route"], 40) if row["Route"] else ""
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string")
                                     for c in ("Route", "Group", *headers)])
    return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in rows], schema=schema)


def _retention_tables(marts: Mapping[str, pd.DataFrame | None], plain: Labels,
                      min_group_size: int) -> tuple[dict, list[str]]:
    kept = retention_of(marts)
    flows = marts.get(WORKFORCE_FLOWS)
    meta: dict = {}
    notes: list[str] = []
    if kept.table is None or flows is None:
        return meta, [f"*marts.{RETENTION} does not exist yet: no charts.*"]
    everyone = kept.table.loc[kept.table["characteristic"] == ALL_CHARACTERISTIC, "recruits"]
    meta["recruits"] = int(everyone.iloc[0]) if len(everyone) else 0
    if not kept.measurable:
        notes.append("*No leavers file loaded: no retention curve, and no leavers table.*")
    elif not kept.consistent:
        notes.append("*Retention curves not drawn: the recruits table does not match the "
                     "published retention table (the last publish failed?).*")
    else:
        meta["flagged"] = _flagged(kept.table)
    reference = {c.name: c.reference_group for c in plain.config.characteristics}
    for flow in ("hires", "leavers"):
        if flow == "leavers" and not kept.measurable:
            continue
        table = board_table(flows, flow, reference, plain, kept.observed_until)
        if table is not None:
            meta[flow] = table
    years = _years(flows)
    if years and _year_header(years[-1], kept.observed_until) != years[-1]:
        notes.append(f"*{years[-1]} is not over: its figures run to "
                     f"{month_year(kept.observed_until)}. Shares are of recruits who stated "
                     "the characteristic; in brackets, how many.*")
    elif years:
        notes.append("*Shares are of recruits who stated the characteristic; in brackets, how "
                     "many.*")
    return meta, notes
