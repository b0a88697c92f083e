"""One self-contained, interactive HTML report per run.

Why: the PNGs in the Dagster UI answer "what happened"; a recruitment lead who wants to
hover for the counts behind a dot, or to forward the run's charts, needs the
interactive versions. The file embeds plotly.js (~4.8 MB) once, loads nothing from the
network (a Content-Security-Policy in the page forbids it), so it opens offline, from
a file share or an e-mail attachment. Like the PNGs it is named by a hash of its
content, so every run keeps its own report.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from .render import DEFAULT_HEIGHT, DEFAULT_WIDTH, _slug, _write_atomically

#: No fetches of any kind; inline script and style only; data: images for plotly's
#: "download as PNG" button.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:"
)
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

_STYLE = """
body { font-family: Arial, Helvetica, sans-serif; color: #222; margin: 24px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 12px; }
.summary { max-width: 940px; line-height: 1.45; font-size: 14px; margin-bottom: 18px; }
.summary table { border-collapse: collapse; margin: 8px 0; }
.summary th, .summary td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.chart { background: #fff; border: 1px solid #e3e3e3; padding: 6px; }
footer { margin-top: 22px; font-size: 12px; color: #666; }
"""


# --- a small, safe markdown subset ----------------------------------------------------


def _inline(text: str) -> str:
    """Escape, then **bold**, *italic* and `code` only.

    Backslash escapes (``\\[``, how ``inert.md`` makes input text literal) become the
    plain character and take no part in any markup. There is no link or image syntax at
    all: the summary quotes campaign ids and routes from files, and a report must show
    no link the project did not make.
    """
    literals: list[str] = []

    def hold(match: re.Match[str]) -> str:
        literals.append(match.group(1))
        return f"\x00{len(literals) - 1}\x00"

    out = html.escape(_ESCAPED.sub(hold, text), quote=True)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: html.escape(literals[int(m.group(1))], quote=True),
                  out)


#: a CommonMark backslash escape: backslash + one ASCII punctuation character
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_CELL_SEPARATOR = re.compile(r"(?<!\\)\|")


def markdown_to_html(text: str) -> str:
    """Headings, paragraphs, bullet lists and pipe tables; everything else is text.

    A summary is produced by our own pipeline, but it quotes data (campaign ids, entry
    routes) that came from files, so all text is escaped and raw HTML is not passed
    through. Deliberately small: no dependency for one paragraph of prose.
    """
    blocks: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
            continue
        if m := re.match(r"^(#{1,4})\s+(.*)$", line):
            level = len(m.group(1)) + 1  # the page title is the only <h1>
            blocks.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
            i += 1
        elif re.match(r"^\s*[-*]\s+", line):
            items = []
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                items.append(f"<li>{_inline(item)}</li>")
                i += 1
            blocks.append("<ul>" + "".join(items) + "</ul>")
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                # cells split on unescaped pipes only (`\|` is a literal pipe in a value)
                cells = [c.strip() for c in _CELL_SEPARATOR.split(lines[i].strip()[1:].removesuffix("|"))]
                if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells):
                    tag = "th" if not rows else "td"
                    rows.append(
                        "<tr>" + "".join(f"<{tag}>{_inline(c)}</{tag}>" for c in cells) + "</tr>"
                    )
                i += 1
            blocks.append("<table>" + "".join(rows) + "</table>")
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not re.match(r"^(#{1,4}\s|\s*[-*]\s|\s*\|)", lines[i])
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            blocks.append("<p>" + "<br>".join(para) + "</p>")
    return "\n".join(blocks)


# --- the report -----------------------------------------------------------------------


def report_html(
    figures: Mapping[str, go.Figure],
    *,
    title: str = "Recruitment funnel report",
    summary_markdown: str | None = None,
    summary_html: str | None = None,
) -> str:
    """The whole page as a string; deterministic (fixed div ids) so its hash is stable.

    `summary_html` is inserted as it is (for trusted HTML we produce ourselves);
    `summary_markdown` is converted with `markdown_to_html`. Either or both may be given.
    """
    charts = []
    for name, fig in figures.items():
        div = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            div_id=f"chart-{_slug(name)}",
            config=PLOTLY_CONFIG,
            default_width=f"{int(fig.layout.width or DEFAULT_WIDTH)}px",
            default_height=f"{int(fig.layout.height or DEFAULT_HEIGHT)}px",
        )
        charts.append(f'<section class="chart" aria-label="{html.escape(name)}">{div}</section>')
    summary = (summary_html or "") + (
        markdown_to_html(summary_markdown) if summary_markdown else ""
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en-GB"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            f'<script type="text/javascript">{get_plotlyjs()}</script>',
            "</head><body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<div class="summary">{summary}</div>' if summary else "",
            '<main class="charts">',
            *charts,
            "</main>",
            (
                "<footer>Aggregate figures only. Hover over a chart for the counts behind it; "
                "the camera icon saves a chart as a picture. This file works offline.</footer>"
            ),
            "</body></html>",
        ]
    )


def write_html_report(
    figures: Mapping[str, go.Figure],
    folder: str | Path,
    *,
    title: str = "Recruitment funnel report",
    summary_markdown: str | None = None,
    summary_html: str | None = None,
    name: str = "report",
) -> Path:
    """Write `report_<sha256[:16]>.html` under `folder` (kept if already there); return it."""
    page = report_html(
        figures, title=title, summary_markdown=summary_markdown, summary_html=summary_html
    ).encode("utf-8")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_slug(name)}_{hashlib.sha256(page).hexdigest()[:16]}.html"
    if not path.exists():
        _write_atomically(path, page)
    return path


def latest_report(folder: str | Path, name: str = "report") -> Path | None:
    """The newest file `write_html_report` wrote under `folder` with this name, if any."""
    found = sorted(Path(folder).glob(f"{_slug(name)}_*.html"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None
