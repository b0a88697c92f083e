"""Only settled files load, and a loaded file that changes or vanishes is reported
(issue 20, items 2 and 3; docs/LANDING.md "Files that change").

Every case uses the real DuckDB file and the real steps; the Dagster check and the
`funnel rebuild` refusal run through the real instance / CLI.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from conftest import (
    APPLICANT_HEADER,
    EVENT_HEADER,
    REPO_ROOT,
    ingest,
    materialize_all,
    read_table,
    write_csv,
)

from funnel_pipeline import raw


def _event_rows(prefix: str, n: int) -> list[list[object]]:
    return [[f"{prefix}{i}", f"P{i % 30}", "C1", ["application", "sift"][i % 2], "passed",
             f"2024-02-01T10:{i % 60:02d}:00Z"] for i in range(n)]


def _landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    write_csv(folder / "applicants_1.csv", APPLICANT_HEADER,
              [[f"P{i}", "Female", "White", "No", "Straight"] for i in range(30)])
    write_csv(folder / "events_1.csv", EVENT_HEADER, _event_rows("A", 60))
    return folder


def _files(settings) -> dict[str, dict]:
    return {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}


def test_a_file_still_being_appended_to_is_not_loaded_until_it_settles(tmp_path, make_settings):
    """A writer appends a line every 0.2 s while the run looks: the run waits up to its
    limit, then leaves the file for later; once the writer stops it loads whole."""
    folder = _landing(tmp_path)
    growing = folder / "events_2.csv"
    write_csv(growing, EVENT_HEADER, _event_rows("B", 10))
    stop = threading.Event()

    def append() -> None:
        i = 10
        while not stop.is_set():
            with growing.open("a", encoding="utf-8") as handle:
                handle.write(f"B{i},P{i % 30},C1,sift,passed,2024-02-01T10:00:00Z\n")
            i += 1
            time.sleep(0.2)

    writer = threading.Thread(target=append, daemon=True)
    writer.start()
    settings = make_settings(folder)
    import dataclasses

    settings = dataclasses.replace(settings, landing_settle_seconds=2, landing_max_wait_seconds=3)
    try:
        summary = ingest(settings)
    finally:
        stop.set()
        writer.join()
    assert summary.unsettled == ["events_2.csv"]
    assert "events_2.csv" not in _files(settings)
    assert {"applicants_1.csv", "events_1.csv"} <= set(_files(settings))

    old = time.time() - 60  # the writer is done: the file settles
    os.utime(growing, (old, old))
    summary = ingest(settings)
    assert summary.unsettled == [] and summary.loaded == 1
    record = _files(settings)["events_2.csv"]
    lines = growing.read_text(encoding="utf-8").splitlines()
    assert record["rows_delivered"] == len(lines) - 1  # every row, the last one whole
    assert record["sha256"] == hashlib.sha256(growing.read_bytes()).hexdigest()


def test_a_young_file_is_waited_for_and_then_loaded(tmp_path, make_settings):
    import dataclasses

    folder = _landing(tmp_path)
    settings = dataclasses.replace(make_settings(folder), landing_settle_seconds=2,
                                   landing_max_wait_seconds=10)
    started = time.monotonic()
    summary = ingest(settings)  # files were written just now
    waited = time.monotonic() - started
    assert summary.loaded == 2 and summary.unsettled == []
    assert waited >= 1.5, f"loaded files younger than the settle time after {waited:.1f} s"


def test_a_file_that_changes_while_it_is_read_is_not_kept(tmp_path, make_settings, monkeypatch):
    folder = _landing(tmp_path)
    settings = make_settings(folder)
    copy_csv = raw._copy_csv
    appended: list[Path] = []

    def copy_then_append(con, path, *args, **kwargs):
        rows = copy_csv(con, path, *args, **kwargs)
        if path.name == "events_1.csv" and not appended:
            with path.open("a", encoding="utf-8") as handle:  # the sender writes more
                handle.write("A999,P1,C1,sift,passed,2024-02-01T10:00:00Z\n")
            appended.append(path)
        return rows

    monkeypatch.setattr(raw, "_copy_csv", copy_then_append)
    summary = ingest(settings)
    assert summary.changed_while_read == ["events_1.csv"]
    assert "events_1.csv" not in _files(settings)
    assert read_table(settings, "raw.event_rows") == []  # nothing of it kept

    summary = ingest(settings)  # next run: loaded whole, hash of what was read
    record = _files(settings)["events_1.csv"]
    assert summary.changed_while_read == [] and record["rows_delivered"] == 61
    assert record["sha256"] == hashlib.sha256((folder / "events_1.csv").read_bytes()).hexdigest()


def test_identical_bytes_are_a_duplicate_only_within_one_kind_of_file(tmp_path, make_settings):
    folder = tmp_path / "landing"
    folder.mkdir()
    header_only = ",".join(EVENT_HEADER) + "\n"  # a valid, empty file of either kind
    (folder / "applicants_1.csv").write_text(header_only, encoding="utf-8")
    (folder / "events_1.csv").write_text(header_only, encoding="utf-8")
    (folder / "events_2.csv").write_text(header_only, encoding="utf-8")
    settings = make_settings(folder)
    ingest(settings)
    files = _files(settings)
    assert files["applicants_1.csv"]["status"] == "loaded"
    assert files["events_1.csv"]["status"] == "loaded"
    assert (files["events_2.csv"]["status"], files["events_2.csv"]["duplicate_of"]) == (
        "duplicate", "events_1.csv")


def _check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations()
                    if e.check_name == "loaded_files_unchanged"]
    return evaluation


@pytest.mark.slow
def test_changed_and_deleted_files_are_named_by_a_warning_check_and_rebuild_refuses(
        tmp_path, make_settings, dagster_home):
    folder = _landing(tmp_path)
    write_csv(folder / "events_2.csv", EVENT_HEADER, _event_rows("B", 40))
    settings = make_settings(folder)
    instance = dg.DagsterInstance.get()
    first = materialize_all(settings, instance)
    assert first.success and _check(first).passed
    entered = read_table(settings, "marts.stage_pass_rates")

    (folder / "events_2.csv").unlink()  # deleted after it was loaded
    rows = (folder / "events_1.csv").read_text(encoding="utf-8")
    (folder / "events_1.csv").write_text(rows.replace("passed", "failed"), encoding="utf-8")
    second = materialize_all(settings, instance)
    assert second.success  # a warning: the marts still publish
    check = _check(second)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in check.metadata.items()}
    assert (meta["files_gone"], meta["files_changed"]) == (1, 1)
    assert "events\\_2\\.csv" in meta["gone"] and "events\\_1\\.csv" in meta["changed"]
    assert read_table(settings, "marts.stage_pass_rates") == entered  # nothing lost

    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "FUNNEL_LANDING_DIR": str(folder),
           "FUNNEL_DUCKDB_PATH": str(settings.duckdb_path),
           "FUNNEL_REPORTS_DIR": str(settings.reports_dir), "FUNNEL_DUCKDB_MEMORY_LIMIT": "1GB"}
    funnel = [sys.executable, "-m", "funnel_pipeline.cli", "rebuild", "--wait", "0"]
    refused = subprocess.run(funnel, env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=600, check=False)
    assert refused.returncode == 2, refused.stderr
    assert "events_2.csv" in refused.stderr and "--allow-missing" in refused.stderr
    assert read_table(settings, "marts.stage_pass_rates") == entered  # untouched

    allowed = subprocess.run([*funnel, "--allow-missing"], env=env, cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=600, check=False)
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "events_2.csv" not in _files(settings)
