"""Shared look of every chart: title block, legend, placeholders, hover text in words.

Every chart is drawn for the Dagster UI's metadata cell (`DEFAULT_WIDTH`, measured there:
see `figures.DEFAULT_WIDTH`). Plotly wraps no text and a subtitle reserves no space of
its own, so here every title, note, axis label and legend entry is wrapped to the pixels
it has (`_text`), and the margins grow with the lines: nothing is cut at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from funnel_pipeline.marts import ADVERSE_IMPACT_THRESHOLD
from funnel_pipeline.publish import summary

from . import _frames as fr
from ._text import line_count, widest_line, wrap
from .labels import pct

FONT = "Arial, Helvetica, sans-serif"
TITLE_SIZE = 15
NOTE_SIZE = 11
TICK_SIZE = 11
LEGEND_SIZE = 11
#: space kept free at the left and right edge of the picture
EDGE = 10
#: Plotly's line height (1.3 em) and the gaps of the title block, in px
_TITLE_LINE = 1.3 * TITLE_SIZE
_NOTE_LINE = 1.3 * NOTE_SIZE
_LEGEND_LINE = 1.3 * LEGEND_SIZE + 1
#: the title's top: Plotly sets a title of several lines a few px higher than it says
_TITLE_TOP = 16
#: legend: a column's share of the legend's room, the symbol and gap before the text, and
#: the space between rows
LEGEND_COLUMN = 0.49
_LEGEND_SYMBOL = 46
_LEGEND_ROW_GAP = 6
#: trace types Plotly leaves out of the legend unless told otherwise
_NOT_IN_LEGEND = frozenset({"heatmap", "contour", "histogram2d"})


def finish(
    fig: go.Figure,
    *,
    title: str,
    notes: Sequence[str],
    width: int,
    plot_height: int,
    left: int = 60,
    bottom_axis: int = 40,
    top_extra: int = 0,
    right: int = 16,
) -> go.Figure:
    """Common look: title and notes at the top, legend in two columns below.

    `left` and `bottom_axis` are the room the builder needs for its axis labels; the
    title block above and the legend below are measured here. Legend entries (trace
    names) are wrapped to half the picture's width.
    """
    axis_title = fig.layout.xaxis.title
    if axis_title.text:  # centred under the plot: it has the plot's width
        size = axis_title.font.size or 12
        axis_title.text = wrap(axis_title.text, width - left - right - 4, size)
        bottom_axis += round((line_count(axis_title.text) - 1) * 1.3 * size)
    title_html = wrap(title, width - 2 * EDGE, TITLE_SIZE)
    sub_html = "<br>".join(wrap(n, width - 2 * EDGE, NOTE_SIZE) for n in notes if n)
    top = (_TITLE_TOP + _TITLE_LINE * line_count(title_html) + 6
           + _NOTE_LINE * line_count(sub_html) + 14 + top_extra)
    legend_height = _legend(fig, width - right)
    bottom = bottom_axis + legend_height
    height = round(top + plot_height + bottom)
    fig.update_layout(
        template="plotly_white",
        width=width,
        height=height,
        font={"family": FONT, "size": 12, "color": "#222222"},
        title={
            "text": title_html,
            "subtitle": {"text": sub_html, "font": {"size": NOTE_SIZE, "color": "#555555"}},
            "x": EDGE / width,
            "xref": "container",
            "xanchor": "left",
            "yref": "container",
            "y": 1 - _TITLE_TOP / height,
            "yanchor": "top",
            "font": {"size": TITLE_SIZE},
        },
        margin={"l": left, "r": right, "t": round(top), "b": round(bottom)},
        # below the plot area and starting left of it, Plotly lets a horizontal legend be
        # as wide as the margin plus the plot; two entries of 0.49 of that share a row
        legend={
            "orientation": "h",
            "x": -(left - EDGE) / max(width - left - right, 1),
            "xanchor": "left",
            "y": -bottom_axis / max(plot_height, 1),
            "yanchor": "top",
            "font": {"size": LEGEND_SIZE},
            "entrywidth": LEGEND_COLUMN,
            "entrywidthmode": "fraction",
            "tracegroupgap": 0,
            "traceorder": "normal",
        },
        hoverlabel={"align": "left"},
        showlegend=legend_height > 0,
    )
    return fig


def _legend(fig: go.Figure, room_px: int) -> float:
    """Wrap the legend entries to their column; the legend's height in px."""
    room = LEGEND_COLUMN * room_px - _LEGEND_SYMBOL
    entries = [t for t in fig.data if t.name and (
        t.showlegend or (t.showlegend is None and t.type not in _NOT_IN_LEGEND))]
    for t in entries:
        t.name = wrap(t.name, room, LEGEND_SIZE)
    if not entries:
        return 0.0
    rows = [entries[i:i + 2] for i in range(0, len(entries), 2)]
    return 8 + sum(_LEGEND_LINE * max(line_count(t.name) for t in row) + _LEGEND_ROW_GAP
                   for row in rows)


def legend_entry(fig: go.Figure, name: str, marker: dict) -> None:
    """A legend entry of its own for a group whose data trace has `showlegend=False`
    and `legendgroup=name`: Plotly draws a legend symbol like the trace's first point,
    which would show a flagged group's ring (or an unflagged one's lack of it)."""
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=name,
                             hoverinfo="skip", marker=marker))


def flag_legend(fig: go.Figure, name: str) -> None:
    """The legend entry of the black ring every chart uses for "flagged"."""
    legend_entry(fig, name, {"color": "#FFFFFF", "size": 12,
                             "line": {"color": "#000000", "width": 3}})


def axis_labels(labels: Sequence[str], *, most: int, size: int = TICK_SIZE
                ) -> tuple[list[str], int]:
    """Category labels wrapped to at most `most` px; (wrapped labels, margin they need)."""
    wrapped = [wrap(lab, most - 12, size) for lab in labels]
    needed = max((widest_line(w, size) for w in wrapped), default=0.0)
    return wrapped, int(min(most, needed + 14))


def no_data(title: str, message: str, width: int) -> go.Figure:
    """A readable placeholder: a chart that silently vanishes worries people more."""
    fig = go.Figure()
    text = wrap(message, width - 4 * EDGE, 12)
    fig.add_annotation(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 12})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return finish(fig, title=title, notes=[], width=width,
                  plot_height=max(90, 24 + 16 * line_count(text)), bottom_axis=10, left=EDGE,
                  right=EDGE)


def quoted(label: str) -> str:
    """A label as listed among others: in quotes when it holds a list separator."""
    return f"“{label}”" if any(c in label for c in ",;") else label


def small_note(hidden: dict[str, list[str]], n_rows: int, min_group_size: int, where: str) -> str:
    """'Too small to read' note naming hidden groups (and where, if only partly hidden).

    Groups are separated by semicolons and a label that itself holds a comma or a
    semicolon is quoted, so the list reads one way only.
    """
    if not hidden:
        return ""
    parts = [quoted(g) if len(rows) >= n_rows
             else f"{quoted(g)} ({', '.join(quoted(r) for r in rows)})"
             for g, rows in hidden.items()]
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


def interval_words(low: float | None, high: float | None, ref_label: str) -> str:
    """The ratio's 95% interval in words, worded as the drop-out summary words it."""
    return summary.interval_words({"air_ci_low": low, "air_ci_high": high}, ref_label)


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
        low, high = (fr.num(row.get("air_ci_low")), fr.num(row.get("air_ci_high")))
        if low is not None and high is not None:
            words = interval_words(low, high, ref_label)
            lines.append(words[:1].upper() + words[1:])
    if fr.is_true(row["flagged"]):
        lines.append("<b>Flagged</b>: below four-fifths and unlikely to be chance")
    return "<br>".join(lines)
