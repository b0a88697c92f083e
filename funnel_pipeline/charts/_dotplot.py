"""Dot-and-range chart shared by "pass rate per stage" and "pass rate per entry route"."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline.marts import ADVERSE_IMPACT_THRESHOLD, SIGNIFICANCE_LEVEL

from . import _frames as fr
from ._layout import axis_labels, finish, flag_legend, hover_text, legend_entry, small_note
from .labels import WARNING_COLOUR, Labels


def dot_plot(
    d: pd.DataFrame,
    *,
    labels: Labels,
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
    ref_label = labels.group_label(characteristic, reference) if reference else None
    all_groups = labels.group_order(characteristic, sorted(d["group_name"].unique()))
    shown = {(r, g) for (r, g), n in sizes.items() if n >= min_group_size}
    groups = [g for g in all_groups if any((r, g) in shown for r, _ in rows)]
    colours = labels.group_colours(characteristic, all_groups, reference)
    hidden: dict[str, list[str]] = {}
    for g in all_groups:
        missing = [lab for r, lab in rows if (r, g) in sizes and (r, g) not in shown]
        if missing:
            hidden[labels.group_label(characteristic, g)] = missing
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
                    line={"color": WARNING_COLOUR, "width": 2, "dash": "dash"},
                    name=f"Four-fifths of {ref_label} rate",
                    hoverinfo="skip",
                )
            )

    any_flagged = False
    for g in groups:
        gd = d.loc[(d["group_name"] == g) & d[row_col].isin(band)]
        gd = gd.loc[
            [
                (r, g) in shown and fr.num(v) is not None
                for r, v in zip(gd[row_col], gd["pass_rate"])
            ]
        ]
        if gd.empty:
            continue
        glabel = labels.group_label(characteristic, g)
        rate = [fr.num(v) for v in gd["pass_rate"]]
        low = [fr.num(v) for v in gd["pass_rate_ci_low"]]
        high = [fr.num(v) for v in gd["pass_rate_ci_high"]]
        flagged = [fr.is_true(v) for v in gd["flagged"]]
        any_flagged |= any(flagged)
        name = glabel + (" (reference)" if g == reference else "")
        symbol = "square" if g == reference else "circle"
        legend_entry(fig, name, {"color": colours[g], "symbol": symbol, "size": 8})
        fig.add_trace(
            go.Scatter(
                x=rate,
                y=[band[r] + offset[g] for r in gd[row_col]],
                mode="markers",
                name=name,
                legendgroup=name,
                showlegend=False,
                marker={
                    "color": colours[g],
                    "symbol": symbol,
                    "size": [13 if f else 8 for f in flagged],
                    "line": {
                        "color": ["#000000" if f else "#FFFFFF" for f in flagged],
                        "width": [3 if f else 1 for f in flagged],
                    },
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        (h - r) if h is not None and r is not None else 0
                        for h, r in zip(high, rate)
                    ],
                    "arrayminus": [
                        (r - lo) if lo is not None and r is not None else 0
                        for lo, r in zip(low, rate)
                    ],
                    "color": colours[g],
                    "thickness": 1.5,
                    "width": 0,
                },
                customdata=flagged,
                hovertext=[
                    hover_text(glabel, row_label[row[row_col]], row, ref_label)
                    for _, row in gd.iterrows()
                ],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    if any_flagged:
        flag_legend(fig, "Flagged: significantly low")
    ticktext, left = axis_labels([lab for _, lab in rows], most=int(width * 0.3))
    fig.update_yaxes(
        tickmode="array",
        tickvals=list(range(len(rows))),
        ticktext=ticktext,
        tickfont={"size": 11},
        range=[len(rows) - 0.5, -0.5],
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(title={"text": "Pass rate (of applications with a result)",
                            "font": {"size": 12}}, tickformat=".0%", range=[0, 1.02])
    for i in range(1, len(rows)):
        fig.add_hline(y=i - 0.5, line={"color": "#E5E5E5", "width": 1})
    notes = [
        lead_note,
        (
            "Dots: share passing; lines: where the true rate very likely lies (95% range). "
            f"Dashed mark: four-fifths (80%) of the {ref_label or 'reference'} rate. Black "
            f"ring: below it and unlikely to be chance (p < {SIGNIFICANCE_LEVEL:g})."
        ),
        small_note(hidden, len(rows), min_group_size, size_where),
    ]
    return finish(
        fig,
        title=title,
        notes=notes,
        width=width,
        plot_height=len(rows) * max(46, 12 * k + 14),
        left=left,
        bottom_axis=44,
    )
