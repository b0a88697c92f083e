"""The offline HTML report: one file, plotly.js inline, draws in Chromium with no network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser import launch_chromium
from test_charts_figures import LABELS, make_by_year, make_rates

from funnel_pipeline.charts import figures as F
from funnel_pipeline.charts.report import markdown_to_html, report_html, write_html_report

SUMMARY = """## What changed

- **Asian** applicants pass the *sift* less often than White applicants (ratio 0.55).
- See `marts.drop_out_points`; campaign <script>alert(1)</script> & co.

| Stage | Ratio |
|---|---|
| Sift | 0.55 |
"""


def figures() -> dict[str, object]:
    rates = make_rates()
    return {
        "funnel": F.funnel_overall(rates, labels=LABELS),
        "pass_rates": F.pass_rates_by_group(rates, "ethnicity", labels=LABELS),
        "adverse_impact": F.adverse_impact_heatmap(rates, "ethnicity", labels=LABELS),
        "trend": F.pass_rate_trend_by_year(make_by_year(), "ethnicity", "sift", labels=LABELS),
    }


def test_report_is_one_self_contained_deterministic_file(tmp_path: Path) -> None:
    figs = figures()
    path = write_html_report(figs, tmp_path, summary_markdown=SUMMARY)  # type: ignore[arg-type]
    assert re.fullmatch(r"report_[0-9a-f]{16}\.html", path.name)
    assert list(tmp_path.iterdir()) == [path]
    page = path.read_text(encoding="utf-8")
    assert len(page) > 3_000_000  # plotly.js is inside
    # nothing is loaded from anywhere: no src/href to a network address, no CDN
    assert not re.search(
        r"""<(script|link|img)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE
    )
    assert "cdn.plot.ly" not in page.split("</head>")[1]
    assert page.count('class="plotly-graph-div"') == 4
    # same content → same name; other content → another file
    assert write_html_report(figures(), tmp_path, summary_markdown=SUMMARY) == path  # type: ignore[arg-type]
    other = write_html_report(figs, tmp_path, summary_markdown="Another run.")  # type: ignore[arg-type]
    assert other != path and path.exists()


def test_summary_markdown_is_escaped_and_formatted() -> None:
    html = markdown_to_html(SUMMARY)
    assert "<h3>What changed</h3>" in html
    assert "<li><strong>Asian</strong> applicants pass the <em>sift</em>" in html
    assert "<code>marts.drop_out_points</code>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co." in html
    assert (
        "<table><tr><th>Stage</th><th>Ratio</th></tr><tr><td>Sift</td><td>0.55</td></tr></table>"
        in html
    )
    # no link syntax at all: the summary quotes input values, and a report shows no link
    # the project did not make (issue 20)
    assert markdown_to_html("[ok](https://example.org/x?a=1&b=2) [bad](javascript:alert(1))") == (
        "<p>[ok](https://example.org/x?a=1&amp;b=2) [bad](javascript:alert(1))</p>"
    )
    # inert.md's backslash escapes read as the plain characters and form no markup
    assert markdown_to_html(r"**\*\*x\*\*** \`y\` a\|b") == "<p><strong>**x**</strong> `y` a|b</p>"
    assert markdown_to_html("| a |\n|---|\n| x\\|y |") == "<table><tr><th>a</th></tr><tr><td>x|y</td></tr></table>"
    page = report_html({}, title="T <b>", summary_html="<p>trusted</p>")
    assert "<title>T &lt;b&gt;</title>" in page and "<p>trusted</p>" in page


@pytest.mark.slow
def test_report_draws_every_chart_offline_in_chromium(tmp_path: Path) -> None:
    from playwright import sync_api
    figs = figures()
    path = write_html_report(figs, tmp_path, summary_markdown=SUMMARY)  # type: ignore[arg-type]

    attempted: list[str] = []
    problems: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()

            def gate(route: object) -> None:
                url = route.request.url  # type: ignore[attr-defined]
                if url.startswith("file://"):
                    route.continue_()  # type: ignore[attr-defined]
                else:
                    attempted.append(url)
                    route.abort()  # type: ignore[attr-defined]

            page.route("**/*", gate)
            page.on(
                "request",
                lambda r: (
                    None
                    if r.url.startswith(("file://", "data:", "blob:"))
                    else attempted.append(r.url)
                ),
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=len(figs),
                timeout=30_000,
            )
            plots = page.locator(".js-plotly-plot")
            assert plots.count() == len(figs)
            for i in range(len(figs)):
                plot = plots.nth(i)
                assert plot.locator(".main-svg").count() >= 1
                # something was actually drawn: traces, and a title
                drawn = plot.locator(
                    "g.trace, g.funnellayer path, g.hm image, g.heatmaplayer image"
                ).count()
                assert drawn > 0, f"chart {i} drew no traces"
                assert plot.locator(".gtitle").count() == 1
            widths = page.eval_on_selector_all(
                ".js-plotly-plot .main-svg", "els => els.map(e => e.getAttribute('width'))"
            )
            assert set(widths) == {str(F.DEFAULT_WIDTH)}
            assert page.locator(".summary li").count() == 2
            assert page.locator(".summary script").count() == 0
            # hovering a point shows the counts behind it, in words
            heat = page.locator("#chart-adverse_impact .nsewdrag").first
            heat.scroll_into_view_if_needed()
            box = heat.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3)
            page.wait_for_selector(".hoverlayer .hovertext", timeout=5_000)
            assert "Passed" in page.locator(".hoverlayer .hovertext").first.text_content()
        finally:
            browser.close()
    assert attempted == [], f"the report tried the network: {attempted}"
    assert problems == [], problems
