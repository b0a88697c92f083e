"""No clipped text in any chart (issue 18): every text line of every figure, measured.

Each figure of every page is drawn by kaleido as SVG (the drawing its PNG is made
from), the SVGs are opened in headless Chromium, and the box of every drawn text line
(`getBoundingClientRect` of each line) is checked:

* inside the picture;
* inside the clip region Plotly draws it in (a legend entry past the legend's box, or
  bar text past the plot area, is cut off there);
* not overlapping another line (a subtitle running into the tick labels);
* the title block above the plot area, the legend below it.

The figures come from real runs (`run_all`) of the synthetic demo (built-in funnel,
with leavers), of the force-landing fixture with its own seven-stage funnel, of the same
demo with every label as long as the project lets it be (stage 30, group 50,
characteristic 60 characters, entry routes 40; wide letters, commas, `&`), and the
placeholders of empty marts.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from browser import launch_chromium
from conftest import FIXTURES

from funnel_pipeline import vocabulary, warehouse
from funnel_pipeline.charts import figures as F
from funnel_pipeline.charts import pages, render
from funnel_pipeline.charts.labels import Labels
from funnel_pipeline.funnel_config import FunnelConfig
from funnel_pipeline.pipeline import run_all
from funnel_pipeline.settings import Settings
from funnel_pipeline.synthetic import generate_landing

pytestmark = pytest.mark.slow

#: tolerance of the measurements, in px (anti-aliasing of glyph edges)
SLACK = 0.75

_MEASURE = """
(slack) => {
  const problems = {};
  const clipBox = (el) => {
    const id = el.getAttribute('clip-path').match(/#([^)"']+)/)[1];
    const rect = document.getElementById(id).querySelector('rect');
    const m = el.getScreenCTM();
    const x = +(rect.getAttribute('x') || 0), y = +(rect.getAttribute('y') || 0);
    const w = +rect.getAttribute('width'), h = +rect.getAttribute('height');
    const p = new DOMPoint(x, y).matrixTransform(m), q = new DOMPoint(x + w, y + h).matrixTransform(m);
    return {left: Math.min(p.x, q.x), right: Math.max(p.x, q.x), top: Math.min(p.y, q.y),
            bottom: Math.max(p.y, q.y), id};
  };
  const inside = (b, r) => b.left >= r.left - slack && b.right <= r.right + slack &&
                           b.top >= r.top - slack && b.bottom <= r.bottom + slack;
  for (const holder of document.querySelectorAll('div[data-name]')) {
    const name = holder.dataset.name, svg = holder.querySelector('svg');
    const out = problems[name] = [];
    const page = svg.getBoundingClientRect();
    const plot = svg.querySelector('clipPath[id$="xy"] rect');
    const plotBox = plot ? (() => { const r = plot.getBoundingClientRect(); return r.width ? r : null; })() : null;
    const lines = [];
    for (const text of svg.querySelectorAll('text')) {
      const parts = text.querySelectorAll('tspan.line');
      for (const el of (parts.length ? parts : [text])) {
        const shown = el.textContent.trim();
        if (!shown) continue;
        const b = el.getBoundingClientRect();
        if (!b.width) continue;
        const where = text.closest('.g-gtitle') ? 'title' : text.closest('.legend') ? 'legend' : 'other';
        lines.push({shown, b, where, text});
        if (!inside(b, page)) out.push(`outside the picture: "${shown}" x ${Math.round(b.left - page.left)}..${Math.round(b.right - page.left)} of ${Math.round(page.width)}, y ${Math.round(b.top - page.top)}..${Math.round(b.bottom - page.top)} of ${Math.round(page.height)}`);
        for (let a = el.parentElement; a && a !== svg; a = a.parentElement) {
          if (a.hasAttribute('clip-path')) {
            const c = clipBox(a);
            if (!inside(b, c)) out.push(`cut by ${c.id}: "${shown}"`);
          }
        }
      }
    }
    for (let i = 0; i < lines.length; i++) {
      for (let j = i + 1; j < lines.length; j++) {
        const p = lines[i].b, q = lines[j].b;
        const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
        const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
        if (w > 1 && h > 1) out.push(`overlap: "${lines[i].shown}" / "${lines[j].shown}"`);
      }
    }
    if (plotBox) {
      for (const l of lines) {
        if (l.where === 'title' && l.b.bottom > plotBox.top + slack) out.push(`title in the plot: "${l.shown}"`);
        if (l.where === 'legend' && l.b.top < plotBox.bottom - slack) out.push(`legend in the plot: "${l.shown}"`);
      }
    }
    holder.dataset.lines = lines.length;
  }
  return problems;
}
"""


def _marts(settings: Settings) -> tuple[dict, FunnelConfig]:
    with warehouse.open_warehouse(settings, read_only=True) as con:
        return pages.read_marts(con), vocabulary.current_config(con)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, FunnelConfig]]:
    root = tmp_path_factory.mktemp("text_fit")
    generate_landing(root / "demo", applicants=2000, fmt="csv")
    out = {}
    for name, landing, config in (("demo", root / "demo", ""),
                                  ("force", FIXTURES / "force-landing",
                                   str(FIXTURES / "funnel.custom.toml"))):
        settings = Settings(landing_dir=landing, duckdb_path=root / f"{name}.duckdb",
                            reports_dir=root / f"{name}_reports", duckdb_memory_limit="1GB",
                            config_path=config)
        run_all(settings)
        out[name] = _marts(settings)
    return out


def long_labels(config: FunnelConfig) -> FunnelConfig:
    """The same funnel with every display name as long as the project lets it be."""
    stages = tuple(dataclasses.replace(s, label=f"WWWW {s.name} & checks, stage {i}"[:30])
                   for i, s in enumerate(config.stages))
    chars = tuple(dataclasses.replace(
        c, label=f"Characteristic {c.name}, as the force's HR system records it"[:60],
        group_labels={g: f"MWMW {g}, long & awkward group label of {c.name}"[:50]
                      for g in c.all_groups})
        for c in config.characteristics)
    return dataclasses.replace(config, stages=stages, characteristics=chars)


def long_routes(marts: dict) -> dict:
    renamed = dict(marts)
    for table in (pages.BY_ENTRY_ROUTE, pages.WORKFORCE_FLOWS):
        frame = marts[table].copy()
        frame["entry_route"] = [r if r in ("All routes", "Unknown")
                                else f"{r}: Degree Holder Entry, WWWW, Programme"[:40]
                                for r in frame["entry_route"]]
        renamed[table] = frame
    return renamed


def placeholders(config: FunnelConfig) -> dict[str, go.Figure]:
    labels = Labels(config)
    c = config.characteristics[0].name
    empty = pd.read_csv(FIXTURES / "optional-landing.v12.expected" / "stage_pass_rates.csv"
                        ).iloc[0:0]
    return {
        "no leavers": F.no_leavers(),
        "empty funnel": F.funnel_overall(empty, labels=labels),
        "empty forest": F.adverse_impact_forest(empty, c, labels=labels),
        "empty pass rates": F.pass_rates_by_group(empty, c, labels=labels),
    }


def all_figures(runs) -> dict[str, go.Figure]:
    figures: dict[str, go.Figure] = {}
    demo_marts, demo_config = runs["demo"]
    sets = {"demo": runs["demo"], "force": runs["force"],
            "long": (long_routes(demo_marts), long_labels(demo_config))}
    for key, (marts, config) in sets.items():
        built = pages.build_figures(marts, config, min_group_size=10)
        assert built.pages["retention"], f"{key}: no retention chart"
        figures.update({f"{key} / {n}": f for n, f in built.report.items()})
    figures.update({f"placeholder / {n}": f for n, f in placeholders(demo_config).items()})
    return figures


def test_no_text_line_is_cut_or_overlaps(runs, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    figures = all_figures(runs)
    assert len(figures) > 90
    try:
        svgs = {name: render.render_svg(fig) for name, fig in figures.items()}
    finally:
        render.stop_renderer()
    for name, fig in figures.items():
        assert fig.layout.width == F.DEFAULT_WIDTH, name
    page_html = "".join(
        f'<div data-name="{json.dumps(name)[1:-1]}" style="margin:4px">{svg}</div>'
        for name, svg in svgs.items())
    (tmp_path / "figures.html").write_text(f"<html><body>{page_html}</body></html>")
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto((tmp_path / "figures.html").as_uri())
            problems = page.evaluate(_MEASURE, SLACK)
            counted = page.eval_on_selector_all(
                "div[data-name]", "els => els.map(e => +e.dataset.lines)")
        finally:
            browser.close()
    assert min(counted) >= 2, "a figure with no text drawn: the measurement found nothing"
    bad = {name: p for name, p in problems.items() if p}
    if os.environ.get("FUNNEL_SHOW_TEXT_FIT"):
        print(json.dumps(bad, indent=1))
    assert not bad, "\n".join(f"{n}: {p[:4]}" for n, p in list(bad.items())[:15])


def test_measurement_finds_a_cut_line(tmp_path: Path) -> None:
    """The check fails where it should: a title wider than its picture, text cut at the
    edge of the plot area, two lines on top of each other."""
    from playwright.sync_api import sync_playwright

    wide = go.Figure(go.Scatter(x=[1, 2], y=[1, 2], mode="text", text=["", "cut at the edge"],
                                cliponaxis=True))
    wide.update_xaxes(range=[0, 2])
    wide.update_layout(width=300, height=300, title={"text": "M" * 60},
                       annotations=[{"text": "same place", "x": 1.5, "y": 1.5, "showarrow": False},
                                    {"text": "same place", "x": 1.5, "y": 1.5, "showarrow": False}])
    try:
        svg = render.render_svg(wide)
    finally:
        render.stop_renderer()
    (tmp_path / "bad.html").write_text(f'<html><body><div data-name="bad">{svg}</div></body></html>')
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.goto((tmp_path / "bad.html").as_uri())
            problems = page.evaluate(_MEASURE, SLACK)["bad"]
        finally:
            browser.close()
    assert any(p.startswith("outside the picture") and "MMM" in p for p in problems), problems
    assert any(p.startswith("cut by clip") and "cut at the edge" in p for p in problems), problems
    assert any(p.startswith("overlap") and "same place" in p for p in problems), problems
