"""Issue 20: data is inert. Hostile strings in every input field, through real runs,
must not make a viewer's browser fetch from another host, show a link the project did
not make, or make the webserver record an event.

How: `hostile_landing` writes one landing folder per round (every free-text field a
payload of `payloads.py`, 8 flagged campaigns per round so every payload reaches the
drop-out summary once). Each round is materialised with the acceptance command
(`dagster asset materialize -m funnel_pipeline.definitions --select '*'`) into one fresh
DAGSTER_HOME, its own DuckDB file and the shared reports folder. Then the chart server
(charts folder, the origin of every chart link), a second one over the whole reports
folder (for `quality/index.html`) and `dagster-webserver` start, and:

1. GraphQL records every asset's materialisations and observations, every check's
   executions and the runs;
2. headless Debian Chromium opens every asset's Overview and every materialisation on
   its Events tab, opens every "[Show Markdown]" dialog, then every offline report
   (`charts/report_*.html`, `quality/index.html` and its run pages) through the chart
   servers. Every request is recorded (requests to other hosts are aborted, so the closed
   network is not hammered; same-origin ones go through, so a GraphQL GET really runs);
   every URL-bearing attribute of the rendered pages is collected; in the reports every
   Plotly hover-rendered string is checked and one point of every marker-bearing trace
   is hovered for real;
3. GraphQL is asked again: nothing may have been recorded.

A leak is: a request or URL attribute carrying a payload marker; a request to another
origin; a GET of /graphql; in a metadata area (a metadata table, a markdown dialog) or
a report, a link or image to anything but the project's own URLs (chart files, the UI's
routes, files under the reports folder); a `javascript:` link; a JavaScript dialog; raw
payload markup in a Plotly hover label; a payload as a formula in an export. The failure
message names the page (asset and view, or report), the metadata key and the payload.

Screenshots of every page go to `<tmp_path>/screenshots` (paths printed).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest
from browser import launch_chromium
from conftest import REPO_ROOT
from hostile_landing import rounds, write_configuration, write_round
from ops_helpers import start, stop
from payloads import MARKER, PAYLOADS, describe, markers_in

pytestmark = [pytest.mark.slow, pytest.mark.starts_first(minutes=10)]

#: a chart server file the project wrote (content-hashed PNG or HTML)
PROJECT_FILE = re.compile(r"^/[a-z0-9_]+_[0-9a-f]{16}\.(png|html)$")
#: the auditor report the chart server serves under /quality/ (its index and one page a run)
QUALITY_FILE = re.compile(r"^/quality/(index|runs/[0-9a-f-]{36})\.html$")
#: hosts of links the Dagster UI itself shows outside metadata (its help links, not data)
DAGSTER_CHROME_HOSTS: frozenset[str] = frozenset({"docs.dagster.io"})
SETTLE_MS = 400


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited ({proc.returncode}):\n"
                                 + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s:\n"
                         + log.read_text(errors="replace")[-3000:])


@contextmanager
def serving(args: list[str], env: dict[str, str], log: Path, ready_url: str,
            timeout: float = 180) -> Iterator[subprocess.Popen]:
    """A process in its own group with default signals (ops_helpers.start), killed after."""
    proc = start(args, env, log)
    try:
        wait_http(ready_url, timeout, proc, log)
        yield proc
    finally:
        stop(proc, timeout=20)


def materialise(env: dict[str, str], log: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize",
         "-m", "funnel_pipeline.definitions", "--select", "*"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0 and "RUN_SUCCESS" in done.stdout + done.stderr, \
        f"materialisation failed (log {log}):\n{done.stderr[-3000:]}"


# --- GraphQL: what the instance has recorded ---------------------------------------------


def graphql(ui: str, query: str) -> dict:
    request = urllib.request.Request(f"{ui}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"GraphQL answered {exc.code}: {exc.read()[:2000]!r}") from exc
    assert "errors" not in data, data["errors"]
    return data["data"]


_WORKSPACE_QUERY = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename } } } } }"""


def wait_loaded(ui: str, timeout: float = 180) -> None:
    """/server_info answers before the code location is loaded; queries fail until then."""
    deadline = time.monotonic() + timeout
    entries: list = []
    while time.monotonic() < deadline:
        try:
            entries = graphql(ui, _WORKSPACE_QUERY)["workspaceOrError"].get("locationEntries") or []
        except (AssertionError, OSError):  # not ready yet
            entries = []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e for e in entries
                      if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
            assert not errors, f"code location failed to load: {errors}"
            return
        time.sleep(1)
    raise AssertionError(f"code location not loaded in {timeout:.0f} s: {entries}")


_EVENTS_QUERY = """
{ assetsOrError { __typename ... on AssetConnection { nodes { key { path }
      assetMaterializations(limit: 10000) { runId timestamp }
      assetObservations(limit: 10000) { runId timestamp } } } }
  runsOrError { __typename ... on Runs { results { runId status } } }
  assetNodes { assetKey { path }
      assetChecksOrError { __typename ... on AssetChecks { checks { name } } } } }
"""


@dataclass
class Recorded:
    """Everything a GraphQL GET could add: runless events, check evaluations, runs."""

    materializations: dict[str, list[tuple[str, str]]]
    observations: dict[str, list[tuple[str, str]]]
    check_executions: dict[str, int]
    runs: list[str]

    def differences(self, later: Recorded) -> list[str]:
        out = []
        for kind in ("materializations", "observations"):
            before, after = getattr(self, kind), getattr(later, kind)
            for asset in sorted(set(before) | set(after)):
                new = sorted(set(after.get(asset, [])) - set(before.get(asset, [])))
                for run_id, ts in new:
                    out.append(f"{asset}: new {kind[:-1]} at {ts} in run {run_id or '(runless)'}")
        for check in sorted(set(self.check_executions) | set(later.check_executions)):
            a, b = self.check_executions.get(check, 0), later.check_executions.get(check, 0)
            if a != b:
                out.append(f"{check}: check executions {a} -> {b}")
        for run_id in sorted(set(later.runs) - set(self.runs)):
            out.append(f"new run {run_id}")
        return out


def recorded(ui: str) -> Recorded:
    data = graphql(ui, _EVENTS_QUERY)
    assert data["assetsOrError"]["__typename"] == "AssetConnection", data["assetsOrError"]
    mats, obs = {}, {}
    for node in data["assetsOrError"]["nodes"]:
        key = "/".join(node["key"]["path"])
        mats[key] = [(m["runId"], m["timestamp"]) for m in node["assetMaterializations"]]
        obs[key] = [(o["runId"], o["timestamp"]) for o in node["assetObservations"]]
    checks = [("/".join(n["assetKey"]["path"]), c["name"]) for n in data["assetNodes"]
              for c in (n["assetChecksOrError"].get("checks") or [])]
    fields = " ".join(
        f"c{i}: assetCheckExecutions(assetKey: {{path: {json.dumps(a.split('/'))}}}, "
        f"checkName: {json.dumps(c)}, limit: 10000) {{ id }}" for i, (a, c) in enumerate(checks))
    executions = graphql(ui, "{" + fields + "}") if checks else {}
    return Recorded(mats, obs,
                    {f"{a} check {c}": len(executions[f"c{i}"]) for i, (a, c) in enumerate(checks)},
                    [r["runId"] for r in data["runsOrError"]["results"]])


# --- what a page may show and fetch ------------------------------------------------------


@dataclass(frozen=True)
class Leak:
    page: str
    key: str
    what: str
    value: str
    markers: tuple[str, ...]

    def __str__(self) -> str:
        payloads = ", ".join(describe(m) for m in self.markers) or "no marker"
        value = self.value if len(self.value) <= 160 else self.value[:157] + "..."
        return f"{self.page} | metadata key {self.key or '-'} | {self.what} {value!r} | {payloads}"


@dataclass
class Origins:
    """The project's own origins and files, and what the browser asked for (so far)."""

    ui: str
    charts: str
    reports: str
    reports_dir: Path
    label: str = ""
    #: the metadata key whose markdown dialog is open (requests then come from it)
    key: str = ""
    #: (page, method, URL) of every request the browser made
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def own(self) -> tuple[str, ...]:
        return (self.ui, self.charts, self.reports)

    def project_url(self, url: str) -> bool:
        """A URL the project makes: chart files, the UI's routes, report files."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if url.startswith("#"):
            return True
        if parts.scheme == "file":
            return Path(unquote(parts.path)).resolve().is_relative_to(self.reports_dir.resolve())
        if origin == self.charts:
            return bool(PROJECT_FILE.match(parts.path) or QUALITY_FILE.match(parts.path))
        if origin == self.reports:
            return parts.path.startswith(("/charts/", "/quality/"))
        if origin == self.ui:
            return not parts.path.startswith("/graphql")
        return False

    def request_leak(self, method: str, url: str, page: str) -> Leak | None:
        parts = urlsplit(url)
        found = tuple(markers_in(unquote(url)))
        if parts.scheme in ("data", "blob", "about") and not found:
            return None
        origin = f"{parts.scheme}://{parts.netloc}"
        if found:
            return Leak(page, self.key, f"{method} request", url, found)
        if origin not in self.own:
            return Leak(page, self.key, f"{method} request to another origin", url, found)
        if parts.path.startswith("/graphql") and method == "GET":
            query = parse_qs(parts.query).get("query", [""])[0]
            return Leak(page, self.key, "GET of the GraphQL endpoint", url, tuple(markers_in(query)))
        return None


_ATTRIBUTES_JS = r"""() => {
  const names = ['href', 'src', 'xlink:href', 'action', 'formaction', 'srcset', 'poster',
                 'data', 'background', 'style', 'ping'];
  const out = [];
  for (const e of document.querySelectorAll('*')) {
    for (const name of names) {
      const v = e.getAttribute(name);
      if (v === null || (name === 'style' && !/url\(/i.test(v))) continue;
      let resolved = v;
      try { resolved = new URL(v, document.baseURI).href; } catch (err) {}
      const dialog = e.closest('[role=dialog]');
      const row = e.closest('tr');
      let key = '';
      if (dialog) key = (dialog.querySelector('h1,h2,h3,h4,[class*=header],[class*=Header]')
                         || dialog).innerText.split('\n')[0].trim();
      else if (row && row.cells && row.cells.length > 1) key = row.cells[0].innerText.trim();
      else if (e.closest('.summary')) key = 'drop-out summary';
      else if (e.closest('section[aria-label]'))
        key = 'chart ' + e.closest('section[aria-label]').getAttribute('aria-label');
      out.push({tag: e.tagName.toLowerCase(), attr: name, value: v, resolved: resolved,
                key: key.slice(0, 80), meta: !!(dialog || e.closest('table')), base: document.baseURI,
                text: (e.innerText || e.textContent || '').slice(0, 80)});
    }
  }
  return out;
}"""


def attribute_leaks(page, origins: Origins, label: str, *, whole_page_is_data: bool) -> list[Leak]:
    """URL-bearing attributes: a marker anywhere is a leak; in a metadata area (or
    anywhere on a report) only project URLs may be linked, fetched or embedded."""
    leaks = []
    for item in page.evaluate(_ATTRIBUTES_JS):
        value, resolved = item["value"], item["resolved"]
        found = tuple(markers_in(unquote(value) + " " + item["text"]))
        what = f"<{item['tag']} {item['attr']}>"
        scheme = urlsplit(resolved).scheme.lower()
        data_area = item["meta"] or whole_page_is_data
        if scheme in ("javascript", "vbscript") and (data_area or found):
            leaks.append(Leak(label, item["key"], what + " (script URL)", value, found))
        elif markers_in(unquote(value)):
            leaks.append(Leak(label, item["key"], what, value, found))
        elif item["attr"] == "style":
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", value):
                absolute = urljoin(item["base"], url)
                if (data_area and not url.startswith(("#", "data:"))
                        and not origins.project_url(absolute)):
                    leaks.append(Leak(label, item["key"], what + " CSS url()", url, found))
        elif scheme in ("http", "https") and urlsplit(resolved).hostname != "127.0.0.1" and (
                data_area or urlsplit(resolved).hostname not in DAGSTER_CHROME_HOSTS):
            leaks.append(Leak(label, item["key"], what + " to another host", value, found))
        elif data_area and scheme in ("http", "https", "file") and not origins.project_url(resolved):
            leaks.append(Leak(label, item["key"], what + " not made by the project", value, found))
        elif found and data_area and item["tag"] == "a":
            leaks.append(Leak(label, item["key"], what + " link on payload text", value, found))
    return leaks


def settle(page, ms: int = SETTLE_MS) -> None:
    """Let the UI finish its queries and images start loading (it polls: no networkidle)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with suppress(PlaywrightTimeout):  # a polling page may never be idle: the wait bounds it
        page.wait_for_load_state("networkidle", timeout=15_000)
    page.wait_for_timeout(ms)


class Browser:
    """One Chromium page recording every request and JavaScript dialog, and the leaks."""

    def __init__(self, pw, origins: Origins, shots: Path) -> None:
        self.origins = origins
        self.shots = shots
        self.leaks: list[Leak] = []
        self.screenshots: list[Path] = []
        self.browser = launch_chromium(pw)
        self.context = self.browser.new_context(viewport={"width": 1600, "height": 1400})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", self._on_request)
        self.page.on("dialog", self._on_dialog)
        self.context.on("page", lambda p: self.leaks.append(
            Leak(origins.label, "", "opened a new window", p.url, tuple(markers_in(p.url)))))

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" in self.origins.own:
            route.continue_()
        else:  # recorded by _on_request; never sent
            route.abort()

    def _on_request(self, request) -> None:
        self.origins.requests.append((self.origins.label, request.method, request.url))
        leak = self.origins.request_leak(request.method, request.url, self.origins.label)
        if leak is not None:
            self.leaks.append(leak)

    def _on_dialog(self, dialog) -> None:
        self.leaks.append(Leak(self.origins.label, "", "JavaScript dialog", dialog.message,
                               tuple(markers_in(dialog.message))))
        dialog.dismiss()

    def shoot(self, name: str) -> None:
        path = self.shots / f"{len(self.screenshots):03d}_{re.sub(r'[^a-z0-9]+', '_', name.lower())[:80]}.png"
        self.page.screenshot(path=str(path))
        self.screenshots.append(path)

    def visit(self, url: str, label: str, *, report: bool = False) -> None:
        self.origins.label = label
        self.page.goto(url, wait_until="domcontentloaded", timeout=120_000)
        settle(self.page)
        self.shoot(label)
        self.leaks += attribute_leaks(self.page, self.origins, label, whole_page_is_data=report)
        if not report:
            self.open_markdown(label)

    def open_markdown(self, label: str) -> None:
        """Click every "[Show Markdown]" (and any "Show more"-style expander) in turn."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        buttons = self.page.get_by_text(re.compile(r"^\[?(Show|View) (Markdown|markdown|more)\]?$"))
        for i in range(buttons.count()):
            button = buttons.nth(i)
            key = button.evaluate(
                "e => { const r = e.closest('tr'); return r && r.cells.length > 1 ? "
                "r.cells[0].innerText.trim() : ''; }")
            self.origins.label = f"{label} [Show Markdown: {key}]"
            self.origins.key = key
            button.click()
            with suppress(PlaywrightTimeout):  # an inline expander opens no dialog
                self.page.wait_for_selector("[role=dialog]", timeout=10_000)
            settle(self.page)
            self.shoot(self.origins.label)
            self.leaks += [Leak(lk.page, lk.key or key, lk.what, lk.value, lk.markers)
                           for lk in attribute_leaks(self.page, self.origins, self.origins.label,
                                                     whole_page_is_data=False)]
            self.page.keyboard.press("Escape")
            try:
                self.page.wait_for_selector("[role=dialog]", state="detached", timeout=10_000)
            except PlaywrightTimeout:
                close = self.page.get_by_role("button", name="Close")
                if close.count():
                    close.first.click()
            self.origins.key = ""
        self.origins.label = label

    def close(self) -> None:
        self.browser.close()


# --- Plotly in the offline report: what a hover label would render -----------------------

_PLOTLY_JS = r"""async (rawPayloads) => {
  const out = [];
  const hoverFields = ['hovertext', 'text', 'hovertemplate', 'name', 'texttemplate'];
  const strings = (v, acc) => {
    if (typeof v === 'string') acc.push(v);
    else if (Array.isArray(v)) v.forEach(x => strings(x, acc));
    return acc;
  };
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const fig = (gd.closest('section') || gd).getAttribute('aria-label') || '(figure)';
    for (const [c, trace] of (gd.data || []).entries()) {
      const fields = [...hoverFields];
      if (!trace.hovertemplate) fields.push('x', 'y', 'z', 'customdata', 'labels');
      let marked = false;
      for (const f of fields) {
        for (const s of strings(trace[f], [])) {
          if (/zq\d\dx/.test(s)) marked = true;
          for (const p of rawPayloads) if (s.includes(p)) out.push([fig, `trace ${c} ${f}`, s.slice(0, 200)]);
        }
      }
      if (!marked || !window.Plotly) continue;
      try { Plotly.Fx.hover(gd, [{curveNumber: c, pointNumber: 0}]); } catch (err) { continue; }
      await new Promise(r => setTimeout(r, 120));
      for (const a of gd.querySelectorAll('.hoverlayer a, .hoverlayer [style*="url("]'))
        out.push([fig, `hover label of trace ${c}`, a.outerHTML.slice(0, 200)]);
      Plotly.Fx.unhover(gd);
    }
  }
  return out;
}"""


def plotly_leaks(page, label: str) -> list[Leak]:
    raw = [p.text for p in PAYLOADS if "<" in p.text]
    return [Leak(label, fig, f"Plotly {where} (raw payload markup)", value, tuple(markers_in(value)))
            for fig, where, value in page.evaluate(_PLOTLY_JS, raw)]


# --- exports --------------------------------------------------------------------------------


#: a CSV cell starting with one of these is a formula to a spreadsheet (OWASP)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def export_leaks(folder: Path, label: str) -> list[Leak]:
    """A payload a spreadsheet would run as a formula: a CSV cell starting like one, or
    an XLSX formula cell (an XLSX text cell is inert however it starts)."""
    leaks = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        formulas: list[str] = []
        if path.suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as f:
                formulas = [c for row in csv.reader(f) for c in row if c.startswith(FORMULA_START)]
        elif path.suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path)
            formulas = [str(c.value) for ws in book for row in ws.iter_rows() for c in row
                        if c.data_type == "f"]
        for cell in formulas:
            if markers_in(cell):
                leaks.append(Leak(f"{label} {path.name}", "", "formula cell", cell,
                                  tuple(markers_in(cell))))
    return leaks


def browse_everything(tmp_path: Path, reports: Path, env: dict[str, str], runs: int,
                      ui_port: int, chart_port: int, reports_port: int,
                      ) -> tuple[Browser, Recorded, Recorded]:
    """Start the chart servers and the webserver; record, view everything, record again."""
    from playwright.sync_api import sync_playwright

    ui = f"http://127.0.0.1:{ui_port}"
    charts = f"http://127.0.0.1:{chart_port}"
    reports_origin = f"http://127.0.0.1:{reports_port}"
    shots = tmp_path / "screenshots"
    shots.mkdir(exist_ok=True)
    py = Path(sys.executable).name
    chart_cmd = [py, "-m", "funnel_pipeline.charts.server", "--host", "127.0.0.1"]
    with serving([*chart_cmd, "--dir", str(reports / "charts"), "--port", str(chart_port)],
                 env, tmp_path / "charts.log", f"{charts}/-"), \
            serving([*chart_cmd, "--dir", str(reports), "--port", str(reports_port)],
                    env, tmp_path / "reports.log", f"{reports_origin}/-"), \
            serving(["dagster-webserver", "-m", "funnel_pipeline.definitions",
                     "-h", "127.0.0.1", "-p", str(ui_port)],
                    env, tmp_path / "webserver.log", f"{ui}/server_info"):
        wait_loaded(ui)
        before = recorded(ui)
        assets = sorted(before.materializations)
        assert len(assets) > 20 and all(len(before.materializations[a]) == runs
                                        for a in assets), before.materializations
        origins = Origins(ui, charts, reports_origin, reports)
        with sync_playwright() as pw:
            browser = Browser(pw, origins, shots)
            try:
                for asset in assets:
                    browser.visit(f"{ui}/assets/{asset}?view=overview", f"{asset} overview")
                    for n, (_, ts) in enumerate(sorted(before.materializations[asset],
                                                       key=lambda m: float(m[1])), start=1):
                        browser.visit(f"{ui}/assets/{asset}?view=events&time={ts}",
                                      f"{asset} events, materialisation {n} of round {n - 1}")
                for path in sorted((reports / "charts").glob("*.html")):
                    label = f"report charts/{path.name}"
                    browser.visit(f"{charts}/{path.name}", label, report=True)
                    browser.leaks += plotly_leaks(browser.page, label)
                quality = [reports / "quality" / "index.html",
                           *sorted((reports / "quality" / "runs").glob("*.html"))]
                for path in quality:
                    rel = path.relative_to(reports).as_posix()
                    browser.visit(f"{reports_origin}/{rel}", f"report {rel}", report=True)
            finally:
                browser.close()
        after = recorded(ui)

    return browser, before, after


# --- the test --------------------------------------------------------------------------------


def test_hostile_input_stays_inert_in_the_ui_and_the_reports(tmp_path: Path) -> None:
    ui_port, chart_port, reports_port = free_port(), free_port(), free_port()
    charts = f"http://127.0.0.1:{chart_port}"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    reports = tmp_path / "reports"
    (reports / "charts").mkdir(parents=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNEL_")}
    base_env.update({
        "DAGSTER_HOME": str(home), "FUNNEL_REPORTS_DIR": str(reports),
        "FUNNEL_CHART_BASE_URL": charts, "FUNNEL_STEP_RETRIES": "0",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
    })
    plans = rounds()
    env = base_env
    for r, plan in enumerate(plans):
        landing = write_round(tmp_path / f"landing_{r}", plan, round_no=r)
        env = {**base_env, "FUNNEL_LANDING_DIR": str(landing),
               "FUNNEL_DUCKDB_PATH": str(tmp_path / f"funnel_{r}.duckdb"),
               **write_configuration(tmp_path / f"config_{r}")}
        materialise(env, tmp_path / f"materialise_{r}.log")
        # each run rewrites the exports (of its own DuckDB file): keep every round's
        shutil.copytree(reports / "exports", tmp_path / f"exports_{r}")
    summary = (reports / "drop_out_summary.md").read_text(encoding="utf-8")
    # hostile campaign ids and configuration labels reach the summary (escaped): the last
    # round flags campaigns whose equal counts the summary names once, not once each
    assert summary.count("campaign ") >= 2, summary
    assert len(set(MARKER.findall(summary))) >= 5, summary

    browser, before, after = browse_everything(tmp_path, reports, env, len(plans),
                                               ui_port, chart_port, reports_port)
    leaks = list(dict.fromkeys(browser.leaks + [
        leak for r in range(len(plans))
        for leak in export_leaks(tmp_path / f"exports_{r}", f"export of round {r}")]))
    new_events = before.differences(after)
    print(f"\n{len(browser.origins.requests)} requests recorded; screenshots "
          f"({len(browser.screenshots)}): {tmp_path / 'screenshots'}")
    for shot in browser.screenshots:
        print(f"  {shot}")
    report_lines = [f"{len(leaks)} leak(s) of hostile data:", *(f"  {lk}" for lk in leaks),
                    f"{len(new_events)} event(s) recorded while only viewing:",
                    *(f"  {e}" for e in new_events)]
    (tmp_path / "leaks.txt").write_text("\n".join(report_lines) + "\n", encoding="utf-8")
    print(f"leak report: {tmp_path / 'leaks.txt'}")
    assert not leaks and not new_events, "\n".join(report_lines)
