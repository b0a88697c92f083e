"""Chart builders: marts frames in, Plotly figures out, one per question a lead asks.

* `funnel_overall` — how many applications get through each stage?
* `funnel_by_group` — how far does each group get?
* `pass_rates_by_group` — at which stage does a group fall behind, and is that more
  than chance? (Wilson ranges, the four-fifths mark, flagged points.)
* `adverse_impact_heatmap` — the same question for every stage × group at a glance.
* `pass_rate_trend_by_campaign` / `pass_rates_by_entry_route` — is it getting better,
  and is it worse on one entry route?

Builders are pure (no I/O, no database) so they are tested on hand-made frames and
reused by the PNG renderer and the HTML report alike. Figures carry aggregates only —
whatever is in the marts, never a person. Groups with fewer than `min_group_size`
applications are left off and named in the chart's subtitle as "too small to read":
their rates swing too much to be read and small counts can point at individuals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline.contract import (
    ADVERSE_IMPACT_THRESHOLD,
    ALL_CHARACTERISTIC,
    ALL_GROUP,
    NOT_STATED,
    SIGNIFICANCE_LEVEL,
    STAGE_NAMES,
)

from . import _frames as fr
from .labels import (
    ALL_COLOUR,
    WARNING_COLOUR,
    characteristic_label,
    group_colours,
    group_label,
    group_order,
    pct,
    stage_label,
    wrap,
)

DEFAULT_WIDTH = 450
DEFAULT_MIN_GROUP_SIZE = 10
FONT = "Arial, Helvetica, sans-serif"
#: Adverse-impact colour scale: ColorBrewer PuOr (colour-blind safe, diverging);
#: orange = lower pass rate than the reference group, purple = higher.
AIR_COLOURSCALE = "PuOr"
#: The heatmap colours log2(ratio) so 0.5 and 2 are equally strong; clipped to ±1.
AIR_TICKS: tuple[float, ...] = (0.5, 0.8, 1.0, 1.25, 2.0)
MUTED_OPACITY = 0.3


# --- layout helpers -------------------------------------------------------------------


def _finish(
    fig: go.Figure,
    *,
    title: str,
    notes: Sequence[str],
    width: int,
    plot_height: int,
    legend_items: int = 0,
    left: int = 60,
    bottom_axis: int = 40,
) -> go.Figure:
    """Common look: title and subtitle at the top, legend below, sized for a sidebar.

    Plotly does not wrap text and a subtitle does not reserve its own space, so lines
    are wrapped here and the top margin grows with them.
    """
    title_html = wrap(title, 54)
    sub_html = "<br>".join(wrap(n, 82) for n in notes if n)
    title_lines = title_html.count("<br>") + 1
    sub_lines = sub_html.count("<br>") + 1 if sub_html else 0
    top = 18 + 20 * title_lines + 15 * sub_lines + 14
    legend_rows = math.ceil(legend_items / 2) if legend_items else 0
    bottom = bottom_axis + 22 * legend_rows + (10 if legend_rows else 0)
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=top + plot_height + bottom,
        font=dict(family=FONT, size=12, color="#222222"),
        title=dict(
            text=title_html,
            subtitle=dict(text=sub_html, font=dict(size=11, color="#555555")),
            x=10 / width,
            xref="container",
            xanchor="left",
            yref="container",
            y=1 - 12 / (top + plot_height + bottom),
            yanchor="top",
            font=dict(size=15),
        ),
        margin=dict(l=left, r=16, t=top, b=bottom),
        legend=dict(
            orientation="h",
            yref="container",
            y=4 / (top + plot_height + bottom),
            yanchor="bottom",
            xref="container",
            x=6 / width,
            xanchor="left",
            font=dict(size=11),
        ),
        hoverlabel=dict(align="left"),
        showlegend=legend_items > 0,
    )
    return fig


def _no_data(title: str, message: str, width: int) -> go.Figure:
    """A readable placeholder: a chart that silently vanishes worries people more."""
    fig = go.Figure()
    fig.add_annotation(
        text=wrap(message, 55), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _finish(fig, title=title, notes=[], width=width, plot_height=120, bottom_axis=10)


def _small_note(hidden: dict[str, list[str]], n_rows: int, min_group_size: int, where: str) -> str:
    """'Too small to read' note naming hidden groups (and where, if only partly hidden)."""
    if not hidden:
        return ""
    parts = [g if len(rows) >= n_rows else f"{g} ({', '.join(rows)})" for g, rows in hidden.items()]
    return (
        f"Too small to read, left out (fewer than {min_group_size} applications{where}): "
        + "; ".join(parts)
        + "."
    )


def _hover(glabel: str, where: str, row: pd.Series, ref_label: str | None) -> str:
    """Hover text in words: counts behind the rate, the range, the comparison."""
    passed, failed, withdrawn = fr.count(row["passed"]), fr.count(row["failed"]), fr.count(row["withdrawn"])
    decided = passed + failed + withdrawn
    lines = [
        f"<b>{glabel}</b> — {where}",
        f"Passed {passed:,} of {decided:,} with a result ({pct(fr.num(row['pass_rate']), 1)})",
        f"95% range {pct(fr.num(row['pass_rate_ci_low']), 1)} to {pct(fr.num(row['pass_rate_ci_high']), 1)}",
        f"Failed {failed:,} · withdrew {withdrawn:,} · still in progress {fr.count(row['pending']):,}",
    ]
    air, p = fr.num(row["adverse_impact_ratio"]), fr.num(row["fisher_p_value"])
    if air is not None and ref_label:
        lines.append(f"Pass rate relative to {ref_label}: {air:.2f} (p = {p:.3g})" if p is not None else f"Pass rate relative to {ref_label}: {air:.2f}")
    if fr.is_true(row["flagged"]):
        lines.append("<b>Flagged</b>: below four-fifths and unlikely to be chance")
    return "<br>".join(lines)


def _check_stage(stage: str) -> None:
    if stage not in STAGE_NAMES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGE_NAMES)}")


# --- (a) funnels ----------------------------------------------------------------------


def funnel_overall(rates: pd.DataFrame, *, width: int = DEFAULT_WIDTH) -> go.Figure:
    """Applications passing each stage, as counts and as a share of all applications.

    Reads the `all` rows of `marts.stage_pass_rates` (or of one campaign / route).
    """
    fr.require_columns(rates)
    title = "Recruitment funnel: applications passing each stage"
    d = fr.select(rates, ALL_CHARACTERISTIC)
    if d.empty:
        return _no_data(title, "No applications have been loaded yet.", width)
    total = fr.applications(d).get(ALL_GROUP, 0)
    labels = [stage_label(s) for s in d["stage"]]
    shares = [
        fr.num(c) if fr.num(c) is not None else (fr.count(p) / total if total else None)
        for c, p in zip(d["cumulative_pass_rate"], d["passed"])
    ]
    text = [f"{fr.count(p):,} ({pct(s)})" for p, s in zip(d["passed"], shares)]
    hover = [_hover("All applicants", lab, row, None) for lab, (_, row) in zip(labels, d.iterrows())]
    fig = go.Figure(
        go.Funnel(
            y=labels,
            x=[fr.count(p) for p in d["passed"]],
            text=text,
            textinfo="text",
            textposition="auto",
            marker=dict(color="#0072B2"),
            connector=dict(fillcolor="#D6E6F4", line=dict(width=0)),
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
            name="Passed",
        )
    )
    fig.update_yaxes(title=None)
    fig.update_xaxes(visible=False)
    return _finish(
        fig,
        title=title,
        notes=[f"{total:,} applications. Bar length: number who passed the stage; in brackets, as a share of all applications."],
        width=width,
        plot_height=44 * len(labels),
        left=130,
        bottom_axis=10,
    )


def funnel_by_group(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Each group's funnel on one scale: % of the group's applications passing each stage.

    Overlaid lines rather than one funnel per group, because group sizes differ by
    orders of magnitude and only shares can be compared by eye.
    """
    fr.require_columns(rates)
    clabel = characteristic_label(characteristic)
    title = f"How far each group gets — {clabel}"
    d = fr.select(rates, characteristic)
    if d.empty:
        return _no_data(title, f"No applications for {clabel.lower()} yet.", width)
    sizes = fr.applications(d)
    reference = fr.reference_of(d)
    groups = group_order(characteristic, list(sizes))
    colours = group_colours(characteristic, groups, reference)
    stages = [stage_label(s) for s in STAGE_NAMES]
    fig = go.Figure()
    hidden: dict[str, list[str]] = {}
    for g in groups:
        glabel = group_label(characteristic, g)
        if sizes[g] < min_group_size:
            hidden[glabel] = stages
            continue
        gd = d.loc[d["group_name"] == g]
        labels = [stage_label(s) for s in gd["stage"]]
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=[fr.num(v) for v in gd["cumulative_pass_rate"]],
                mode="lines+markers",
                name=glabel + (" (reference)" if g == reference else ""),
                line=dict(color=colours[g], width=3 if g == reference else 2, dash="dot" if g == NOT_STATED else "solid"),
                marker=dict(size=7, symbol="square" if g == reference else "circle"),
                hovertext=[
                    f"<b>{glabel}</b> — {lab}<br>{fr.count(p):,} of {sizes[g]:,} applications passed this stage ({pct(fr.num(c), 1)})"
                    for lab, p, c in zip(labels, gd["passed"], gd["cumulative_pass_rate"])
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
        tickfont=dict(size=10),
    )
    fig.update_yaxes(title="Share of the group's applications", tickformat=".0%", range=[0, 1.02])
    return _finish(
        fig,
        title=title,
        notes=[
            "Share of each group's applications that passed each stage. A steeper drop means more of that group is lost at that stage.",
            _small_note(hidden, 1, min_group_size, ""),
        ],
        width=width,
        plot_height=260,
        legend_items=len(fig.data),
        bottom_axis=48,
    )


# --- (b) pass rates with uncertainty --------------------------------------------------


def _dot_plot(
    d: pd.DataFrame,
    *,
    characteristic: str,
    row_col: str,
    rows: list[tuple[str, str]],
    sizes: dict[tuple[str, str], int],
    min_group_size: int,
    title: str,
    lead_note: str,
    size_where: str,
    width: int,
) -> go.Figure:
    """Dots with 95% ranges, one band per row (stage or route), one dot per group.

    Positions are numeric (band index ± an offset per group) rather than Plotly's
    `scattermode="group"`, so the four-fifths marks and the flagged rings line up
    exactly with the dots they belong to.
    """
    reference = fr.reference_of(d)
    ref_label = group_label(characteristic, reference) if reference else None
    all_groups = group_order(characteristic, sorted(d["group_name"].unique()))
    shown = {(r, g) for (r, g), n in sizes.items() if n >= min_group_size}
    groups = [g for g in all_groups if any((r, g) in shown for r, _ in rows)]
    colours = group_colours(characteristic, all_groups, reference)
    hidden: dict[str, list[str]] = {}
    for g in all_groups:
        missing = [lab for r, lab in rows if (r, g) in sizes and (r, g) not in shown]
        if missing:
            hidden[group_label(characteristic, g)] = missing
    k = max(len(groups), 1)
    step = min(0.8 / k, 0.2)
    offset = {g: (i - (k - 1) / 2) * step for i, g in enumerate(groups)}
    band = {r: i for i, (r, _) in enumerate(rows)}
    row_label = dict(rows)
    fig = go.Figure()

    # the four-fifths mark: 0.8 × the reference group's rate in each band
    if reference is not None:
        xs: list[float | None] = []
        ys: list[float | None] = []
        for _, row in d.loc[d["group_name"] == reference].iterrows():
            rate = fr.num(row["pass_rate"])
            if rate is None or (row[row_col], reference) not in shown or row[row_col] not in band:
                continue
            mark = ADVERSE_IMPACT_THRESHOLD * rate
            i = band[row[row_col]]
            xs += [mark, mark, None]
            ys += [i - 0.45, i + 0.45, None]
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line=dict(color=WARNING_COLOUR, width=2, dash="dash"),
                    name=f"Four-fifths of {ref_label} rate",
                    hoverinfo="skip",
                )
            )

    any_flagged = False
    for g in groups:
        gd = d.loc[(d["group_name"] == g) & d[row_col].isin(band)]
        gd = gd.loc[[(r, g) in shown and fr.num(v) is not None for r, v in zip(gd[row_col], gd["pass_rate"])]]
        if gd.empty:
            continue
        glabel = group_label(characteristic, g)
        rate = [fr.num(v) for v in gd["pass_rate"]]
        low = [fr.num(v) for v in gd["pass_rate_ci_low"]]
        high = [fr.num(v) for v in gd["pass_rate_ci_high"]]
        flagged = [fr.is_true(v) for v in gd["flagged"]]
        any_flagged |= any(flagged)
        fig.add_trace(
            go.Scatter(
                x=rate,
                y=[band[r] + offset[g] for r in gd[row_col]],
                mode="markers",
                name=glabel + (" (reference)" if g == reference else ""),
                marker=dict(
                    color=colours[g],
                    symbol="square" if g == reference else "circle",
                    size=[13 if f else 8 for f in flagged],
                    line=dict(color=["#000000" if f else "#FFFFFF" for f in flagged], width=[3 if f else 1 for f in flagged]),
                ),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[(h - r) if h is not None and r is not None else 0 for h, r in zip(high, rate)],
                    arrayminus=[(r - lo) if lo is not None and r is not None else 0 for lo, r in zip(low, rate)],
                    color=colours[g],
                    thickness=1.5,
                    width=0,
                ),
                customdata=flagged,
                hovertext=[_hover(glabel, row_label[row[row_col]], row, ref_label) for _, row in gd.iterrows()],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    if any_flagged:
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="Flagged: significantly low",
                marker=dict(color="#FFFFFF", size=12, line=dict(color="#000000", width=3)),
            )
        )
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(rows))),
        ticktext=[wrap(lab.replace(" (", "\n("), 14) for _, lab in rows],
        range=[len(rows) - 0.5, -0.5],
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(title="Pass rate (of applications with a result)", tickformat=".0%", range=[0, 1.02])
    for i in range(1, len(rows)):
        fig.add_hline(y=i - 0.5, line=dict(color="#E5E5E5", width=1))
    notes = [
        lead_note,
        "Dots: share passing; lines: 95% range. Dashed mark: four-fifths (80%) of the "
        f"{ref_label or 'reference'} rate. Black ring: below it and unlikely to be chance (p < {SIGNIFICANCE_LEVEL:g}).",
        _small_note(hidden, len(rows), min_group_size, size_where),
    ]
    return _finish(
        fig,
        title=title,
        notes=notes,
        width=width,
        plot_height=len(rows) * max(46, 12 * k + 14),
        legend_items=len(fig.data),
        left=95,
    )


def pass_rates_by_group(
    rates: pd.DataFrame,
    characteristic: str,
    *,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Pass rate per stage and group with Wilson 95% ranges, four-fifths marks and flags."""
    fr.require_columns(rates)
    clabel = characteristic_label(characteristic)
    title = f"Pass rate at each stage — {clabel}"
    d = fr.select(rates, characteristic)
    if d.empty:
        return _no_data(title, f"No applications for {clabel.lower()} yet.", width)
    per_group = fr.applications(d)
    present = [s for s in STAGE_NAMES if s in set(d["stage"])]
    sizes = {(s, g): n for g, n in per_group.items() for s in present}
    return _dot_plot(
        d,
        characteristic=characteristic,
        row_col="stage",
        rows=[(s, stage_label(s)) for s in present],
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
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """One stage's pass rate per entry route and group (`marts.stage_pass_rates_by_entry_route`).

    The four-fifths mark and the flags are those of each route, as the mart computes
    every figure within its segment.
    """
    fr.require_columns(by_route, "entry_route")
    _check_stage(stage)
    clabel = characteristic_label(characteristic)
    title = f"Pass rate at {stage_label(stage)} by entry route — {clabel}"
    d = fr.select(by_route, characteristic)
    sizes = fr.applications(d, ("entry_route", "group_name"))
    d = d.loc[d["stage"] == stage]
    if d.empty:
        return _no_data(title, f"No {stage_label(stage)} results by entry route yet.", width)
    routes = sorted(d["entry_route"].astype(str).unique(), key=lambda r: (r == "Unknown", r.lower()))
    return _dot_plot(
        d,
        characteristic=characteristic,
        row_col="entry_route",
        rows=[(r, r if r != "Unknown" else "Unknown route") for r in routes],
        sizes=sizes,  # type: ignore[arg-type]
        min_group_size=min_group_size,
        title=title,
        lead_note=f"Of applications with a result at {stage_label(stage)}, the share that passed, on each entry route.",
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
    clabel = characteristic_label(characteristic)
    title = f"Pass rate compared with the reference group — {clabel}"
    d = fr.select(rates, characteristic)
    reference = fr.reference_of(d)
    if d.empty or reference is None:
        return _no_data(title, f"No comparison available for {clabel.lower()}.", width)
    ref_label = group_label(characteristic, reference)
    sizes = fr.applications(d)
    candidates = [g for g in group_order(characteristic, list(sizes)) if g not in (reference, NOT_STATED)]
    groups = [g for g in candidates if sizes[g] >= min_group_size]
    hidden = {group_label(characteristic, g): ["all"] for g in candidates if g not in groups}
    if sizes.get(reference, 0) < min_group_size:
        return _no_data(title, f"The reference group ({ref_label}) has fewer than {min_group_size} applications: no comparison.", width)
    if not groups:
        return _no_data(title, _small_note(hidden, 1, min_group_size, "") or f"No group to compare with {ref_label}.", width)
    stages = [s for s in STAGE_NAMES if s in set(d["stage"])]
    xs = [group_label(characteristic, g) for g in groups]
    ys = [stage_label(s) for s in stages]
    strong = [[None] * len(xs) for _ in ys]
    faded = [[None] * len(xs) for _ in ys]
    strong_text = [[""] * len(xs) for _ in ys]
    faded_text = [[""] * len(xs) for _ in ys]
    hover = [[""] * len(xs) for _ in ys]
    missing_x: list[str] = []
    missing_y: list[str] = []
    fig = go.Figure()
    for (_, row) in d.iterrows():
        if row["group_name"] not in groups or row["stage"] not in stages:
            continue
        i, j = stages.index(row["stage"]), groups.index(row["group_name"])
        air, p = fr.num(row["adverse_impact_ratio"]), fr.num(row["fisher_p_value"])
        hover[i][j] = _hover(xs[j], ys[i], row, ref_label)
        if air is None:
            missing_x.append(xs[j])
            missing_y.append(ys[i])
            continue
        significant = p is not None and p < SIGNIFICANCE_LEVEL
        (strong if significant else faded)[i][j] = _air_colour_value(air)  # type: ignore[index]
        (strong_text if significant else faded_text)[i][j] = f"{air:.2f}"
        if fr.is_true(row["flagged"]):
            fig.add_shape(
                type="rect", x0=j - 0.47, x1=j + 0.47, y0=i - 0.45, y1=i + 0.45,
                xref="x", yref="y", line=dict(color="#000000", width=3), layer="above",
            )
    common = dict(x=xs, y=ys, coloraxis="coloraxis", hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", xgap=2, ygap=2, hoverongaps=False)
    fig.add_trace(go.Heatmap(z=strong, text=strong_text, texttemplate="<b>%{text}</b>", textfont=dict(size=13), name="Unlikely to be chance", **common))
    fig.add_trace(go.Heatmap(z=faded, text=faded_text, texttemplate="%{text}", textfont=dict(size=12, color="#6E6E6E"), opacity=MUTED_OPACITY, name="Could be chance", **common))
    if missing_x:
        fig.add_trace(go.Scatter(x=missing_x, y=missing_y, mode="text", text=["no result"] * len(missing_x), textfont=dict(size=10, color="#8C8C8C"), hoverinfo="skip", showlegend=False, name="No result"))
    ticks = list(AIR_TICKS)
    fig.update_layout(
        coloraxis=dict(
            colorscale=AIR_COLOURSCALE, cmin=-1, cmax=1, cmid=0,
            colorbar=dict(
                title=dict(text="Ratio", side="top", font=dict(size=11)),
                tickvals=[math.log2(t) for t in ticks],
                ticktext=[f"{t:g}" for t in ticks],
                thickness=12, len=1, y=0.5, yanchor="middle", tickfont=dict(size=10),
            ),
        ),
        plot_bgcolor="#F4F4F4",
    )
    fig.update_xaxes(side="top", showgrid=False, tickfont=dict(size=11))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    notes = [
        f"Each group's pass rate divided by the {ref_label} rate (1 = the same; below 0.8 fails the four-fifths rule). "
        "Orange: lower; purple: higher.",
        f"Faded, grey numbers: the difference could be chance (p ≥ {SIGNIFICANCE_LEVEL:g}). Boxed: flagged (below 0.8 and unlikely to be chance).",
        _small_note(hidden, 1, min_group_size, ""),
    ]
    return _finish(fig, title=title, notes=notes, width=width, plot_height=48 * len(ys) + 26, left=130, bottom_axis=12)


# --- (d) trend per campaign -----------------------------------------------------------


def pass_rate_trend_by_campaign(
    by_campaign: pd.DataFrame,
    characteristic: str,
    stage: str,
    *,
    entry_route: str | None = None,
    campaign_order: Sequence[str] | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> go.Figure:
    """Each group's pass rate at one stage, campaign by campaign, with 95% ranges.

    Campaigns are in `campaign_order` if given (e.g. by opening date, which the mart
    does not carry), else sorted by id. A point is left out where the group had fewer
    than `min_group_size` applications in that campaign: the line shows a gap there.
    `entry_route` restricts the chart to that route's campaigns.
    """
    fr.require_columns(by_campaign, "campaign_id", "entry_route")
    _check_stage(stage)
    clabel = characteristic_label(characteristic)
    title = f"Pass rate at {stage_label(stage)}, campaign by campaign — {clabel}"
    src = by_campaign if entry_route is None else by_campaign.loc[by_campaign["entry_route"] == entry_route]
    d = fr.select(src, characteristic)
    sizes = fr.applications(d, ("campaign_id", "group_name"))
    all_rows = fr.select(src, ALL_CHARACTERISTIC)
    d = d.loc[d["stage"] == stage]
    all_rows = all_rows.loc[all_rows["stage"] == stage]
    if d.empty:
        return _no_data(title, f"No {stage_label(stage)} results by campaign yet.", width)
    present = [str(c) for c in d["campaign_id"].unique()]
    order = [c for c in campaign_order if c in present] if campaign_order else []
    campaigns = order + sorted(c for c in present if c not in order)
    reference = fr.reference_of(d)
    groups = group_order(characteristic, list(d["group_name"].unique()))
    colours = group_colours(characteristic, groups, reference)
    fig = go.Figure()
    if not all_rows.empty:
        ar = all_rows.set_index(all_rows["campaign_id"].astype(str))
        fig.add_trace(
            go.Scatter(
                x=campaigns,
                y=[fr.num(ar.loc[c, "pass_rate"]) if c in ar.index else None for c in campaigns],
                mode="lines",
                name="All applicants",
                line=dict(color=ALL_COLOUR, width=1.5, dash="dash"),
                hovertemplate="All applicants — %{x}: %{y:.1%}<extra></extra>",
            )
        )
    hidden: dict[str, list[str]] = {}
    for g in groups:
        glabel = group_label(characteristic, g)
        gd = d.loc[d["group_name"] == g].set_index(d.loc[d["group_name"] == g, "campaign_id"].astype(str))
        ok = [c for c in campaigns if c in gd.index and sizes.get((c, g), 0) >= min_group_size]
        small = [c for c in campaigns if c in gd.index and c not in ok]
        if small:
            hidden[glabel] = small
        if not ok:
            continue
        rate = [fr.num(gd.loc[c, "pass_rate"]) if c in ok else None for c in campaigns]
        low = [fr.num(gd.loc[c, "pass_rate_ci_low"]) if c in ok else None for c in campaigns]
        high = [fr.num(gd.loc[c, "pass_rate_ci_high"]) if c in ok else None for c in campaigns]
        fig.add_trace(
            go.Scatter(
                x=campaigns,
                y=rate,
                mode="lines+markers",
                connectgaps=False,
                name=glabel + (" (reference)" if g == reference else ""),
                line=dict(color=colours[g], width=2.5 if g == reference else 1.8),
                marker=dict(size=7, symbol="square" if g == reference else "circle"),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[(h - r) if h is not None and r is not None else None for h, r in zip(high, rate)],
                    arrayminus=[(r - lo) if lo is not None and r is not None else None for lo, r in zip(low, rate)],
                    color=colours[g],
                    thickness=1,
                    width=3,
                ),
                hovertext=[
                    _hover(glabel, f"{stage_label(stage)}, campaign {c} ({gd.loc[c, 'entry_route']})", gd.loc[c], group_label(characteristic, reference) if reference else None)
                    if c in ok else ""
                    for c in campaigns
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=campaigns, title="Campaign", tickangle=-30 if len(campaigns) > 3 else 0, tickfont=dict(size=10))
    fig.update_yaxes(title="Pass rate", tickformat=".0%", range=[0, 1.02])
    notes = [
        (f"{entry_route} campaigns only. " if entry_route else "")
        + f"Of applications with a result at {stage_label(stage)}, the share that passed. Bars: 95% range; dashed: all applicants.",
        _small_note(hidden, len(campaigns), min_group_size, " in a campaign"),
    ]
    return _finish(fig, title=title, notes=notes, width=width, plot_height=260, legend_items=len(fig.data), bottom_axis=80 if len(campaigns) > 3 else 50)


# --- the standard set -----------------------------------------------------------------


def standard_figures(
    rates: pd.DataFrame,
    *,
    characteristic: str = "ethnicity",
    stage: str = "assessment",
    by_campaign: pd.DataFrame | None = None,
    by_entry_route: pd.DataFrame | None = None,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    width: int = DEFAULT_WIDTH,
) -> dict[str, go.Figure]:
    """The usual set for one characteristic, keyed by a short name used in file names."""
    figs = {
        "funnel": funnel_overall(rates, width=width),
        "funnel_by_group": funnel_by_group(rates, characteristic, min_group_size=min_group_size, width=width),
        "pass_rates": pass_rates_by_group(rates, characteristic, min_group_size=min_group_size, width=width),
        "adverse_impact": adverse_impact_heatmap(rates, characteristic, min_group_size=min_group_size, width=width),
    }
    if by_campaign is not None:
        figs["trend_by_campaign"] = pass_rate_trend_by_campaign(
            by_campaign, characteristic, stage, min_group_size=min_group_size, width=width
        )
    if by_entry_route is not None:
        figs["by_entry_route"] = pass_rates_by_entry_route(
            by_entry_route, characteristic, stage, min_group_size=min_group_size, width=width
        )
    return figs
