"""Chart builders: marts frames in, Plotly figures out, one per question a lead asks.

* `funnel_overall` — how many applications get through each stage?
* `funnel_by_group` — how far does each group get?
* `pass_rates_by_group` — at which stage does a group fall behind, and is that more
  than chance? (Wilson ranges, the four-fifths mark, flagged points.)
* `adverse_impact_heatmap` — the same question for every stage × group at a glance.
* `pass_rate_trend_by_year` / `pass_rates_by_entry_route` — is the gap closing over the
  years of application, and is it worse on one entry route?

Builders are pure (no I/O, no database) so they are tested on hand-made frames and
reused by the PNG renderer and the HTML report alike. Figures carry aggregates only —
whatever is in the marts, never a person. Groups with fewer than `min_group_size`
applications are left off and named in the chart's subtitle as "too small to read":
their rates swing too much to be read and small counts can point at individuals.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline import inert
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, ALL_GROUP, NOT_STATED
from funnel_pipeline.marts import SIGNIFICANCE_LEVEL

from . import _frames as fr
from ._dotplot import dot_plot
from ._layout import finish, hover_text, no_data, ratio_text, small_note
from .labels import ALL_COLOUR, Labels, pct, wrap

DEFAULT_WIDTH = 450
DEFAULT_MIN_GROUP_SIZE = 10
#: Adverse-impact colour scale: ColorBrewer PuOr (colour-blind safe, diverging);
#: orange = lower pass rate than the reference group, purple = higher.
AIR_COLOURSCALE = "PuOr"
#: The heatmap colours log2(ratio) so 0.5 and 2 are equally strong; clipped to ±1.
AIR_TICKS: tuple[float, ...] = (0.5, 0.8, 1.0, 1.25, 2.0)
MUTED_OPACITY = 0.3


# --- (a) funnels ----------------------------------------------------------------------


def funnel_overall(rates: pd.DataFrame, *, labels: Labels, width: int = DEFAULT_WIDTH) -> go.Figure:
    """Applications passing each stage, as counts and as a share of all applications.

    Reads the `all` rows of `marts.stage_pass_rates` (or of one campaign / route).
    """
    fr.require_columns(rates)
    title = "Recruitment funnel: applications passing each stage"
    d = fr.select(rates, ALL_CHARACTERISTIC)
    if d.empty:
        return no_data(title, "No applications have been loaded yet.", width)
    total = fr.applications(d).get(ALL_GROUP, 0)
    stage_labels = [labels.stage_label(s) for s in d["stage"]]
    shares = [
        fr.num(c) if fr.num(c) is not None else (fr.count(p) / total if total else None)
        for c, p in zip(d["cumulative_pass_rate"], d["passed"])
    ]
    text = [f"{fr.count(p):,} ({pct(s)})" for p, s in zip(d["passed"], shares)]
    hover = [
        hover_text("All applicants", lab, row, None)
        for lab, (_, row) in zip(stage_labels, d.iterrows())
    ]
    fig = go.Figure(
        go.Funnel(
            y=stage_labels,
            x=[fr.count(p) for p in d["passed"]],
            text=text,
            textinfo="text",
            textposition="auto",
            marker={"color": "#0072B2"},
            connector={"fillcolor": "#D6E6F4", "line": {"width": 0}},
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            name="Passed",
        )
    )
    fig.update_yaxes(title=None)
    fig.update_xaxes(visible=False)
    return finish(
        fig,
        title=title,
        notes=[
            f"{total:,} applications. Bar length: number who passed the stage; in brackets, as a share of all applications."
        ],
        width=width,
        plot_height=44 * len(stage_labels),
        left=130,
        bottom_axis=10,
    )


def funnel_by_group(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Each group's funnel on one scale: % of the group's applications passing each stage.

    Overlaid lines rather than one funnel per group, because group sizes differ by
    orders of magnitude and only shares can be compared by eye.
    """
    fr.require_columns(rates)
    clabel = labels.characteristic_label(characteristic)
    title = f"How far each group gets — {clabel}"
    d = fr.select(rates, characteristic)
    if d.empty:
        return no_data(title, f"No applications for {clabel.lower()} yet.", width)
    sizes = fr.applications(d)
    reference = fr.reference_of(d)
    groups = labels.group_order(characteristic, list(sizes))
    colours = labels.group_colours(characteristic, groups, reference)
    stages = [labels.stage_label(s) for s in labels.stage_names]
    fig = go.Figure()
    hidden: dict[str, list[str]] = {}
    for g in groups:
        glabel = labels.group_label(characteristic, g)
        if sizes[g] < min_group_size:
            hidden[glabel] = stages
            continue
        gd = d.loc[d["group_name"] == g]
        stage_labels = [labels.stage_label(s) for s in gd["stage"]]
        fig.add_trace(
            go.Scatter(
                x=stage_labels,
                y=[fr.num(v) for v in gd["cumulative_pass_rate"]],
                mode="lines+markers",
                name=glabel + (" (reference)" if g == reference else ""),
                line={
                    "color": colours[g],
                    "width": 3 if g == reference else 2,
                    "dash": "dot" if g == NOT_STATED else "solid",
                },
                marker={"size": 7, "symbol": "square" if g == reference else "circle"},
                hovertext=[
                    f"<b>{glabel}</b> — {lab}<br>{fr.count(p):,} of {sizes[g]:,} applications passed this stage ({pct(fr.num(c), 1)})"
                    for lab, p, c in zip(stage_labels, gd["passed"], gd["cumulative_pass_rate"])
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_xaxes(
        categoryorder="array",
        categoryarray=stages,
        tickmode="array",
        tickvals=stages,
        ticktext=[s.replace(" (", "<br>(") for s in stages],
        tickangle=0,
        tickfont={"size": 10},
    )
    fig.update_yaxes(title="Share of the group's applications", tickformat=".0%", range=[0, 1.02])
    return finish(
        fig,
        title=title,
        notes=[
            "Share of each group's applications that passed each stage. A steeper drop means more of that group is lost at that stage.",
            small_note(hidden, 1, min_group_size, ""),
        ],
        width=width,
        plot_height=260,
        legend_items=len(fig.data),
        bottom_axis=48,
    )


# --- (b) pass rates with uncertainty --------------------------------------------------


def pass_rates_by_group(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Pass rate per stage and group with Wilson 95% ranges, four-fifths marks and flags."""
    fr.require_columns(rates)
    clabel = labels.characteristic_label(characteristic)
    title = f"Pass rate at each stage — {clabel}"
    d = fr.select(rates, characteristic)
    if d.empty:
        return no_data(title, f"No applications for {clabel.lower()} yet.", width)
    per_group = fr.applications(d)
    present = [s for s in labels.stage_names if s in set(d["stage"])]
    sizes = {(s, g): n for g, n in per_group.items() for s in present}
    return dot_plot(
        d,
        labels=labels,
        characteristic=characteristic,
        row_col="stage",
        rows=[(s, labels.stage_label(s)) for s in present],
        sizes=sizes,  # type: ignore[arg-type]
        min_group_size=min_group_size,
        title=title,
        lead_note="Of applications with a result at a stage (passed, failed or withdrew), the share that passed.",
        size_where="",
        width=width,
    )


def pass_rates_by_entry_route(
    by_route: pd.DataFrame,
    characteristic: str,
    stage: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """One stage's pass rate per entry route and group (`marts.stage_pass_rates_by_entry_route`).

    The four-fifths mark and the flags are those of each route, as the mart computes
    every figure within its segment.
    """
    fr.require_columns(by_route, "entry_route")
    clabel = labels.characteristic_label(characteristic)
    title = f"Pass rate at {labels.stage_label(stage)} by entry route — {clabel}"
    d = fr.select(by_route.assign(entry_route=by_route["entry_route"].astype(str)), characteristic)
    sizes = fr.applications(d, ("entry_route", "group_name"))
    d = d.loc[d["stage"] == stage]
    if d.empty:
        return no_data(title, f"No {labels.stage_label(stage)} results by entry route yet.", width)
    routes = sorted(
        d["entry_route"].astype(str).unique(), key=lambda r: (r == "Unknown", r.lower())
    )
    return dot_plot(
        d,
        labels=labels,
        characteristic=characteristic,
        row_col="entry_route",
        rows=[(r, inert.chart(r) if r != "Unknown" else "Unknown route") for r in routes],
        sizes=sizes,  # type: ignore[arg-type]
        min_group_size=min_group_size,
        title=title,
        lead_note=f"Of applications with a result at {labels.stage_label(stage)}, the share that passed, on each entry route.",
        size_where=" on that route",
        width=width,
    )


# --- (c) adverse-impact heatmap -------------------------------------------------------


def _air_colour_value(air: float) -> float:
    """log2 of the ratio, clipped to [-1, 1] (ratio 0.5 … 2), so the scale is symmetric."""
    return max(-1.0, min(1.0, math.log2(air))) if air > 0 else -1.0


def adverse_impact_heatmap(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Stage × group grid of pass-rate ratios to the reference group.

    Orange: lower than the reference group; purple: higher; centred at 1. Cells whose
    difference could be chance (p ≥ 0.05) are faded and their numbers greyed; flagged
    cells (ratio < 0.8 and p < 0.05) are boxed. The reference group and Not stated have
    no ratio (the contract leaves it NULL), so they have no column.
    """
    fr.require_columns(rates)
    clabel = labels.characteristic_label(characteristic)
    title = f"Pass rate compared with the reference group — {clabel}"
    d = fr.select(rates, characteristic)
    reference = fr.reference_of(d)
    if d.empty or reference is None:
        return no_data(title, f"No comparison available for {clabel.lower()}.", width)
    ref_label = labels.group_label(characteristic, reference)
    sizes = fr.applications(d)
    candidates = [
        g
        for g in labels.group_order(characteristic, list(sizes))
        if g != reference and NOT_STATED not in g.split(" x ")  # no ratio for Not stated
    ]
    groups = [g for g in candidates if sizes[g] >= min_group_size]
    hidden = {labels.group_label(characteristic, g): ["all"] for g in candidates if g not in groups}
    if sizes.get(reference, 0) < min_group_size:
        return no_data(
            title,
            f"The reference group ({ref_label}) has fewer than {min_group_size} applications: no comparison.",
            width,
        )
    if not groups:
        return no_data(
            title,
            small_note(hidden, 1, min_group_size, "") or f"No group to compare with {ref_label}.",
            width,
        )
    stages = [s for s in labels.stage_names if s in set(d["stage"])]
    xs = [labels.group_label(characteristic, g) for g in groups]
    ys = [labels.stage_label(s) for s in stages]
    strong = [[None] * len(xs) for _ in ys]
    faded = [[None] * len(xs) for _ in ys]
    strong_text = [[""] * len(xs) for _ in ys]
    faded_text = [[""] * len(xs) for _ in ys]
    hover = [[""] * len(xs) for _ in ys]
    missing_x: list[str] = []
    missing_y: list[str] = []
    fig = go.Figure()
    for _, row in d.iterrows():
        if row["group_name"] not in groups or row["stage"] not in stages:
            continue
        i, j = stages.index(row["stage"]), groups.index(row["group_name"])
        air, p = fr.num(row["adverse_impact_ratio"]), fr.num(row["fisher_p_value"])
        hover[i][j] = hover_text(xs[j], ys[i], row, ref_label)
        if air is None:
            missing_x.append(xs[j])
            missing_y.append(ys[i])
            continue
        significant = p is not None and p < SIGNIFICANCE_LEVEL
        (strong if significant else faded)[i][j] = _air_colour_value(air)  # type: ignore[index]
        (strong_text if significant else faded_text)[i][j] = ratio_text(air)
        if fr.is_true(row["flagged"]):
            fig.add_shape(
                type="rect",
                x0=j - 0.47,
                x1=j + 0.47,
                y0=i - 0.45,
                y1=i + 0.45,
                xref="x",
                yref="y",
                line={"color": "#000000", "width": 3},
                layer="above",
            )
    common = {
        "x": xs,
        "y": ys,
        "coloraxis": "coloraxis",
        "hovertext": hover,
        "hovertemplate": "%{hovertext}<extra></extra>",
        "xgap": 2,
        "ygap": 2,
        "hoverongaps": False,
    }
    fig.add_trace(
        go.Heatmap(
            z=strong,
            text=strong_text,
            texttemplate="<b>%{text}</b>",
            textfont={"size": 13},
            name="Unlikely to be chance",
            **common,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=faded,
            text=faded_text,
            texttemplate="%{text}",
            textfont={"size": 12, "color": "#6E6E6E"},
            opacity=MUTED_OPACITY,
            name="Could be chance",
            **common,
        )
    )
    if missing_x:
        fig.add_trace(
            go.Scatter(
                x=missing_x,
                y=missing_y,
                mode="text",
                text=["no result"] * len(missing_x),
                textfont={"size": 10, "color": "#8C8C8C"},
                hoverinfo="skip",
                showlegend=False,
                name="No result",
            )
        )
    ticks = list(AIR_TICKS)
    fig.update_layout(
        coloraxis={
            "colorscale": AIR_COLOURSCALE,
            "cmin": -1,
            "cmax": 1,
            "cmid": 0,
            "colorbar": {
                "title": {"text": "Ratio", "side": "top", "font": {"size": 11}},
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": [f"{t:g}" for t in ticks],
                "thickness": 12,
                "len": 1,
                "y": 0.5,
                "yanchor": "middle",
                "tickfont": {"size": 10},
            },
        },
        plot_bgcolor="#F4F4F4",
    )
    ticks_x = [wrap(x.replace(" × ", " ×\n"), 16) for x in xs]
    fig.update_xaxes(
        side="top",
        showgrid=False,
        tickfont={"size": 11},
        tickangle=0,
        tickmode="array",
        tickvals=xs,
        ticktext=ticks_x,
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    notes = [
        (
            f"Each group's pass rate divided by the {ref_label} rate (1 = the same; below 0.8 fails the four-fifths rule). "
            "Orange: lower; purple: higher."
        ),
        f"Faded, grey numbers: the difference could be chance (p ≥ {SIGNIFICANCE_LEVEL:g}). Boxed: flagged (below 0.8 and unlikely to be chance).",
        small_note(hidden, 1, min_group_size, ""),
    ]
    return finish(
        fig,
        title=title,
        notes=notes,
        width=width,
        plot_height=48 * len(ys) + 26,
        left=130,
        bottom_axis=12,
        top_extra=14 * max(t.count("<br>") for t in ticks_x),
    )


# --- (d) trend over application years ------------------------------------------------


def pass_rate_trend_by_year(
    by_year: pd.DataFrame,
    characteristic: str,
    stage: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Each group's pass rate at one stage, application year by year, with 95% ranges
    (marts.stage_pass_rates_by_year): is the gap closing?

    Years are a real time axis (the UTC year of the application), unlike campaign
    labels. A point is left out where the group had fewer than `min_group_size`
    applications that year: the line shows a gap there.
    """
    fr.require_columns(by_year, "application_year")
    clabel = labels.characteristic_label(characteristic)
    title = f"Pass rate at {labels.stage_label(stage)}, year by year — {clabel}"
    src = by_year.assign(application_year=by_year["application_year"].astype(int))
    d = fr.select(src, characteristic)
    sizes = fr.applications(d, ("application_year", "group_name"))
    all_rows = fr.select(src, ALL_CHARACTERISTIC)
    d = d.loc[d["stage"] == stage]
    all_rows = all_rows.loc[all_rows["stage"] == stage]
    if d.empty:
        return no_data(title, f"No {labels.stage_label(stage)} results by year yet.", width)
    years = sorted(int(y) for y in d["application_year"].unique())
    reference = fr.reference_of(d)
    groups = labels.group_order(characteristic, list(d["group_name"].unique()))
    colours = labels.group_colours(characteristic, groups, reference)
    fig = go.Figure()
    if not all_rows.empty:
        ar = all_rows.set_index("application_year")
        fig.add_trace(go.Scatter(
            x=years, y=[fr.num(ar.loc[y, "pass_rate"]) if y in ar.index else None for y in years],
            mode="lines", name="All applicants",
            line={"color": ALL_COLOUR, "width": 1.5, "dash": "dash"},
            hovertemplate="All applicants — %{x}: %{y:.1%}<extra></extra>"))
    hidden: dict[str, list[str]] = {}
    for g in groups:
        glabel = labels.group_label(characteristic, g)
        gd = d.loc[d["group_name"] == g].set_index("application_year")
        ok = [y for y in years if y in gd.index and sizes.get((y, g), 0) >= min_group_size]
        small = [str(y) for y in years if y in gd.index and y not in ok]
        if small:
            hidden[glabel] = small
        if not ok:
            continue
        rate = [fr.num(gd.loc[y, "pass_rate"]) if y in ok else None for y in years]
        low = [fr.num(gd.loc[y, "pass_rate_ci_low"]) if y in ok else None for y in years]
        high = [fr.num(gd.loc[y, "pass_rate_ci_high"]) if y in ok else None for y in years]
        fig.add_trace(go.Scatter(
            x=years, y=rate, mode="lines+markers", connectgaps=False,
            name=glabel + (" (reference)" if g == reference else ""),
            line={"color": colours[g], "width": 2.5 if g == reference else 1.8},
            marker={"size": 7, "symbol": "square" if g == reference else "circle"},
            error_y={"type": "data", "symmetric": False,
                     "array": [(h - r) if h is not None and r is not None else None
                               for h, r in zip(high, rate)],
                     "arrayminus": [(r - lo) if lo is not None and r is not None else None
                                    for lo, r in zip(low, rate)],
                     "color": colours[g], "thickness": 1, "width": 3},
            hovertext=[hover_text(glabel, f"{labels.stage_label(stage)}, applications of {y}",
                                  gd.loc[y], labels.group_label(characteristic, reference)
                                  if reference else None) if y in ok else "" for y in years],
            hovertemplate="%{hovertext}<extra></extra>"))
    fig.update_xaxes(title="Year of application", tickmode="array", tickvals=years,
                     ticktext=[str(y) for y in years], tickfont={"size": 10})
    fig.update_yaxes(title="Pass rate", tickformat=".0%", range=[0, 1.02])
    notes = [
        (f"Of applications with a result at {labels.stage_label(stage)}, the share that passed, "
        "by the year of application. Bars: 95% range; dashed: all applicants."),
        small_note(hidden, len(years), min_group_size, " in a year"),
    ]
    return finish(fig, title=title, notes=notes, width=width, plot_height=240,
                  legend_items=len(fig.data), bottom_axis=50)
