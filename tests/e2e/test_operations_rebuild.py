"""Issue 7: `funnel rebuild` (new DuckDB file, swapped in on success) gives the same tables
as the nightly incremental path; a failed rebuild leaves the live file alone; backups read."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import FIXTURES
from ops_helpers import run_job
from test_incremental import snapshot

from funnel_pipeline import cli, definitions


def _without_retries(defs: dg.Definitions) -> dg.Definitions:
    """The same assets and resources, `nightly` without step retries (a failure fails at once)."""
    return dg.Definitions(assets=list(defs.assets), executor=dg.in_process_executor,
                          jobs=[dg.define_asset_job("nightly", selection=dg.AssetSelection.all())],
                          resources=dict(defs.resources))


def _use(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    monkeypatch.setenv("FUNNEL_LANDING_DIR", str(settings.landing_dir))
    monkeypatch.setenv("FUNNEL_DUCKDB_PATH", str(settings.duckdb_path))
    monkeypatch.setenv("FUNNEL_REPORTS_DIR", str(settings.reports_dir))
    monkeypatch.setenv("FUNNEL_DUCKDB_MEMORY_LIMIT", settings.duckdb_memory_limit)


def test_rebuild_equals_the_nightly_incremental_path(dagster_home, make_settings, tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "dirty-landing", landing)
    later = tmp_path / "events_2023_c.parquet"
    shutil.move(landing / later.name, later)
    nightly = make_settings(landing, name="live")
    instance = dg.DagsterInstance.get()
    # the incremental path: day 1, then a new file (the landing sensor's `ingest` job builds
    # every table snapshot() compares; `nightly` adds only charts and publication files)
    assert run_job(nightly, instance).success
    shutil.move(later, landing / later.name)
    assert run_job(nightly, instance).success
    incremental = snapshot(nightly)
    inode = nightly.duckdb_path.stat().st_ino

    _use(monkeypatch, nightly)
    assert cli.main(["rebuild", "--wait", "0"]) == 0
    assert nightly.duckdb_path.stat().st_ino != inode, "a new file was swapped in"
    assert snapshot(nightly) == incremental
    leftovers = [p.name for p in tmp_path.iterdir() if ".rebuild-" in p.name or ".old-" in p.name]
    assert leftovers == [] and not Path(f"{nightly.duckdb_path}.wal").exists()
    assert any(nightly.reports_dir.iterdir()), "reports rebuilt and swapped in too"
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"funnel/rebuild": "true"}))
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS]



def _tiny_live_db(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.stage_pass_rates AS SELECT 42 AS answer")
    con.close()


def _answer(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT answer FROM marts.stage_pass_rates").fetchone()[0]
    finally:
        con.close()


def test_failed_rebuild_leaves_the_live_file_alone(dagster_home, make_settings, tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "missing")            # landing folder gone: ingest fails
    _tiny_live_db(settings.duckdb_path)
    inode = settings.duckdb_path.stat().st_ino
    _use(monkeypatch, settings)
    monkeypatch.setattr(definitions, "defs", _without_retries(definitions.defs))
    assert cli.main(["rebuild", "--wait", "0"]) == 1
    assert settings.duckdb_path.stat().st_ino == inode and _answer(settings.duckdb_path) == 42
    assert [p.name for p in tmp_path.iterdir() if ".rebuild-" in p.name] == []


def test_backup_copies_a_readable_file_and_keeps_the_newest(make_settings, tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "landing")
    _tiny_live_db(settings.duckdb_path)
    _use(monkeypatch, settings)
    backups = tmp_path / "backups"
    for stamp in ("20240101T000000Z", "20240102T000000Z", "20240103T000000Z"):
        (backups / f"funnel-{stamp}.duckdb").parent.mkdir(exist_ok=True)
        (backups / f"funnel-{stamp}.duckdb").write_bytes(b"old copy")
    assert cli.main(["backup", "--to", str(backups), "--keep", "2", "--wait", "5"]) == 0
    copies = sorted(p.name for p in backups.glob("funnel-*.duckdb"))
    assert len(copies) == 2 and copies[0] == "funnel-20240103T000000Z.duckdb"
    assert _answer(backups / copies[1]) == 42
    assert not list(backups.glob(".*.part"))


def test_rebuild_waits_for_a_run_in_progress(dagster_home, make_settings, tmp_path, monkeypatch):
    import uuid

    settings = make_settings(tmp_path / "landing")
    _use(monkeypatch, settings)
    instance = dg.DagsterInstance.get()
    instance.add_run(dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()),
                                   status=dg.DagsterRunStatus.STARTED))
    assert cli.main(["rebuild", "--wait", "0.2"]) == 2
    assert not settings.duckdb_path.exists()


def test_prune_runs_deletes_only_old_finished_runs(dagster_home):
    instance = dg.DagsterInstance.get()

    @dg.op
    def noop():
        return None

    @dg.job
    def tiny():
        noop()

    finished = tiny.execute_in_process(instance=instance).run_id
    assert cli.main(["prune-runs", "--older-than-days", "1"]) == 0
    assert instance.get_run_by_id(finished) is not None
    assert cli.main(["prune-runs", "--older-than-days", "-1"]) == 0
    assert instance.get_run_by_id(finished) is None
    # a fresh instance, as another process would open it: the SQLite per-run event
    # database is removed with the events (issue 19), and this instance had opened it
    with dg.DagsterInstance.from_config(str(dagster_home)) as fresh:
        assert not list(fresh.all_logs(finished))
