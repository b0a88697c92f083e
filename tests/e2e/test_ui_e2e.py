"""End to end (issues 6, 17, 18): `funnel ui` starts `dagster dev` and the chart server on
free loopback ports in a temporary DAGSTER_HOME, after two nightly materialisations of the
dirty-landing fixture (the second with unrecognised applicants and a leavers file).

In headless Chromium at 1280 × 1000 and 1600 × 1000 (issue 18): on every `charts/*` page
each chart image of the page's markdown is loaded (naturalWidth > 0, the PNG's width) and
wholly inside the visible part of its metadata cell (after scrolling it to the middle:
inside every clipping ancestor and the window), and the metadata table needs no
horizontal scrolling (no table or note cut at the right edge); the drop-out summary is
shown inline on `marts/drop_out_points` (no "Show Markdown" button); the auditor report
linked from `quality/validation_report` answers 200 from the chart server. Issue 4 too:
the webserver's GraphQL (what the Checks tab shows) lists every asset check of the
Definitions, the expectations with the status and severity recorded in
quality.validation_results, the project's own checks (chart pictures, landing files)
passed. Ctrl-C-equivalent SIGTERM stops every process.

Screenshots of every page at both widths go to `<tmp_path>/screenshots`; with
FUNNEL_UPDATE_SCREENSHOT=1 the set in `DOC_SHOTS` is also copied to docs/screenshots/
(`chart_asset_page.png` is the README's picture).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from browser import launch_chromium
from conftest import APPLICANT_HEADER, FIXTURES, REPO_ROOT, UNRECOGNISED_PEOPLE, write_csv

pytestmark = [pytest.mark.slow, pytest.mark.starts_first(minutes=3)]

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
#: browser windows of issue 18 (width, height)
WINDOWS = ((1280, 1000), (1600, 1000))
#: screenshots kept in docs/screenshots: (asset page, window width) → file name
DOC_SHOTS = {
    ("charts/funnel", 1280): "chart_asset_page.png",
    ("charts/funnel", 1600): "charts_funnel_1600.png",
    ("charts/adverse_impact", 1280): "charts_adverse_impact_1280.png",
    ("charts/trends", 1280): "charts_trends_1280.png",
    ("charts/retention", 1280): "charts_retention_1280.png",
    ("marts/drop_out_points", 1280): "drop_out_points_1280.png",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:  # a 404 is an answer too
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


_CHECKS_QUERY = """
{ assetNodes { assetKey { path }
    assetChecksOrError { __typename ... on AssetChecks { checks {
        name blocking
        executionForLatestMaterialization { status evaluation { success severity } } } } } } }
"""


def declared_checks() -> set[tuple[str, str]]:
    """Every asset check of the Definitions (expectation suites and the project's own)."""
    from funnel_pipeline.definitions import defs

    return {(k.asset_key.to_user_string(), k.name)
            for k in defs.resolve_asset_graph().asset_check_keys}


def assert_ui_checks_match_history(ui_port: int, duckdb_path: Path) -> None:
    """The UI lists every declared check; each expectation has the status and severity of
    its validation result, and the checks that are not suites (chart pictures, landing
    files) passed."""
    data = graphql(ui_port, _CHECKS_QUERY)
    shown = {}
    for node in data["data"]["assetNodes"]:
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", checks
        for check in checks["checks"]:
            shown["/".join(node["assetKey"]["path"]), check["name"]] = check
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        # the latest run's results (the UI shows each check's latest execution)
        recorded = {(asset, name): (success, severity) for asset, name, success, severity in
                    con.execute("select asset_key, check_name, success, severity "
                                "from quality.validation_results where run_id = "
                                "(select arg_max(run_id, validated_at) "
                                " from quality.validation_results)").fetchall()}
    finally:
        con.close()
    assert len(recorded) > 90
    # the warnings the generated data raises: its planted unrecognised values, events dated
    # before the pass at the stage before, and leavers files naming a recruit twice
    assert {k for k, (success, _) in recorded.items() if not success} == {
        ("core/applicants", "unrecognised_values_share"),
        ("marts/stage_durations", "no_negative_durations"),
        ("marts/retention", "one_leaving_per_recruit")}
    declared = declared_checks()
    assert set(shown) == declared
    assert set(recorded) <= declared
    own = declared - set(recorded)
    assert own, "the chart pages' and landing files' own checks are declared"
    for key in own:
        execution = shown[key]["executionForLatestMaterialization"]
        assert execution is not None and execution["status"] == "SUCCEEDED", (key, execution)
    for key, (success, severity) in recorded.items():
        check = shown[key]
        execution = check["executionForLatestMaterialization"]
        assert execution is not None, key
        assert execution["status"] == ("SUCCEEDED" if success else "FAILED"), (key, execution)
        assert execution["evaluation"]["success"] == success, key
        assert execution["evaluation"]["severity"] == severity.upper(), key
        assert check["blocking"] == (severity == "error"), key


def graphql(ui_port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{ui_port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        data = json.loads(response.read())
    assert "errors" not in data, data.get("errors")
    return data


_METADATA_QUERY = """
query ($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
    assetMaterializations(limit: 1) { metadataEntries { label __typename
        ... on MarkdownMetadataEntry { mdStr } ... on UrlMetadataEntry { url } } } } } }
"""


def latest_metadata(ui_port: int, key: str) -> dict[str, str]:
    """Markdown and URL metadata of an asset's latest materialisation, as the UI has it."""
    data = graphql(ui_port, _METADATA_QUERY, {"key": {"path": key.split("/")}})
    (materialization,) = data["data"]["assetOrError"]["assetMaterializations"]
    return {e["label"]: e.get("mdStr") or e.get("url") for e in materialization["metadataEntries"]
            if e.get("mdStr") or e.get("url")}


def write_leavers(duckdb_path: Path, path: Path) -> int:
    """A clean leavers file for the recruits of the first night (section 9): two in five
    leave at a spread of durations, and recruits outside the first characteristic's
    reference group leave more often, so the retention page has curves, a board table of
    leavers and something to flag. Returns how many rows."""
    from funnel_pipeline.funnel_config import NOT_STATED

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        recruits = con.execute(
            "SELECT r.applicant_id, r.started_at, r.groups[1] NOT IN (c.reference_group, ?) "
            "FROM staging.recruits AS r, config.characteristics AS c WHERE c.position = 1 "
            "ORDER BY r.applicant_id, r.started_at", [NOT_STATED]).fetchall()
    finally:
        con.close()
    rows = []
    for i, (person, start, outside) in enumerate(recruits):
        if i % 5 < (4 if outside else 2):
            left = start + timedelta(days=20 + (i * 53) % 700)
            rows.append([person, left.strftime("%Y-%m-%dT%H:%M:%SZ"), "Resigned"])
    write_csv(path, ["applicant_id", "left_on", "reason"], rows)
    return len(rows)


_VISIBLE = """(el) => {
  // the part of the window el can be seen in: every ancestor that clips (overflow other
  // than visible) and the window itself
  let v = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
  for (let a = el.parentElement; a; a = a.parentElement) {
    const cs = getComputedStyle(a);
    if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') {
      const r = a.getBoundingClientRect();
      v = {left: Math.max(v.left, r.left), top: Math.max(v.top, r.top),
           right: Math.min(v.right, r.right), bottom: Math.min(v.bottom, r.bottom)};
    }
  }
  const b = el.getBoundingClientRect();
  const cell = el.closest('td').getBoundingClientRect();
  return {box: [b.left, b.top, b.right, b.bottom], visible: [v.left, v.top, v.right, v.bottom],
          cell: [cell.left, cell.right], natural: el.naturalWidth, complete: el.complete};
}"""

_SCROLLER = '[class*="assetEventMetadataScrollContainer"]'


def open_overview(page, ui_port: int, key: str) -> None:
    page.goto(f"http://127.0.0.1:{ui_port}/assets/{key}?view=overview",
              wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_selector(_SCROLLER, timeout=120_000)


def assert_charts_shown_whole(page, ui_port: int, key: str, chart_base: str, width: int) -> None:
    """Each image of the page's markdown loaded and wholly visible inside its cell; the
    metadata table not wider than the room it has (nothing cut at its right edge)."""
    from funnel_pipeline.charts.figures import DEFAULT_WIDTH

    markdown = latest_metadata(ui_port, key)["charts"]
    links = re.findall(r"!\[([^\]]*)\]\(([^)\s]+)\)", markdown)
    assert links and all(url.startswith(chart_base + "/") for _, url in links), markdown
    open_overview(page, ui_port, key)
    selector = f'img[src^="{chart_base}/"]'
    page.wait_for_function(
        """([sel, n]) => {
            const imgs = [...document.querySelectorAll(sel)];
            return imgs.length >= n && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""", arg=[selector, len(links)], timeout=60_000)
    shown = page.eval_on_selector_all(selector, "imgs => imgs.map(i => [i.alt, i.src])")
    assert sorted(shown) == sorted([list(link) for link in links]), (key, width)
    for i in range(len(links)):
        image = page.locator(selector).nth(i)
        image.evaluate("i => i.scrollIntoView({block: 'center', inline: 'nearest'})")
        m = image.evaluate(_VISIBLE)
        (left, top, right, bottom), (vl, vt, vr, vb) = m["box"], m["visible"]
        where = f"{key} at {width} px: {shown[i][0]!r} at x {left:.0f}..{right:.0f}, " \
                f"y {top:.0f}..{bottom:.0f}; visible x {vl:.0f}..{vr:.0f}, y {vt:.0f}..{vb:.0f}"
        assert m["complete"] and m["natural"] == DEFAULT_WIDTH, where
        assert left >= vl - 1 and right <= vr + 1 and top >= vt - 1 and bottom <= vb + 1, where
        assert m["cell"][0] - 1 <= left and right <= m["cell"][1] + 1, where
    overflow = page.eval_on_selector(_SCROLLER, "s => [s.scrollWidth, s.clientWidth]")
    assert overflow[0] <= overflow[1] + 1, (
        f"{key} at {width} px: the metadata table is {overflow[0]} px wide in {overflow[1]} px:"
        " its right side is cut")


def assert_summary_inline(page, ui_port: int) -> None:
    """The drop-out summary is rendered as text in its cell, not behind a button."""
    summary = latest_metadata(ui_port, "marts/drop_out_points")["summary"]
    assert len(summary) < 1000, len(summary)
    open_overview(page, ui_port, "marts/drop_out_points")
    row = page.locator(f"{_SCROLLER} table > tbody > tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(r"^\s*summary\s*$")))
    row.first.wait_for(timeout=60_000)
    assert row.count() == 1
    value = row.first.locator("td").nth(2)
    assert value.get_by_role("button", name=re.compile("Show Markdown", re.IGNORECASE)).count() == 0
    first = next(line for line in summary.splitlines() if line.strip())
    heading = re.sub(r"[*_#`]", "", first).strip()  # its words, as rendered
    assert value.get_by_text(heading).first.is_visible()
    # its paragraphs are rendered (markdown, not its source)
    assert value.locator("p").count() >= 1 and "**" not in value.inner_text()
    # and wholly visible: no metadata entry widens the table past the window
    overflow = page.eval_on_selector(_SCROLLER, "s => [s.scrollWidth, s.clientWidth]")
    assert overflow[0] <= overflow[1] + 1, (
        f"marts/drop_out_points: the metadata table is {overflow[0]} px wide in "
        f"{overflow[1]} px: the summary's right side is cut")


def screenshot(page, path: Path, first: str | None = None) -> None:
    """The page with its first chart (or `first`) scrolled to the top of the view."""
    target = page.locator(first).first if first else None
    if target is not None and target.count():
        target.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let the layout settle before the picture
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 30_000, path


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_chart_asset_page_shows_loaded_images(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ui_port, chart_port = free_port(), free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    chart_base = f"http://127.0.0.1:{chart_port}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "FUNNEL_DUCKDB_PATH": str(tmp_path / "funnel.duckdb"),
        "FUNNEL_REPORTS_DIR": str(tmp_path / "reports"),
        "FUNNEL_CHART_BASE_URL": chart_base,
        "FUNNEL_STEP_RETRIES": "0",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    # The UI's own landing folder is empty, so the landing sensor (running by default
    # under `dagster dev`) starts no run that would compete for the DuckDB file; the
    # materialisation below reads the fixture.
    (tmp_path / "empty_landing").mkdir()
    ui_env = {**env, "FUNNEL_LANDING_DIR": str(tmp_path / "empty_landing")}

    def materialise(landing: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "materialize",
             "-m", "funnel_pipeline.definitions", "--select", "*"],
            cwd=REPO_ROOT, env={**env, "FUNNEL_LANDING_DIR": str(landing)},
            capture_output=True, text=True, timeout=600, check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    # materialise first: two processes creating a fresh SQLite instance storage at the
    # same moment collide ("table alembic_version already exists")
    materialise(FIXTURES / "dirty-landing")
    # a second night whose new applicants file has unrecognised values: a warning check
    # fails, and the UI must show that run's statuses (marts still publish); its leavers
    # file gives the retention page curves
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "dirty-landing", landing)
    write_csv(landing / "applicants_99_unrecognised.csv", APPLICANT_HEADER, UNRECOGNISED_PEOPLE)
    assert write_leavers(tmp_path / "funnel.duckdb", landing / "leavers_01.csv") > 20
    materialise(landing)
    ui_log = (tmp_path / "ui.log").open("w")
    ui = subprocess.Popen(
        [sys.executable, "-m", "funnel_pipeline.cli", "ui", "--port", str(ui_port),
         "--chart-port", str(chart_port)],
        cwd=REPO_ROOT, env=ui_env, stdout=ui_log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    groups: set[int] = set()
    browser = None
    try:
        time.sleep(1)
        groups.update(children_of(ui.pid))
        wait_http(f"http://127.0.0.1:{ui_port}/server_info", 180, ui)
        wait_http(f"{chart_base}/no-such-file", 30, ui)
        assert_ui_checks_match_history(ui_port, tmp_path / "funnel.duckdb")
        groups.update(children_of(ui.pid))
        assert len(groups) == 3, "funnel ui should run exactly three children (chart server, webserver, daemon)"
        # one report per night (the second night's leavers changed it), the latest linked
        reports = {p.name for p in (tmp_path / "reports" / "charts").glob("report_*.html")}
        assert len(reports) == 2
        (report,) = re.findall(r"\]\((\S+/report_[0-9a-f]{16}\.html)\)",
                               latest_metadata(ui_port, "charts/report")["charts"])
        assert report.rsplit("/", 1)[1] in reports
        with urllib.request.urlopen(report, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        # the auditor report, linked from its asset, from the same server (issue 18)
        auditor = latest_metadata(ui_port, "quality/validation_report")["report_url"]
        assert auditor.startswith(chart_base + "/quality/"), auditor
        with urllib.request.urlopen(auditor, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")

        from funnel_pipeline.assets.charts import CHART_ASSETS

        chart_pages = [f"charts/{name}" for name in CHART_ASSETS]
        shots = tmp_path / "screenshots"
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            for width, height in WINDOWS:
                page = browser.new_page(viewport={"width": width, "height": height})
                for key in chart_pages:
                    assert_charts_shown_whole(page, ui_port, key, chart_base, width)
                    screenshot(page, shots / f"{key.replace('/', '_')}_{width}.png",
                               f'img[src^="{chart_base}/"]')
                assert_summary_inline(page, ui_port)
                screenshot(page, shots / f"marts_drop_out_points_{width}.png")
                page.close()
            browser.close()
            browser = None
        print(f"\nscreenshots: {shots}")
        if os.environ.get("FUNNEL_UPDATE_SCREENSHOT") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for (key, width), name in DOC_SHOTS.items():
                shutil.copy(shots / f"{key.replace('/', '_')}_{width}.png", SCREENSHOTS / name)

        # Ctrl-C / SIGTERM stops both children and everything they started
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=90) == 0, (tmp_path / "ui.log").read_text()[-3000:]
        deadline = time.monotonic() + 10  # killed processes take a moment to be reaped
        while any(group_alive(g) for g in groups) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pgid in groups:
            assert not group_alive(pgid), f"process group {pgid} outlived `funnel ui`"
    finally:
        if browser is not None:
            try:
                browser.close()
            except Exception:  # noqa: BLE001, S110 - best effort in cleanup
                pass
        if ui.poll() is None:
            ui.terminate()
            try:
                ui.wait(timeout=60)
            except subprocess.TimeoutExpired:
                ui.kill()
                ui.wait(timeout=10)
        for pgid in groups | {ui.pid}:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        ui_log.close()
