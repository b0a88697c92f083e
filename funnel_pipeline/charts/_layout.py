"""Shared look of every chart: title block, legend, placeholders, hover text in words.

Plotly does not wrap titles and a subtitle reserves no space of its own, so the title
block is measured here and the margins follow it; every chart is sized for a ~450 px
sidebar with its legend underneath.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline.marts import ADVERSE_IMPACT_THRESHOLD

from . import _frames as fr
from .labels import pct, wrap

FONT = "Arial, Helvetica, sans-serif"


def finish(
    fig: go.Figure,
    *,
    title: str,
    notes: Sequence[str],
    width: int,
    plot_height: int,
    legend_items: int = 0,
    left: int = 60,
    bottom_axis: int = 40,
    top_extra: int = 0,
) -> go.Figure:
    """Common look: title and subtitle at the top, legend below, sized for a sidebar.

    Plotly does not wrap text and a subtitle does not reserve its own space, so lines
    are wrapped here and the top margin grows with them.
    """
    title_html = wrap(title, 54)
    sub_html = "<br>".join(wrap(n, 82) for n in notes if n)
    title_lines = title_html.count("<br>") + 1
    sub_lines = sub_html.count("<br>") + 1 if sub_html else 0
    top = 24 + 20 * title_lines + 15 * sub_lines + 14 + top_extra
    legend_rows = math.ceil(legend_items / 2) if legend_items else 0
    bottom = bottom_axis + 22 * legend_rows + (10 if legend_rows else 0)
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=top + plot_height + bottom,
        font={"family": FONT, "size": 12, "color": "#222222"},
        title={
            "text": title_html,
            "subtitle": {"text": sub_html, "font": {"size": 11, "color": "#555555"}},
            "x": 10 / width,
            "xref": "container",
            "xanchor": "left",
            "yref": "container",
            "y": 1 - 18 / (top + plot_height + bottom),
            "yanchor": "top",
            "font": {"size": 15},
        },
        margin={"l": left, "r": 16, "t": top, "b": bottom},
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 4 / (top + plot_height + bottom),
            "yanchor": "bottom",
            "xref": "container",
            "x": 6 / width,
            "xanchor": "left",
            "font": {"size": 11},
        },
        hoverlabel={"align": "left"},
        showlegend=legend_items > 0,
    )
    return fig


def no_data(title: str, message: str, width: int) -> go.Figure:
    """A readable placeholder: a chart that silently vanishes worries people more."""
    fig = go.Figure()
    fig.add_annotation(
        text=wrap(message, 55), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return finish(fig, title=title, notes=[], width=width, plot_height=120, bottom_axis=10)


def small_note(hidden: dict[str, list[str]], n_rows: int, min_group_size: int, where: str) -> str:
    """'Too small to read' note naming hidden groups (and where, if only partly hidden)."""
    if not hidden:
        return ""
    parts = [g if len(rows) >= n_rows else f"{g} ({', '.join(rows)})" for g, rows in hidden.items()]
    return (
        f"Too small to read, left out (fewer than {min_group_size} applications{where}): "
        + "; ".join(parts)
        + "."
    )


def ratio_text(air: float) -> str:
    """Two decimals, or three where two would round across the four-fifths line.

    0.7955 is below 0.8 and may be flagged; printed as "0.80" it would look wrong.
    """
    text = f"{air:.2f}"
    if (float(text) >= ADVERSE_IMPACT_THRESHOLD) != (air >= ADVERSE_IMPACT_THRESHOLD):
        text = f"{air:.3f}"
    return text


def hover_text(glabel: str, where: str, row: pd.Series, ref_label: str | None) -> str:
    """Hover text in words: counts behind the rate, the range, the comparison."""
    passed, failed, withdrawn = (
        fr.count(row["passed"]),
        fr.count(row["failed"]),
        fr.count(row["withdrawn"]),
    )
    decided = passed + failed + withdrawn
    lines = [
        f"<b>{glabel}</b> — {where}",
        f"Passed {passed:,} of {decided:,} with a result ({pct(fr.num(row['pass_rate']), 1)})",
        f"95% range {pct(fr.num(row['pass_rate_ci_low']), 1)} to {pct(fr.num(row['pass_rate_ci_high']), 1)}",
        f"Failed {failed:,} · withdrew {withdrawn:,} · still in progress {fr.count(row['pending']):,}",
    ]
    air, p = fr.num(row["adverse_impact_ratio"]), fr.num(row["fisher_p_value"])
    if air is not None and ref_label:
        lines.append(
            f"Pass rate relative to {ref_label}: {ratio_text(air)} (p = {p:.3g})"
            if p is not None
            else f"Pass rate relative to {ref_label}: {ratio_text(air)}"
        )
    if fr.is_true(row["flagged"]):
        lines.append("<b>Flagged</b>: below four-fifths and unlikely to be chance")
    return "<br>".join(lines)
