"""The auditor report: static HTML built from ``quality.validation_results`` every run.

Why our own HTML rather than GX Data Docs: Data Docs load jQuery, Bootstrap, vega and
font-awesome from CDNs and a logo from S3 (carrying the context id), so offline they are
unstyled and their index is empty, and they would show whatever the stored results
carry. This report is a few plain pages with inline CSS, no script and no external URL,
a Content-Security-Policy that forbids any fetch, and only the aggregates the history
table holds. It opens from a file share or an e-mail attachment folder on a machine
without network.

Layout under ``reports_dir``: ``index.html`` (runs, newest first, with pass/fail/warning
counts and the funnel configuration each applied) and ``runs/<run>.html`` (each suite and
expectation of one run, with the threshold every warning applied). The chart server
serves the folder under ``/quality/`` (a browser refuses ``file://`` links from the UI);
files are world-readable (0644) like the charts and exports. Pages reflow to the window:
wide tables scroll inside their own box.

A check whose batch had no rows (no new file since the last pass, or an empty table) is
shown as "NO ROWS", not as a pass: nothing was checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from funnel_pipeline.quality.history import TABLE

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;
margin:clamp(.5rem,2vw,2rem);max-width:100rem;color:#1f2328;background:#fff;line-height:1.4}
.scroll{overflow-x:auto;max-width:100%}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
p.meta{color:#59636e;margin:.25rem 0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.875rem}
th,td{border:1px solid #d1d9e0;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;min-width:3.5em;text-align:center;padding:.1rem .45rem;
border-radius:.6rem;font-size:.75rem;font-weight:700;letter-spacing:.03em;color:#fff}
.badge.pass{background-color:rgb(26,127,55)}
.badge.fail{background-color:rgb(207,34,46)}
.badge.warn{background-color:rgb(154,103,0)}
.badge.none{background-color:rgb(89,99,110)}
code{font-size:.85em}a{color:#0969da}td.desc{min-width:12rem;max-width:32rem}
td.check code,td.cols{overflow-wrap:anywhere}td.check small{display:block;color:#59636e;overflow-wrap:anywhere}
.legend{font-size:.85rem;color:#59636e}
"""

_SUMMARY_SQL = f"""
select run_id,
       strftime(min(validated_at) at time zone 'UTC', '%Y-%m-%d %H:%M:%S UTC') as validated,
       count(distinct suite) as suites,
       count(*) as checks,
       count(*) filter (where success and element_count is distinct from 0) as passed,
       count(*) filter (where not success and severity = 'error') as failed,
       count(*) filter (where not success and severity <> 'error') as warnings,
       count(*) filter (where success and element_count = 0) as no_rows
from {TABLE}
group by run_id
order by min(validated_at) desc, run_id
"""
#: the funnel configuration each run applied (config.applied, written by config/funnel)
_CONFIG_SQL = """
select run_id, name, sha256, recomputed from config.applied where run_id is not null
"""

_RUN_SQL = f"""
select asset_key, suite, check_name, expectation_type, severity, success, observed_value,
       element_count, unexpected_count, unexpected_percent, description, columns, error,
       strftime(validated_at at time zone 'UTC', '%Y-%m-%d %H:%M:%S UTC') as validated,
       threshold
from {TABLE}
where run_id = ?
order by asset_key, suite, success, severity, check_name
"""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    validated: str
    suites: int
    checks: int
    passed: int
    failed: int
    warnings: int
    no_rows: int

    @property
    def status(self) -> str:
        return "fail" if self.failed else "warn" if self.warnings else "pass"


@dataclass(frozen=True)
class AppliedConfig:
    """The funnel configuration a run applied: its name (file name or "built-in default"),
    content hash, and whether the change made the run recompute everything."""

    name: str
    sha256: str
    recomputed: bool

    def html(self) -> str:
        again = " (changed: every table recomputed)" if self.recomputed else ""
        return (f'{escape(self.name)} <code title="sha256 {escape(self.sha256)}">'
                f"{escape(self.sha256[:12])}</code>{again}")


def _status(success: bool, severity: str, element_count: int | None = None) -> str:
    if success and element_count == 0:
        return "none"
    return "pass" if success else "fail" if severity == "error" else "warn"


def _badge(status: str) -> str:
    label = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "none": "NO ROWS"}.get(
        status, status.upper())
    return f'<span class="badge {escape(status)}">{escape(label)}</span>'


def _observed(value: str | None) -> str | None:
    """An observed aggregate rounded to four significant digits for reading."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() else f"{number:.4g}"


def run_page_name(run_id: str) -> str:
    """A file name for a run's page that is safe on any file system and unique."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", run_id)[:80]
    if slug != run_id:
        slug += "-" + hashlib.sha256(run_id.encode()).hexdigest()[:10]
    return f"{slug}.html"


def _page(title: str, body: str) -> str:
    # CSP: nothing may be fetched; only the inline style block applies
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _cell(value: Any, numeric: bool = False) -> str:
    text = "" if value is None else escape(str(value))
    return f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>"


def _unexpected(count: int | None, percent: float | None) -> str | None:
    """"3 (0.25 %)": how many rows broke the rule, and what share of those checked."""
    if count is None:
        return None
    return f"{count} ({percent:.2f} %)" if percent is not None else str(count)


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".html")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; the report is read by the chart server
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _has_table(con: Any, table: str) -> bool:
    schema, name = table.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def _config_cell(config: AppliedConfig | None) -> str:
    return f"<td>{config.html()}</td>" if config else "<td></td>"


def _index_html(title: str, runs: list[RunSummary], configs: dict[str, AppliedConfig],
                generated: str) -> str:
    rows = "\n".join(
        f'<tr data-run-id="{escape(r.run_id)}"><td>{_badge(r.status)}</td>'
        f'<td><a href="runs/{escape(run_page_name(r.run_id))}">{escape(r.run_id)}</a></td>'
        f"{_cell(r.validated)}{_config_cell(configs.get(r.run_id))}"
        f"{_cell(r.suites, True)}{_cell(r.checks, True)}"
        f"{_cell(r.passed, True)}{_cell(r.failed, True)}{_cell(r.warnings, True)}"
        f"{_cell(r.no_rows, True)}</tr>"
        for r in runs
    )
    table = (
        '<div class="scroll"><table id="runs"><thead><tr><th>Status</th><th>Run</th>'
        "<th>Validated</th><th>Funnel configuration</th>"
        "<th>Suites</th><th>Checks</th><th>Passed</th><th>Failed (blocking)</th>"
        f"<th>Warnings</th><th>No rows to check</th></tr></thead><tbody>\n{rows}\n"
        "</tbody></table></div>"
        if runs
        else '<p id="no-runs">No validation runs have been recorded yet.</p>'
    )
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="meta">{len(runs)} run(s), newest first. Generated {escape(generated)}.</p>'
        '<p class="legend">FAIL = a blocking check failed (severity "error"); WARN = a '
        "non-blocking check failed; PASS = every check passed; NO ROWS = the check had "
        "no rows to look at (no new file since it last passed, or an empty table), so it "
        "proves nothing this run. Figures are counts and aggregates only: no "
        "applicant-level value is shown.</p>"
        f"{table}"
    )
    return _page(title, body)


def _run_html(title: str, run: RunSummary, rows: list[tuple],
              config: AppliedConfig | None) -> str:
    sections: list[str] = []
    groups: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    for (asset_key, suite), items in groups.items():
        body_rows = "\n".join(
            f'<tr data-check="{escape(check)}">'
            f"<td>{_badge(_status(success, severity, elements))}</td>"
            f'<td class="check"><code>{escape(check)}</code><small>{escape(etype)}</small></td>'
            f'{_cell(severity)}<td class="desc">{escape(description)}</td>'
            f'<td class="cols">{escape(columns.replace(",", ", ")) if columns else ""}</td>'
            f"{_cell(threshold)}"
            f"{_cell(_observed(observed) if error is None else 'could not evaluate: ' + error, error is None)}"
            f"{_cell(elements, True)}{_cell(_unexpected(unexpected, pct), True)}</tr>"
            for (
                _,
                _,
                check,
                etype,
                severity,
                success,
                observed,
                elements,
                unexpected,
                pct,
                description,
                columns,
                error,
                _,
                threshold,
            ) in items
        )
        statuses = [_status(r[5], r[4], r[7]) for r in items]
        failed, warned, empty = (statuses.count(s) for s in ("fail", "warn", "none"))
        sections.append(
            f'<section class="suite" data-suite="{escape(suite)}">'
            f"<h2>Suite <code>{escape(suite)}</code> on <code>{escape(asset_key)}</code></h2>"
            f'<p class="meta">{len(items)} checks: {len(items) - failed - warned - empty} '
            f"passed, {failed} failed (blocking), {warned} warnings, {empty} with no rows to "
            f"check. Validated {escape(items[0][13])}.</p>"
            '<div class="scroll"><table><thead><tr><th>Status</th><th>Check (expectation)</th>'
            "<th>Severity</th><th>What it checks</th><th>Column(s)</th>"
            "<th>Threshold</th><th>Observed</th><th>Rows checked</th><th>Unexpected rows "
            f"(%)</th></tr></thead><tbody>\n{body_rows}\n</tbody></table></div>"
            "</section>"
        )
    body = (
        f'<p><a href="../index.html">&larr; All runs</a></p>'
        f"<h1>Run <code>{escape(run.run_id)}</code> {_badge(run.status)}</h1>"
        f'<p class="meta">Validated {escape(run.validated)}: {run.suites} suite(s), '
        f"{run.checks} checks, {run.passed} passed, {run.failed} failed (blocking), "
        f"{run.warnings} warnings, {run.no_rows} with no rows to check.</p>"
        + (f'<p class="meta" id="configuration">Funnel configuration: {config.html()}</p>'
           if config else "")
        + "\n".join(sections)
    )
    return _page(f"{title}: run {run.run_id}", body)


def build_report(
    con: Any,
    reports_dir: str | Path,
    *,
    title: str = "Data quality report",
    max_runs: int | None = None,
) -> Path:
    """(Re)build the report from the history on ``con``; return the index page's path.

    ``max_runs`` keeps only the newest runs (older run pages are removed); by default
    every recorded run is listed.
    """
    out = Path(reports_dir)
    runs: list[RunSummary] = []
    if _has_table(con, TABLE):
        runs = [RunSummary(*row) for row in con.execute(_SUMMARY_SQL).fetchall()]
    configs: dict[str, AppliedConfig] = {}
    if _has_table(con, "config.applied"):
        configs = {run_id: AppliedConfig(name, sha, bool(again))
                   for run_id, name, sha, again in con.execute(_CONFIG_SQL).fetchall()}
    if max_runs is not None:
        runs = runs[:max_runs]
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    run_dir = out / "runs"
    keep: set[str] = set()
    for run in runs:
        name = run_page_name(run.run_id)
        keep.add(name)
        rows = con.execute(_RUN_SQL, [run.run_id]).fetchall()
        _write(run_dir / name, _run_html(title, run, rows, configs.get(run.run_id)))
    if run_dir.is_dir():  # pages of runs no longer listed
        for stale in run_dir.glob("*.html"):
            if stale.name not in keep:
                stale.unlink()
    index = out / "index.html"
    _write(index, _index_html(title, runs, configs, generated))
    return index
