"""Privacy: applicant-level data never leaves the DuckDB file.

The pipeline runs through the real Dagster job on data carrying recognisable sentinels
(applicant ids, event ids, free-text extra columns, an unrecognised characteristic
value, rejected rows and a malformed row). Then everything written outside the DuckDB
file is scanned for them: the DAGSTER_HOME tree (SQLite run/event-log storage read as
bytes, compute logs, anything else), the event log entries as the instance returns
them, the reports folder (charts, validation reports / Data Docs, exports), and any
file created or changed in the repository working tree during the run.

Campaign ids and entry routes are aggregate keys: they may appear in published marts,
charts and exports by design (docs/LANDING.md, "Privacy"), so they are not sentinels.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
from conftest import (
    APPLICANT_HEADER,
    EVENT_HEADER,
    REPO_ROOT,
    materialize_all,
    read_table,
    write_csv,
)

SENTINELS = [
    "SENTINEL-APPLICANT-7731", "SENTINEL-APPLICANT-8842", "SENTINEL-EVENT-5521",
    "SENTINEL-FREETEXT-3390", "SENTINEL-SEXVALUE-1187", "SENTINEL-REJECTED-6604",
    "SENTINEL-MALFORMED-9915", "SENTINEL-HEADERVAL-2270",
]


def _landing(folder: Path) -> None:
    a1, a2 = "SENTINEL-APPLICANT-7731", "SENTINEL-APPLICANT-8842"
    rows = []
    for i in range(12):  # enough people for groups to be reported
        person = a1 if i == 0 else a2 if i == 1 else f"P{i:03d}"
        event = "SENTINEL-EVENT-5521" if i == 0 else f"EV{i:03d}"
        rows.append([event, person, "C1", "application", "passed", "2023-01-02", "SENTINEL-FREETEXT-3390"])
        rows.append([f"{event}-s", person, "C1", "sift", "passed" if i % 3 else "failed",
                     "2023-02-01T10:00:00Z", "note"])
    rows.append(["EVX", "SENTINEL-REJECTED-6604", "C1", "interview", "passed", "2023-01-01", "x"])
    write_csv(folder / "events_2023.csv", [*EVENT_HEADER, "free_text"], rows)
    text = (folder / "events_2023.csv").read_text()
    (folder / "events_2023.csv").write_text(text + "SENTINEL-MALFORMED-9915,too,few\n")
    write_csv(folder / "applicants_2023.csv", [*APPLICANT_HEADER, "notes"], [
        [a1, "SENTINEL-SEXVALUE-1187", "White", "No", "Straight", "SENTINEL-HEADERVAL-2270"],
        [a2, "Female", "Asian", "Yes", "Gay", "x"],
        *[[f"P{i:03d}", "Male" if i % 2 else "Female", "White", "No", "Heterosexual", ""] for i in range(2, 12)],
    ])


def _files_under(root: Path, since: float | None = None, skip: tuple[Path, ...] = ()) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", "__pycache__", ".pytest_cache")]
        for name in filenames:
            path = Path(dirpath) / name
            if any(path == s or s in path.parents for s in skip) or path.is_symlink():
                continue
            if since is None or path.stat().st_mtime >= since:
                out.append(path)
    return out


def _hits(paths: list[Path]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        data = path.read_bytes()
        for sentinel in SENTINELS:
            for encoded in (sentinel.encode(), sentinel.encode("utf-16-le")):
                if encoded in data:
                    found.append((str(path), sentinel))
    return found


def test_no_sentinel_leaves_the_duckdb_file(tmp_path, dagster_home, make_settings):
    landing = tmp_path / "landing"
    landing.mkdir()
    _landing(landing)
    settings = make_settings(landing)
    started = time.time() - 1
    instance = dg.DagsterInstance.get()
    result = materialize_all(settings, instance)
    assert result.success
    # the sentinels are in the warehouse (so the scan below is meaningful)
    assert any(e["event_id"] == "SENTINEL-EVENT-5521" for e in read_table(settings, "core.events"))
    assert any("SENTINEL-MALFORMED-9915" in r["row_data"] for r in read_table(settings, "quality.rejected_rows"))

    leaks = _hits(_files_under(dagster_home))
    leaks += _hits(_files_under(settings.reports_dir)) if settings.reports_dir.exists() else []
    leaks += _hits(_files_under(REPO_ROOT, since=started))
    # anything else the run wrote next to the database (WAL, temp spill files excluded:
    # they are the database's own and removed on close)
    leaks += _hits([p for p in _files_under(tmp_path, since=started, skip=(landing, dagster_home))
                    if p != settings.duckdb_path])
    # the event log as the instance hands it out (metadata, log messages, asset events)
    for record in instance.all_logs(result.run_id):
        text = str(record)
        leaks += [("event log", s) for s in SENTINELS if s in text]
    assert _hits(_files_under(landing)), "the scan does not recognise the sentinels"
    assert not leaks, sorted(set(leaks))
    assert _files_under(dagster_home), "nothing was written to DAGSTER_HOME: the scan saw nothing"
