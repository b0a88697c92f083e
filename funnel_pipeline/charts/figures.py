"""Chart builders: marts frames in, Plotly figures out, one per question a lead asks.

* `funnel_overall` — how many applications get through each stage?
* `funnel_by_group` — how far does each group get?
* `pass_rates_by_group` — at which stage does a group fall behind, and is that more
  than chance? (Wilson ranges, the four-fifths mark, flagged points.)
* `adverse_impact_forest` — how sure are we of each gap? The ratio to the reference
  group with its 95% interval, stage by stage, the 0.8 line drawn (issue 16).
* `adverse_impact_heatmap` — every ratio of a characteristic at a glance (report).
* `pass_rate_trend_by_year` / `pass_rates_by_entry_route` — is the gap closing over the
  years of application, and is it worse on one entry route?
* `retention_curves` — how long recruits stay, by group (Kaplan–Meier, issue 17).

Builders are pure (no I/O, no database) so they are tested on hand-made frames and
reused by the PNG renderer and the HTML report alike. Figures carry aggregates only —
whatever is in the marts, never a person. Groups with fewer than `min_group_size`
applications (recruits) are left off and named in the chart's notes as "too small to
read": their rates swing too much to be read and small counts can point at individuals.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline import inert
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, ALL_GROUP, NOT_STATED
from funnel_pipeline.marts import ADVERSE_IMPACT_THRESHOLD, SIGNIFICANCE_LEVEL

from . import _frames as fr
from ._dotplot import dot_plot
from ._layout import (
    axis_labels,
    finish,
    flag_legend,
    hover_text,
    interval_words,
    legend_entry,
    no_data,
    quoted,
    ratio_text,
    small_note,
)
from ._text import line_count, text_width, wrap
from .labels import ALL_COLOUR, WARNING_COLOUR, Labels, pct

#: Picture width in px. Measured in the Dagster UI (tests/e2e/test_ui_e2e.py): at a 1280 px
#: window the visible part of an asset's metadata value cell is about 425 px wide when
#: no metadata key has a word longer than 8 letters (the key column takes the widest
#: word), so 400 px pictures are seen whole at 1280 px and wider windows.
DEFAULT_WIDTH = 400
DEFAULT_MIN_GROUP_SIZE = 10
#: Adverse-impact colour scale: ColorBrewer PuOr (colour-blind safe, diverging);
#: orange = lower pass rate than the reference group, purple = higher.
AIR_COLOURSCALE = "PuOr"
#: The heatmap colours log2(ratio) so 0.5 and 2 are equally strong; clipped to ±1.
AIR_TICKS: tuple[float, ...] = (0.5, 0.8, 1.0, 1.25, 2.0)
#: Ticks of the forest plot's ratio axis (log scale), those inside its range are used
FOREST_TICKS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.25, 2.0, 3.0, 5.0,
                                   10.0, 20.0)
MUTED_OPACITY = 0.3
#: background of every other stage of the forest plot
_BAND = "#F3F3F3"
#: a year whose applications at a stage are this share or more still pending is "in
#: progress" there (the trend chart says so)
IN_PROGRESS_SHARE = 0.1
#: days in a month of the retention curves: 12 months are exactly the 365 days of
#: marts.retention's retention_12_months (docs/CONTRACT.md section 9)
DAYS_PER_MONTH = 365 / 12


# --- (a) funnels ----------------------------------------------------------------------


def funnel_overall(rates: pd.DataFrame, *, labels: Labels, width: int = DEFAULT_WIDTH) -> go.Figure:
    """Applications passing each stage, as counts and as a share of all applications.

    Reads the `all` rows of `marts.stage_pass_rates`. The bracketed share is of *all*
    applications (how many got this far), not the stage's pass rate (of those with a
    result at it), and the notes say so: the two differ and both appear in the UI.
    """
    fr.require_columns(rates)
    title = "Recruitment funnel: how many pass each stage"
    d = fr.select(rates, ALL_CHARACTERISTIC)
    if d.empty:
        return no_data(title, "No applications have been loaded yet.", width)
    total = fr.applications(d).get(ALL_GROUP, 0)
    stage_labels, left = axis_labels([labels.stage_label(s) for s in d["stage"]],
                                     most=int(width * 0.32))
    shares = [
        fr.num(c) if fr.num(c) is not None else (fr.count(p) / total if total else None)
        for c, p in zip(d["cumulative_pass_rate"], d["passed"])
    ]
    text = [f"{fr.count(p):,} ({pct(s)})" for p, s in zip(d["passed"], shares)]
    counts = [fr.count(p) for p in d["passed"]]
    # a count that does not fit inside its bar goes beside it (Plotly would cut it)
    plot_px = width - left - 16
    widest = max(counts, default=0) or 1
    where = ["inside" if text_width(t, 11) + 8 < plot_px * c / widest else "outside"
             for t, c in zip(text, counts)]
    hover = [
        hover_text("All applicants", labels.stage_label(s), row, None)
        for s, (_, row) in zip(d["stage"], d.iterrows())
    ]
    fig = go.Figure(
        go.Funnel(
            y=stage_labels,
            x=counts,
            text=text,
            textinfo="text",
            textposition=where,
            insidetextanchor="middle",
            textfont={"size": 11},
            insidetextfont={"color": "#FFFFFF"},
            outsidetextfont={"color": "#222222"},
            constraintext="none",
            cliponaxis=False,
            marker={"color": "#0072B2"},
            connector={"fillcolor": "#D6E6F4", "line": {"width": 0}},
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            name="Passed",
            showlegend=False,
        )
    )
    fig.update_yaxes(title=None, tickfont={"size": 11})
    fig.update_xaxes(visible=False)
    rows = max(line_count(s) for s in stage_labels)
    return finish(
        fig,
        title=title,
        notes=[
            (f"{total:,} applications. Bar: applications that passed the stage. In brackets: "
             "that number as a share of all applications (how many got this far), not the "
             "stage's pass rate, which counts only those with a result at the stage."),
        ],
        width=width,
        plot_height=max(40, 16 * rows + 18) * len(stage_labels),
        left=left,
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

    Stages run down the page as in the funnel above it; one line per group rather than
    one funnel per group, because group sizes differ by orders of magnitude and only
    shares can be compared by eye.
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
    ticktext, left = axis_labels(stages, most=int(width * 0.32))
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
                y=stage_labels,
                x=[fr.num(v) for v in gd["cumulative_pass_rate"]],
                mode="lines+markers",
                name=glabel + (" (reference)" if g == reference else ""),
                line={
                    "color": colours[g],
                    "width": 3 if g == reference else 2,
                    "dash": "dot" if g == NOT_STATED else "solid",
                },
                marker={"size": 7, "symbol": "square" if g == reference else "circle"},
                hovertext=[
                    f"<b>{glabel}</b> — {lab}<br>{fr.count(p):,} of {sizes[g]:,} applications "
                    f"passed this stage ({pct(fr.num(c), 1)})"
                    for lab, p, c in zip(stage_labels, gd["passed"], gd["cumulative_pass_rate"])
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_yaxes(categoryorder="array", categoryarray=stages, tickmode="array",
                     tickvals=stages, ticktext=ticktext, autorange="reversed",
                     tickfont={"size": 11})
    fig.update_xaxes(title={"text": "Share of the group's applications", "font": {"size": 12}},
                     tickformat=".0%", range=[0, 1.02])
    return finish(
        fig,
        title=title,
        notes=[
            ("Share of each group's applications that passed each stage (of all the group's "
             "applications, not of those reaching the stage). A line moving left faster "
             "means more of that group is lost at that stage."),
            small_note(hidden, 1, min_group_size, ""),
        ],
        width=width,
        plot_height=max(34, 16 * max(line_count(t) for t in ticktext) + 12) * len(stages),
        left=left,
        bottom_axis=44,
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


# --- (c) the ratio to the reference group ---------------------------------------------


class _Comparison(NamedTuple):
    """What a ratio chart compares: one characteristic's rows, its reference group, the
    groups large enough to compare, those left out as too small, and the stages."""

    rows: pd.DataFrame
    reference: str
    reference_label: str
    groups: list[str]
    hidden: dict[str, list[str]]
    stages: list[str]


def _comparison(rates: pd.DataFrame, characteristic: str, labels: Labels,
                min_group_size: int, title: str, width: int) -> _Comparison | go.Figure:
    """The comparison a ratio chart draws, or the placeholder saying why there is none.

    The reference group and Not stated have no ratio (the contract leaves it NULL).
    """
    d = fr.select(rates, characteristic)
    clabel = labels.characteristic_label(characteristic)
    reference = fr.reference_of(d)
    if d.empty or reference is None:
        return no_data(title, f"No comparison available for {clabel.lower()}.", width)
    ref_label = labels.group_label(characteristic, reference)
    sizes = fr.applications(d)
    if sizes.get(reference, 0) < min_group_size:
        return no_data(title, f"The reference group ({ref_label}) has fewer than "
                              f"{min_group_size} applications: no comparison.", width)
    candidates = [g for g in labels.group_order(characteristic, list(sizes))
                  if g != reference and NOT_STATED not in g.split(" x ")]
    groups = [g for g in candidates if sizes[g] >= min_group_size]
    hidden = {labels.group_label(characteristic, g): ["all"] for g in candidates if g not in groups}
    if not groups:
        return no_data(title, small_note(hidden, 1, min_group_size, "")
                       or f"No group to compare with {ref_label}.", width)
    stages = [s for s in labels.stage_names if s in set(d["stage"])]
    return _Comparison(d, reference, ref_label, groups, hidden, stages)


def adverse_impact_forest(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    labels: Labels,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """The ratio to the reference group's pass rate with its 95% interval, per stage and
    group (a forest plot; `adverse_impact_ratio`, `air_ci_low`, `air_ci_high`).

    A ratio axis is multiplicative, so it is logarithmic: 0.5 and 2 sit equally far
    from 1. The dashed line is four-fifths (0.8); a ring marks a flagged row (below 0.8
    and unlikely to be chance). The notes say in words how sure the clearest gap is.
    """
    fr.require_columns(rates, "air_ci_low", "air_ci_high")
    clabel = labels.characteristic_label(characteristic)
    title = f"How sure are the gaps? Pass rate ratio to the reference group — {clabel}"
    compared = _comparison(rates, characteristic, labels, min_group_size, title, width)
    if isinstance(compared, go.Figure):
        return compared
    d, reference, ref_label, groups, hidden, stages = compared
    group_labels, left = axis_labels([labels.group_label(characteristic, g) for g in groups],
                                     most=int(width * 0.3))
    colours = labels.group_colours(characteristic, [reference, *groups], reference)
    # rows top to bottom: a header row per stage, then one row per group
    y_of: dict[tuple[str, str], float] = {}
    headers: list[tuple[float, str]] = []
    ticks: list[tuple[float, str]] = []
    y = 0.0
    for s in stages:
        headers.append((y, labels.stage_label(s)))
        y += 1
        for g, glabel in zip(groups, group_labels):
            y_of[s, g] = y
            ticks.append((y, glabel))
            y += 1
    rows = d.loc[d["group_name"].isin(groups) & d["stage"].isin(stages)]
    valued = rows.loc[[fr.num(v) is not None for v in rows["adverse_impact_ratio"]]]
    bounds = [v for c in ("adverse_impact_ratio", "air_ci_low", "air_ci_high")
              for v in (fr.num(x) for x in valued[c]) if v is not None and v > 0]
    low = max(min([*bounds, ADVERSE_IMPACT_THRESHOLD]) / 1.15, FOREST_TICKS[0])
    high = min(max([*bounds, 1.0]) * 1.15, FOREST_TICKS[-1])
    fig = go.Figure()
    any_flagged = False
    clearest: tuple[float, str] | None = None
    missing: list[str] = []
    for g in groups:
        glabel = labels.group_label(characteristic, g)
        gd = rows.loc[rows["group_name"] == g]
        xs, ys, seg_x, seg_y, flagged, hover = [], [], [], [], [], []
        for _, row in gd.iterrows():
            air = fr.num(row["adverse_impact_ratio"])
            where = labels.stage_label(row["stage"])
            if air is None:
                missing.append(f"{glabel} at {where}")
                continue
            lo, hi = fr.num(row["air_ci_low"]), fr.num(row["air_ci_high"])
            yy = y_of[row["stage"], g]
            xs.append(max(air, low))
            ys.append(yy)
            if lo is not None and hi is not None:
                seg_x += [max(lo, low), min(hi, high), None]
                seg_y += [yy, yy, None]
            is_flagged = fr.is_true(row["flagged"])
            flagged.append(is_flagged)
            hover.append(hover_text(glabel, where, row, ref_label))
            if is_flagged and hi is not None and (clearest is None or hi < clearest[0]):
                words = interval_words(lo, hi, f"{ref_label} applicants")
                clearest = (hi, f"{glabel} at {where}: {words}.")
        any_flagged |= any(flagged)
        if seg_x:
            fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", showlegend=False,
                                     legendgroup=glabel, hoverinfo="skip",
                                     line={"color": colours[g], "width": 2}))
        if xs:
            legend_entry(fig, glabel, {"color": colours[g], "size": 8})
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="markers", name=glabel, customdata=flagged,
                legendgroup=glabel, showlegend=False,
                marker={"color": colours[g], "size": [12 if f else 8 for f in flagged],
                        "line": {"color": ["#000000" if f else "#FFFFFF" for f in flagged],
                                 "width": [3 if f else 1 for f in flagged]}},
                hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))
    if any_flagged:
        flag_legend(fig, "Flagged: below 0.8, unlikely to be chance")
    end = y - 0.5
    fig.add_trace(go.Scatter(
        x=[ADVERSE_IMPACT_THRESHOLD] * 2, y=[-0.5, end], mode="lines", hoverinfo="skip",
        name="Four-fifths line (0.8)", line={"color": WARNING_COLOUR, "width": 2, "dash": "dash"}))
    fig.add_shape(type="line", x0=1, x1=1, y0=-0.5, y1=end, xref="x", yref="y", layer="below",
                  line={"color": "#9A9A9A", "width": 1})
    for i, (yy, text) in enumerate(headers):
        fig.add_annotation(text=f"<b>{text}</b>", x=0, xref="paper", xanchor="left", y=yy,
                           yref="y", showarrow=False, font={"size": 11}, borderpad=1,
                           bgcolor=_BAND if i % 2 == 0 else "#FFFFFF")
    ticksvals = _spaced_ticks(low, high, width - left - 16)
    fig.update_xaxes(type="log", range=[math.log10(low), math.log10(high)], tickmode="array",
                     tickvals=ticksvals, ticktext=[f"{t:g}" for t in ticksvals],
                     title={"text": f"Pass rate ÷ the {ref_label} pass rate (1 = the same)",
                            "font": {"size": 12}}, zeroline=False)
    fig.update_yaxes(tickmode="array", tickvals=[t for t, _ in ticks],
                     ticktext=[lab for _, lab in ticks], range=[end, -0.5], showgrid=False,
                     zeroline=False, tickfont={"size": 11})
    for i, (yy, _) in enumerate(headers):
        if i % 2 == 0:
            stop = headers[i + 1][0] - 0.5 if i + 1 < len(headers) else end
            fig.add_shape(type="rect", xref="paper", x0=0, x1=1, yref="y", y0=yy - 0.5, y1=stop,
                          fillcolor=_BAND, line={"width": 0}, layer="below")
    notes = [
        (f"Dot: the group's pass rate divided by the {ref_label} rate. Line: where the true "
         "ratio very likely lies (95% interval); the shorter, the surer. A line wholly left of "
         "the dashed four-fifths line: the gap is clear; a line reaching 1: there may be no "
         "gap at all."),
        (f"Clearest gap: {clearest[1]}" if clearest else
         "No group is flagged: no ratio is both below 0.8 and unlikely to be chance."),
        ("No ratio (nobody with a result): " + "; ".join(quoted(m) for m in missing) + "."
         if missing else ""),
        small_note(hidden, 1, min_group_size, ""),
    ]
    row_px = 16 * max(line_count(lab) for _, lab in ticks) + 6
    return finish(fig, title=title, notes=notes, width=width,
                  plot_height=max(22, row_px) * int(y), left=left, bottom_axis=44)


def _spaced_ticks(low: float, high: float, plot_px: float) -> list[float]:
    """Ticks of the log ratio axis between low and high whose labels do not collide:
    0.8 first, then 1 (its line is drawn and the axis title names it), then the others
    nearest 1."""
    span = math.log10(high) - math.log10(low)

    def px(t: float) -> float:
        return plot_px * (math.log10(t) - math.log10(low)) / span

    kept: list[float] = []
    order = sorted((t for t in FOREST_TICKS if low <= t <= high),
                   key=lambda t: (t != ADVERSE_IMPACT_THRESHOLD, t != 1.0, abs(math.log(t))))
    for t in order:
        room = (text_width(f"{t:g}", 11) + max((text_width(f"{k:g}", 11) for k in kept),
                                                default=0)) / 2 + 6
        if all(abs(px(t) - px(k)) >= room for k in kept):
            kept.append(t)
    return sorted(kept)


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
    compared = _comparison(rates, characteristic, labels, min_group_size, title, width)
    if isinstance(compared, go.Figure):
        return compared
    d, _, ref_label, groups, hidden, stages = compared
    xs = [labels.group_label(characteristic, g) for g in groups]
    ys = [labels.stage_label(s) for s in stages]
    ticks_y, left = axis_labels(ys, most=int(width * 0.3))
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
            textfont={"size": 12},
            name="Unlikely to be chance",
            **common,
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=faded,
            text=faded_text,
            texttemplate="%{text}",
            textfont={"size": 11, "color": "#6E6E6E"},
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
    colourbar = 58
    ticks = list(AIR_TICKS)
    fig.update_layout(
        coloraxis={
            "colorscale": AIR_COLOURSCALE,
            "cmin": -1,
            "cmax": 1,
            "cmid": 0,
            "colorbar": {
                "tickvals": [math.log2(t) for t in ticks],
                "ticktext": [f"{t:g}" for t in ticks],
                "thickness": 12,
                "len": 0.88,
                "y": 0.5,
                "yanchor": "middle",
                "tickfont": {"size": 10},
            },
        },
        plot_bgcolor="#F4F4F4",
    )
    column = (width - left - colourbar) / max(len(xs), 1)
    ticks_x = [wrap(x.replace(" × ", " ×\n"), column - 6, 11) for x in xs]
    fig.update_xaxes(
        side="top",
        showgrid=False,
        tickfont={"size": 11},
        tickangle=0,
        tickmode="array",
        tickvals=xs,
        ticktext=ticks_x,
    )
    fig.update_yaxes(autorange="reversed", showgrid=False, tickmode="array", tickvals=ys,
                     ticktext=ticks_y, tickfont={"size": 11})
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
        plot_height=(16 * max(line_count(t) for t in ticks_y) + 30) * len(ys),
        left=left,
        bottom_axis=12,
        top_extra=15 * max(line_count(t) for t in ticks_x),
        right=colourbar,
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
    # each group's points a little apart, so that the ranges of one year do not overlap
    dodge = {g: (i - (len(groups) - 1) / 2) * min(0.3 / max(len(groups), 1), 0.06)
             for i, g in enumerate(groups)}
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
            x=[y + dodge[g] for y in years], y=rate, mode="lines+markers", connectgaps=False,
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
    fig.update_xaxes(title={"text": "Year of application", "font": {"size": 12}},
                     tickmode="array", tickvals=years, ticktext=[str(y) for y in years],
                     tickfont={"size": 11})
    fig.update_yaxes(title={"text": "Pass rate", "font": {"size": 12}}, tickformat=".0%",
                     range=[0, 1.02])
    notes = [
        (f"Of applications with a result at {labels.stage_label(stage)}, the share that passed, "
         "by the year of application; dashed: all applicants. Bars: where the year's true rate "
         "very likely lies (95% range): where two groups' bars overlap, that year's gap could "
         "be chance."),
        _in_progress(all_rows, labels.stage_label(stage)),
        small_note(hidden, len(years), min_group_size, " in a year"),
    ]
    return finish(fig, title=title, notes=notes, width=width, plot_height=230, left=50,
                  bottom_axis=48)


def _in_progress(all_rows: pd.DataFrame, stage_label: str) -> str:
    """Names the years whose applications are still largely waiting for a result at the
    stage: their rate may still move (the latest year especially)."""
    waiting = []
    for _, row in all_rows.sort_values("application_year").iterrows():
        entered, pending = fr.count(row["entered"]), fr.count(row["pending"])
        if entered and pending / entered >= IN_PROGRESS_SHARE:
            waiting.append(f"{int(row['application_year'])} ({pct(pending / entered)} of its "
                           "applications there have no result yet)")
    if not waiting:
        return ""
    return f"Still in progress at {stage_label}, so the rate may move: " + "; ".join(waiting) + "."


# --- (e) retention of recruits ----------------------------------------------------------


def retention_curves(
    curves: pd.DataFrame,
    retention: pd.DataFrame,
    characteristic: str,
    *,
    labels: Labels,
    observed_until: str | None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Kaplan–Meier retention of recruits by group: the share still serving, month by
    month since they started (`sql/charts/retention_curves.sql`, docs/CONTRACT.md section 9).

    The curves are step functions (the estimate only changes when someone leaves),
    evaluated at whole months, so no line shows a single recruit's leaving day. A line
    stops where fewer than `min_group_size` of the group's recruits are still followed:
    beyond that the estimate rests on a handful of people. Flagged groups (log-rank
    test against the reference group, `marts.retention.flagged`) are ringed at 12 and
    24 months; the notes say in words what censoring means here.
    """
    for column in ("characteristic", "group_name", "month", "retained", "at_risk",
                   "recruits", "leavers"):
        if column not in curves.columns:
            raise ValueError(f"retention curves lack the column {column}")
    clabel = labels.characteristic_label(characteristic)
    title = f"How long recruits stay — {clabel}"
    d = curves.loc[curves["characteristic"] == characteristic]
    if d.empty:
        return no_data(title, f"No recruits for {clabel.lower()} yet.", width)
    facts = retention.loc[retention["characteristic"] == characteristic].set_index("group_name")
    reference = fr.reference_of(retention.loc[retention["characteristic"] == characteristic])
    totals = d.groupby("group_name")[["recruits", "leavers"]].max()
    groups = labels.group_order(characteristic, list(totals.index))
    colours = labels.group_colours(characteristic, groups, reference)
    fig = go.Figure()
    everyone = curves.loc[curves["characteristic"] == ALL_CHARACTERISTIC]
    hidden: dict[str, list[str]] = {}
    flagged_words: list[str] = []
    last_month = 0.0

    def line(rows: pd.DataFrame) -> tuple[list[float], list[float | None]]:
        followed = rows.loc[rows["at_risk"] >= min_group_size].sort_values("month")
        return list(followed["month"].astype(float)), [fr.num(v) for v in followed["retained"]]

    if not everyone.empty:
        xs, ys = line(everyone)
        if xs:
            last_month = max(last_month, xs[-1])
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", line_shape="hv", name="All recruits",
                line={"color": ALL_COLOUR, "width": 1.5, "dash": "dash"},
                hovertemplate="All recruits — after %{x} months: %{y:.0%} still serving"
                              "<extra></extra>"))
    any_flagged = False
    for g in groups:
        glabel = labels.group_label(characteristic, g)
        if totals.loc[g, "recruits"] < min_group_size:
            hidden[glabel] = ["all"]
            continue
        xs, ys = line(d.loc[d["group_name"] == g])
        if not xs:
            hidden[glabel] = ["all"]
            continue
        last_month = max(last_month, xs[-1])
        flagged = g in facts.index and fr.is_true(facts.loc[g, "flagged"])
        any_flagged |= flagged
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", line_shape="hv",
            name=glabel + (" (reference)" if g == reference else ""),
            line={"color": colours[g], "width": 3 if flagged or g == reference else 2,
                  "dash": "dot" if g == NOT_STATED else "solid"},
            hovertemplate=f"<b>{glabel}</b> — after %{{x}} months: %{{y:.0%}} still serving"
                          "<extra></extra>"))
        if flagged:
            marks = [(m, v) for m, v in zip(xs, ys) if m in (12, 24) and v is not None]
            fig.add_trace(go.Scatter(
                x=[m for m, _ in marks], y=[v for _, v in marks], mode="markers",
                showlegend=False, hoverinfo="skip",
                marker={"color": colours[g], "size": 12,
                        "line": {"color": "#000000", "width": 3}}))
            ref_label = labels.group_label(characteristic, reference) if reference else ""
            at_12 = fr.num(facts.loc[g, "retention_12_months"])
            ref_12 = (fr.num(facts.loc[reference, "retention_12_months"])
                      if reference in facts.index else None)
            flagged_words.append(
                f"Flagged: {glabel} recruits leave sooner than {ref_label} recruits, unlikely "
                f"to be chance (log-rank p < {SIGNIFICANCE_LEVEL:g}): {pct(at_12)} still serve "
                f"after 12 months, against {pct(ref_12)}.")
    if any_flagged:
        flag_legend(fig, "Flagged: leave sooner, unlikely to be chance")
    recruits = int(totals["recruits"].sum())
    stayed = recruits - int(totals["leavers"].sum())
    until = f"the end of the data ({observed_until})" if observed_until else "the end of the data"
    notes = [
        "Share of recruits still serving, month by month after they started (Kaplan–Meier).",
        (f"{stayed:,} of {recruits:,} recruits have not left: each counts only up to "
         f"{until} or their next recruitment, then drops out of the count (censored) rather "
         f"than counting as staying. Lines stop where fewer than {min_group_size} of a group "
         "are still followed."),
        *(flagged_words or [("No group is flagged: none leaves sooner than the reference "
                             "group beyond what chance would explain.")]),
        small_note(hidden, 1, min_group_size, "").replace("applications", "recruits"),
    ]
    top = max(12.0, math.ceil(last_month / 6) * 6)
    ticks = [m for m in range(0, int(top) + 1, 6 if top <= 36 else 12)]
    fig.update_xaxes(title={"text": "Months since starting", "font": {"size": 12}},
                     range=[-1, top], tickmode="array", tickvals=ticks,
                     ticktext=[str(t) for t in ticks], tickfont={"size": 11})
    fig.update_yaxes(title={"text": "Still serving", "font": {"size": 12}}, tickformat=".0%",
                     range=[0, 1.03])
    for m in (12, 24):
        if m <= top:
            fig.add_vline(x=m, line={"color": "#C8C8C8", "width": 1, "dash": "dot"})
    return finish(fig, title=title, notes=notes, width=width, plot_height=230, left=50,
                  bottom_axis=48)


def no_leavers(width: int = DEFAULT_WIDTH) -> go.Figure:
    """The retention page without a leavers file: words, no curve (a flat line at 100%
    would read as "nobody leaves")."""
    return no_data(
        "How long recruits stay",
        "No leavers file has been loaded, so nobody is known to have left: retention cannot "
        "be measured and no curve is drawn. Deliver leavers files (applicant_id, left_on) to "
        "the landing folder to see it.",
        width)

