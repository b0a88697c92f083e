"""The offline auditor report: content, privacy, escaping, and a real browser with no network.

A module-scoped DuckDB file gets two validated runs (GX on a tmp DuckDB table) plus a
hand-made outcome with hostile text; failing rows carry ``SENTINEL-ID-42``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
from browser import launch_chromium

from funnel_pipeline.quality import history, report
from funnel_pipeline.quality.outcome import ExpectationOutcome
from funnel_pipeline.quality.runner import validate

SENTINEL = "SENTINEL-ID-42"
UTC = dt.UTC
WINDOW = {
    "earliest_event_time": dt.datetime(2000, 1, 1, tzinfo=UTC),
    "latest_event_time": dt.datetime(2030, 1, 1, tzinfo=UTC),
}
#: the example suite (test data, not a pipeline suite)
SUITES = Path(__file__).resolve().parents[1] / "fixtures" / "suites"
ODD_RUN = "odd run/<&>'\""


@pytest.fixture(scope="module")
def history_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import great_expectations as gx

    path = tmp_path_factory.mktemp("report") / "funnel.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"""
            create schema core;
            create table core.events as
            select 'E' || i as event_id, 'A' || i as applicant_id, 'C-1' as campaign_id,
                   'sift' as stage, 'passed' as outcome,
                   timestamptz '2024-01-01 00:00:00+00' + to_seconds(i) as occurred_at,
                   1 as file_id
            from range(8) r(i);
            insert into core.events values
                ('{SENTINEL}', 'A1', 'C-1', 'sift', 'passed', '2024-02-01 00:00:00+00', 2),
                ('{SENTINEL}', null, 'x {SENTINEL}', '{SENTINEL}', 'passed',
                 '2024-02-01 00:00:00+00', 2);
        """)
    sql = "select * from core.events where file_id in :files"
    old = validate(
        path,
        "example_events", suites_dir=SUITES,
        query=sql,
        query_params={"files": [1]},
        expectation_parameters=WINDOW,
        run_id="run-old",
    )
    new = validate(
        path, "example_events", suites_dir=SUITES, table="core.events", expectation_parameters=WINDOW, run_id="run-new"
    )
    meta = {"check_name": "stage_not_null", "severity": "warn", "description": "Stages given."}
    extra = gx.ExpectationSuite(
        name="extra_checks",
        expectations=[gx.expectations.ExpectColumnValuesToNotBeNull(column="stage", meta=meta)],
    )
    new_extra = validate(path, extra, table="core.events", run_id="run-new")
    odd = ExpectationOutcome(
        run_id=ODD_RUN,
        validated_at=dt.datetime(2024, 1, 1, tzinfo=UTC),
        suite="s",
        batch="query",
        check_name="hostile_text",
        expectation_type="expect_x",
        columns=("c",),
        severity="warn",
        success=False,
        description="<script>alert(1)</script> & <img src=x onerror=alert(2)>",
    )
    with duckdb.connect(str(path)) as con:
        history.record_outcomes(
            con, old, asset_key="core/events", validated_at=dt.datetime(2024, 3, 1, tzinfo=UTC)
        )
        history.record_outcomes(
            con, new, asset_key="core/events", validated_at=dt.datetime(2024, 3, 2, tzinfo=UTC)
        )
        history.record_outcomes(
            con,
            new_extra,
            asset_key="core/events",
            validated_at=dt.datetime(2024, 3, 2, tzinfo=UTC),
        )
        history.record_outcomes(con, [odd], asset_key="core/odd")
    return path


@pytest.fixture
def built(history_db: Path, tmp_path: Path) -> Path:
    with duckdb.connect(str(history_db), read_only=True) as con:
        return report.build_report(con, tmp_path / "quality")


def _all_html(index: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in index.parent.rglob("*.html")}


def test_index_lists_runs_newest_first(built: Path) -> None:
    text = built.read_text(encoding="utf-8")
    ids = re.findall(r'data-run-id="([^"]*)"', text)
    assert ids == ["run-new", "run-old", "odd run/&lt;&amp;&gt;&#x27;&quot;"]
    new_row = re.search(r'<tr data-run-id="run-new">.*?</tr>', text).group(0)
    assert 'class="badge fail"' in new_row
    # run-new: 9 + 1 checks, 2 suites
    assert re.findall(r'<td class="num">(\d+)</td>', new_row)[:2] == ["2", "10"]
    old_row = re.search(r'<tr data-run-id="run-old">.*?</tr>', text).group(0)
    assert 'class="badge pass"' in old_row


def test_run_page_lists_suites_and_checks(built: Path) -> None:
    page = (built.parent / "runs" / report.run_page_name("run-new")).read_text()
    assert re.findall(r'data-suite="([^"]+)"', page) == ["example_events", "extra_checks"]
    checks = re.findall(r'data-check="([^"]+)"', page)
    assert len(checks) == 10 and "event_id_unique" in checks and "stage_not_null" in checks
    row = re.search(r'<tr data-check="event_id_unique">.*?</tr>', page).group(0)
    assert "FAIL" in row and "No event id occurs twice" in row and "20.00 %" in row
    warn_row = re.search(r'<tr data-check="campaign_id_format">.*?</tr>', page).group(0)
    assert 'class="badge warn"' in warn_row


def test_report_is_offline_private_and_escaped(built: Path) -> None:
    pages = _all_html(built)
    assert len(pages) == 4  # index + 3 runs
    for path, text in pages.items():
        for forbidden in ("http://", "https://", "//cdn", "<script", "<img", "@import"):
            assert forbidden not in text, (path, forbidden)
        assert SENTINEL not in text and "sentinel" not in text.lower()
        assert re.search(r'(src|href)="(?!data:|runs/|\.\./index\.html)', text) is None, path
    odd = pages[built.parent / "runs" / report.run_page_name(ODD_RUN)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in odd
    assert report.run_page_name(ODD_RUN).startswith("odd_run__")


def test_rebuild_drops_pages_of_runs_no_longer_listed(history_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "quality"
    with duckdb.connect(str(history_db), read_only=True) as con:
        report.build_report(con, out)
        assert len(list((out / "runs").glob("*.html"))) == 3
        report.build_report(con, out, max_runs=1)
    assert [p.name for p in (out / "runs").glob("*.html")] == ["run-new.html"]
    assert not list(out.rglob(".tmp-*"))


def test_empty_history_gives_a_page(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as con:
        index = report.build_report(con, tmp_path / "quality")
    text = index.read_text()
    assert 'id="no-runs"' in text and "http://" not in text and "https://" not in text


@pytest.mark.slow
def test_report_in_headless_chromium_without_network(built: Path) -> None:
    from playwright.sync_api import sync_playwright

    attempted: list[str] = []

    def only_local_files(route, request) -> None:  # type: ignore[no-untyped-def]
        if request.url.startswith(("file://", "data:")):
            route.continue_()
        else:
            attempted.append(request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            page = browser.new_page()
            page.route("**/*", only_local_files)
            page.on(
                "request",
                lambda r: None if r.url.startswith(("file:", "data:")) else attempted.append(r.url),
            )
            page.goto(built.as_uri())
            rows = page.locator("#runs tbody tr")
            assert rows.count() == 3
            assert rows.nth(0).get_attribute("data-run-id") == "run-new"
            assert rows.nth(1).get_attribute("data-run-id") == "run-old"
            badge = rows.nth(0).locator(".badge")
            assert badge.inner_text() == "FAIL"
            style = badge.evaluate(
                "e => { const s = getComputedStyle(e);"
                " return [s.backgroundColor, s.color, s.display, s.borderRadius]; }"
            )
            assert style[:3] == ["rgb(207, 34, 46)", "rgb(255, 255, 255)", "inline-block"]
            assert style[3] != "0px"
            pass_badge = rows.nth(1).locator(".badge")
            assert pass_badge.evaluate("e => getComputedStyle(e).backgroundColor") == (
                "rgb(26, 127, 55)"
            )

            rows.nth(0).locator("a").click()
            page.wait_for_load_state()
            assert page.url.endswith("/runs/run-new.html")
            suites = page.locator("section.suite")
            assert suites.count() == 2
            assert suites.nth(0).get_attribute("data-suite") == "example_events"
            checks = suites.nth(0).locator("tbody tr")
            assert checks.count() == 9
            unique_row = page.locator('tr[data-check="event_id_unique"]')
            cells = unique_row.locator("td").all_inner_texts()
            assert cells[0] == "FAIL" and cells[2] == "error" and cells[-2:] == ["10", "2 (20.00 %)"]
            warn = page.locator('tr[data-check="campaign_id_format"] .badge')
            assert warn.evaluate("e => getComputedStyle(e).backgroundColor") == ("rgb(154, 103, 0)")
            assert SENTINEL not in page.content()

            page.goto((built.parent / "runs" / report.run_page_name(ODD_RUN)).as_uri())
            assert "<script>alert(1)</script>" in page.locator("td").all_inner_texts()[3]
            page.locator("a", has_text="All runs").click()
            page.wait_for_load_state()
            assert page.locator("#runs tbody tr").count() == 3
        finally:
            browser.close()
    assert attempted == []


# --- issue 18: what an auditor reads ------------------------------------------------------


def _outcome(run_id: str, check: str, **kw) -> ExpectationOutcome:
    base = {"run_id": run_id, "validated_at": dt.datetime(2024, 5, 1, tzinfo=UTC), "suite": "s",
            "batch": "b", "check_name": check,
            "expectation_type": "expect_column_mean_to_be_between", "columns": ("is_orphan",),
            "severity": "warn", "success": True, "description": "d"}
    return ExpectationOutcome(**{**base, **kw})


@pytest.fixture
def auditor_db(tmp_path: Path) -> Path:
    """One run with a warning threshold, a rounded share, a check with no rows, and the
    funnel configuration it applied (config.applied, as the config/funnel asset writes)."""
    path = tmp_path / "auditor.duckdb"
    with duckdb.connect(str(path)) as con:
        history.record_outcomes(con, [
            _outcome("r1", "share_under_threshold", observed_value=1 / 600, element_count=1200,
                     threshold="max_value 0.05"),
            _outcome("r1", "nothing_new", element_count=0, unexpected_count=0),
            _outcome("r1", "failed_on_nothing", element_count=0, success=False,
                     severity="error"),
        ], asset_key="core/x")
        con.execute("create schema config; create table config.applied (applied_at timestamptz, "
                    "run_id varchar, name varchar, sha256 varchar, recomputed boolean, "
                    "definition varchar)")
        con.execute("insert into config.applied values (now(), 'r1', 'force <b>funnel</b>.toml', "
                    "'ab' || repeat('0', 62), true, 'secret definition')")
    return path


def test_thresholds_rounding_no_rows_and_configuration(auditor_db: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(auditor_db), read_only=True) as con:
        index = report.build_report(con, tmp_path / "quality")
    page = (index.parent / "runs" / report.run_page_name("r1")).read_text(encoding="utf-8")
    row = re.search(r'<tr data-check="share_under_threshold">.*?</tr>', page).group(0)
    assert "<td>max_value 0.05</td>" in row and "0.001667" in row and "0.0016666" not in row
    empty = re.search(r'<tr data-check="nothing_new">.*?</tr>', page).group(0)
    assert "NO ROWS" in empty and "PASS" not in empty
    # a failure is a failure, rows or not
    failed = re.search(r'<tr data-check="failed_on_nothing">.*?</tr>', page).group(0)
    assert "FAIL" in failed
    assert "1 passed, 1 failed (blocking), 0 warnings, 1 with no rows to check" in page
    # the configuration the run applied, escaped; never its definition
    for text in (page, index.read_text(encoding="utf-8")):
        assert "force &lt;b&gt;funnel&lt;/b&gt;.toml" in text and "ab0000000000" in text
        assert "secret definition" not in text and "<b>" not in text
    row = re.search(r'<tr data-run-id="r1">.*?</tr>', index.read_text()).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["1", "3", "1", "1", "0", "1"]


def test_report_files_are_world_readable(built: Path) -> None:
    """The chart server (another user in a deployment) serves them, like charts and exports."""
    for path in _all_html(built):
        assert path.stat().st_mode & 0o777 == 0o644, path
