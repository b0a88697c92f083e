"""End to end (issue 6): `funnel ui` starts `dagster dev` and the chart server on free
loopback ports in a temporary DAGSTER_HOME; a materialisation from the dirty-landing
fixture shows its charts inline on the asset page in headless Chromium (images present
*and loaded*); Ctrl-C-equivalent SIGTERM stops every process. Issue 4 too: the
webserver's GraphQL (what the Checks tab shows) lists every expectation of every suite
as an asset check, with the status and severity recorded in quality.validation_results.

The screenshot goes to tmp_path; with FUNNEL_UPDATE_SCREENSHOT=1 it is also copied to
docs/screenshots/chart_asset_page.png (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import pytest
from browser import launch_chromium
from conftest import APPLICANT_HEADER, FIXTURES, REPO_ROOT, UNRECOGNISED_PEOPLE, write_csv

pytestmark = pytest.mark.slow

SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "chart_asset_page.png"


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


def assert_ui_checks_match_history(ui_port: int, duckdb_path: Path) -> None:
    """Every check the UI lists has the status and severity of its validation result."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{ui_port}/graphql", data=json.dumps({"query": _CHECKS_QUERY}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        data = json.loads(response.read())
    assert "errors" not in data, data.get("errors")
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
    assert [k for k, (success, _) in recorded.items() if not success] == [
        ("core/applicants", "unrecognised_values_share")]
    assert set(shown) == set(recorded)
    for key, (success, severity) in recorded.items():
        check = shown[key]
        execution = check["executionForLatestMaterialization"]
        assert execution is not None, key
        assert execution["status"] == ("SUCCEEDED" if success else "FAILED"), (key, execution)
        assert execution["evaluation"]["success"] == success, key
        assert execution["evaluation"]["severity"] == severity.upper(), key
        assert check["blocking"] == (severity == "error"), key


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
    # fails, and the UI must show that run's statuses (marts still publish)
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "dirty-landing", landing)
    write_csv(landing / "applicants_99_unrecognised.csv", APPLICANT_HEADER, UNRECOGNISED_PEOPLE)
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
        assert len(groups) == 2, "funnel ui should run exactly two children"
        reports = list((tmp_path / "reports" / "charts").glob("report_*.html"))
        assert len(reports) == 1
        with urllib.request.urlopen(f"{chart_base}/{reports[0].name}", timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")

        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            # 1920 px: the Overview's value column is then wider than the 450 px images (at
            # ~1500 px it is ~350 px and cuts them); tall, because the page scrolls inside
            # a container, not the window (a full-page shot would not show more)
            page = browser.new_page(viewport={"width": 1920, "height": 2300})
            page.goto(f"http://127.0.0.1:{ui_port}/assets/charts/funnel?view=overview",
                      wait_until="domcontentloaded", timeout=120_000)
            selector = f'img[src^="{chart_base}/"]'
            page.wait_for_selector(selector, timeout=120_000)
            page.wait_for_function(
                """sel => {
                    const imgs = [...document.querySelectorAll(sel)];
                    return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0);
                }""",
                arg=selector, timeout=60_000,
            )
            images = page.eval_on_selector_all(
                selector, "imgs => imgs.map(i => [i.getAttribute('alt'), i.src, i.naturalWidth])")
            alts = [alt for alt, _, _ in images]
            assert {"Funnel", "Funnel by ethnicity", "Pass rates: ethnicity"} <= set(alts), alts
            assert all(width == 450 for _, _, width in images), images
            # shown whole: no image is cut by the edge of its metadata cell
            clipped = page.eval_on_selector_all(selector, """imgs => imgs.filter(i => {
                const cell = i.closest('td') || i.parentElement;
                return i.getBoundingClientRect().right > cell.getBoundingClientRect().right + 1;
            }).map(i => i.alt)""")
            assert not clipped, clipped
            # the table of plotted figures renders too
            assert page.get_by_text("plotted_figures").count() >= 1
            page.wait_for_timeout(1500)  # let the layout settle before the picture
            shot = tmp_path / "chart_asset_page.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 50_000
            if os.environ.get("FUNNEL_UPDATE_SCREENSHOT") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, SCREENSHOT)
            browser.close()
            browser = None

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
