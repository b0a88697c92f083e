"""The chart pages of the Dagster UI: which figures, tables and numbers each page shows.

One page (asset `charts/<page>`) per question a recruitment lead asks; each shows its
charts inline, a table of the plotted figures and a few headline numbers. Everything is
read from published marts (aggregates) and named from the funnel configuration, so a
force's own stages and characteristics appear with its own labels.

Which characteristic leads the funnel page and which stage the trend pages follow is
decided by the data, not by code: the characteristic and stage with the largest total
shortfall among the flagged drop-out points over all applicants (else the first
characteristic and the second stage).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg
import duckdb
import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, FunnelConfig

from . import _frames
from . import figures as F
from .labels import Labels

PASS_RATES = "stage_pass_rates"
BY_ENTRY_ROUTE = "stage_pass_rates_by_entry_route"
BY_YEAR = "stage_pass_rates_by_year"
DROP_OUT_POINTS = "drop_out_points"
#: the marts the pages read
MARTS_READ: tuple[str, ...] = (PASS_RATES, BY_ENTRY_ROUTE, BY_YEAR, DROP_OUT_POINTS)


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
    "adverse_impact": Page("How does each group's pass rate compare with the reference group's, "
                           "stage by stage? Ratios (four-fifths rule), with differences that could "
                           "be chance faded.", (PASS_RATES,)),
    "trends": Page("Is the gap closing? Pass rate at the stage with the largest drop-out, per "
                   "group, year of application by year, and by entry route.",
                   (BY_YEAR, BY_ENTRY_ROUTE, DROP_OUT_POINTS)),
    "report": Page("Every chart of the run, interactive (hover for the counts), with the "
                   "drop-out summary, in one HTML file that works offline.",
                   (PASS_RATES, BY_ENTRY_ROUTE, BY_YEAR, DROP_OUT_POINTS)),
}


# --- reading ----------------------------------------------------------------------------


def read_marts(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame | None]:
    """The marts the pages read, as frames; None for a table that does not exist (yet)."""
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
    ).fetchall()}
    return {t: (con.execute(f"SELECT * FROM marts.{t}").df() if t in present else None)
            for t in MARTS_READ}


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
            characteristic = str(overall.groupby("characteristic")["shortfall"].sum().idxmax())
            stage = str(overall.groupby("stage")["shortfall"].sum().idxmax())
    return Focus(characteristic, stage)


# --- figures ----------------------------------------------------------------------------


def _name(what: str, label: str) -> str:
    """Figure name: the image's alt text in the UI and (slugged) its file name."""
    return f"{what}: {label}"


def build_figures(marts: Mapping[str, pd.DataFrame | None], config: FunnelConfig, *,
                  min_group_size: int, width: int = 450) -> dict[str, dict[str, go.Figure]]:
    """Page → {figure name → Plotly figure}; names become file names and alt text."""
    labels = Labels(config)
    plain = Labels(config, medium="text")
    rates, by_route, by_year = (marts.get(t) for t in (PASS_RATES, BY_ENTRY_ROUTE, BY_YEAR))
    where = focus(marts, config)
    kw = {"labels": labels, "min_group_size": min_group_size, "width": width}
    out: dict[str, dict[str, go.Figure]] = {name: {} for name in PAGES if name != "report"}
    names = [c.name for c in config.characteristics]
    if rates is not None:
        h = where.characteristic
        out["funnel"] = {
            "Funnel": F.funnel_overall(rates, labels=labels, width=width),
            _name("Funnel", plain.characteristic_label(h)): F.funnel_by_group(rates, h, **kw),
            _name("Pass rates", plain.characteristic_label(h)):
                F.pass_rates_by_group(rates, h, **kw),
        }
        out["pass_rates"] = {_name("Pass rates", plain.characteristic_label(c)):
                             F.pass_rates_by_group(rates, c, **kw) for c in names}
        out["adverse_impact"] = {_name("Ratios", plain.characteristic_label(c)):
                                 F.adverse_impact_heatmap(rates, c, **kw) for c in names}
    if by_year is not None:
        out["trends"].update({
            _name("Years", plain.characteristic_label(c)):
                F.pass_rate_trend_by_year(by_year, c, where.stage, **kw) for c in names})
    if by_route is not None:
        out["trends"].update({
            _name("Entry routes", plain.characteristic_label(c)):
                F.pass_rates_by_entry_route(by_route, c, where.stage, **kw) for c in names})
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


def plotted_table(frame: pd.DataFrame, columns: list[str], plain: Labels
                  ) -> dg.TableMetadataValue:
    """`MetadataValue.table` of the plotted figures, with plain-English column names."""
    d = frame.copy()
    if not d.empty:
        d["characteristic_label"] = [plain.characteristic_label(c) for c in d["characteristic"]]
        d["group_label"] = [plain.group_label(c, g)
                            for c, g in zip(d["characteristic"], d["group_name"])]
        d["stage_label"] = [plain.stage_label(s) for s in d["stage"]]
        d["decided"] = d["passed"] + d["failed"] + d["withdrawn"]
        d["reference_label"] = [plain.group_label(c, r) if isinstance(r, str) else None
                                for c, r in zip(d["characteristic"], d["reference_group"])]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, _COLUMNS[name][1]) for name in columns])
    records = [dg.TableRecord({name: _value(row[_COLUMNS[name][0]]) for name in columns})
               for _, row in d.iterrows()]
    return dg.MetadataValue.table(records=records, schema=schema)


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


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def tables_and_numbers(name: str, marts: Mapping[str, pd.DataFrame | None],
                       config: FunnelConfig, min_group_size: int) -> tuple[dict, str]:
    """Table metadata + headline numbers of one page, and a note on what is missing."""
    plain = Labels(config, medium="text")
    rates = marts.get(PASS_RATES)
    names = list(plain.characteristic_names)
    meta: dict = {}
    if name in ("funnel", "pass_rates", "adverse_impact", "report") and rates is None:
        return meta, f"*marts.{PASS_RATES} does not exist yet: no charts.*"
    if name == "funnel":
        all_rows = rates.loc[rates["characteristic"] == ALL_CHARACTERISTIC]
        h = focus(marts, config).characteristic
        head = _large_enough(rates.loc[rates["characteristic"] == h], [], min_group_size)
        meta["plotted_figures"] = plotted_table(
            _sorted(pd.concat([all_rows, head]), plain),
            ["Characteristic", "Group", "Stage", "Applications at stage", "With a result",
             "Passed", "Pass rate", "Share of group's applications", "Flagged"], plain)
        first = all_rows.loc[all_rows["stage_order"] == 1, "entered"]
        if len(first):
            meta["applications"] = int(first.iloc[0])
    elif name in ("pass_rates", "adverse_impact"):
        d = _large_enough(rates.loc[rates["characteristic"].isin(names)], [], min_group_size)
        if name == "pass_rates":
            cols = ["Characteristic", "Group", "Stage", "With a result", "Passed", "Pass rate",
                    "95% range low", "95% range high", "Flagged"]
        else:
            d = d.loc[d["adverse_impact_ratio"].notna()]
            cols = ["Characteristic", "Group", "Stage", "Reference group", "Ratio to reference",
                    "p-value", "Flagged"]
        meta["plotted_figures"] = plotted_table(_sorted(d, plain), cols, plain)
        meta["flagged_drop_out_points"] = int(d["flagged"].fillna(False).astype(bool).sum())
    elif name == "trends":
        where = focus(marts, config)
        parts = []
        by_year, by_route = marts.get(BY_YEAR), marts.get(BY_ENTRY_ROUTE)
        chars = (ALL_CHARACTERISTIC, *names)
        if by_year is not None:
            d = _large_enough(by_year.loc[by_year["characteristic"].isin(chars)],
                              ["application_year"], min_group_size)
            d = d.loc[d["stage"] == where.stage].copy()
            d["segment"] = [f"Applications of {y}" for y in d["application_year"]]
            parts.append(_sorted(d, plain, "application_year"))
        if by_route is not None:
            d = _large_enough(by_route.loc[by_route["characteristic"].isin(chars)],
                              ["entry_route"], min_group_size)
            d = d.loc[d["stage"] == where.stage].copy()
            d["segment"] = [f"Entry route {r}" for r in d["entry_route"]]
            parts.append(_sorted(d, plain, "entry_route"))
        if parts:
            meta["plotted_figures"] = plotted_table(
                pd.concat(parts), ["Segment", "Characteristic", "Group", "Stage", "With a result",
                                   "Passed", "Pass rate", "Ratio to reference", "Flagged"], plain)
    return meta, ""
