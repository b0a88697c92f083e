"""Issue 7, fast tier: schedule, landing sensor, alert scrubbing, instance configuration."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from conftest import FIXTURES, REPO_ROOT

from funnel_pipeline import causes
from funnel_pipeline.operations import schedules, sensors
from funnel_pipeline.settings import Settings


def _settings(tmp_path: Path, **overrides) -> Settings:
    landing = tmp_path / "landing"
    landing.mkdir(exist_ok=True)
    base = Settings(landing_dir=landing, duckdb_path=tmp_path / "funnel.duckdb",
                    reports_dir=tmp_path / "reports", landing_settle_seconds=0)
    return dataclasses.replace(base, **overrides)


def _drop(landing: Path, name: str) -> Path:
    """Deliver a fixture file the way senders should: write a .tmp name, then rename."""
    part = landing / f"{name}.tmp"
    shutil.copyfile(FIXTURES / "dirty-landing" / name, part)
    os.replace(part, landing / name)
    return landing / name


# --- schedule -------------------------------------------------------------------------

def test_schedule_defaults_to_2am_london_and_runs_by_default(dagster_home):
    schedule = schedules.nightly_schedule(Settings())
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Europe/London")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "nightly"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    context = dg.build_schedule_context(
        instance=dg.DagsterInstance.get(),
        scheduled_execution_time=datetime(2024, 7, 1, 2, 0, tzinfo=ZoneInfo("Europe/London")))
    result = schedule.evaluate_tick(context)
    assert len(result.run_requests) == 1
    assert result.skip_message is None


def test_schedule_cron_and_timezone_come_from_settings(monkeypatch):
    monkeypatch.setenv("FUNNEL_NIGHTLY_CRON", "30 3 * * 1-5")
    monkeypatch.setenv("FUNNEL_NIGHTLY_TIMEZONE", "UTC")
    schedule = schedules.nightly_schedule(Settings.from_env())
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 3 * * 1-5", "UTC")


def test_definitions_register_the_operations():
    from funnel_pipeline.definitions import defs

    assert {s.name for s in defs.sensors} >= {"landing_sensor", "failure_alerts"}
    assert defs.resolve_sensor_def("landing_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_sensor_def("failure_alerts").default_status == dg.DefaultSensorStatus.RUNNING
    ingest = defs.resolve_job_def("ingest")
    keys = {k.to_user_string() for k in ingest.asset_layer.selected_asset_keys}
    assert "raw/landing_files" in keys and "marts/stage_pass_rates" in keys
    assert not any(k.startswith("publish/") for k in keys)
    nightly = defs.resolve_job_def("nightly")
    assert nightly.executor_def.name == dg.in_process_executor.name
    policy = nightly.op_retry_policy
    assert policy is not None and policy.max_retries == Settings.from_env().step_retries


# --- landing sensor ----------------------------------------------------------------------

def _evaluate(settings: Settings, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = sensors.landing_sensor(settings)(context)
    return result, context.cursor


def test_sensor_new_file_then_same_files_then_another(dagster_home, tmp_path):
    settings = _settings(tmp_path)
    instance = dg.DagsterInstance.get()
    result, cursor = _evaluate(settings, instance, None)
    assert isinstance(result, dg.SkipReason) and "no new files" in result.skip_message

    _drop(settings.landing_dir, "events_2021_a.csv")
    (settings.landing_dir / "events_2022_b.csv.part").write_text("still being written")
    result, cursor = _evaluate(settings, instance, cursor)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["funnel/new_files"] == "1" and result.run_key.startswith("landing-")
    assert json.loads(cursor).keys() == {"events_2021_a.csv"}   # in-flight name ignored

    again, cursor_again = _evaluate(settings, instance, cursor)
    assert isinstance(again, dg.SkipReason) and "no new files" in again.skip_message
    assert cursor_again == cursor

    _drop(settings.landing_dir, "applicants_01.csv")
    third, _ = _evaluate(settings, instance, cursor)
    assert isinstance(third, dg.RunRequest) and third.tags["funnel/new_files"] == "1"
    assert third.run_key != result.run_key


def test_sensor_skips_while_a_run_is_in_progress(dagster_home, tmp_path):
    settings = _settings(tmp_path)
    instance = dg.DagsterInstance.get()
    _drop(settings.landing_dir, "events_2021_a.csv")
    for status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED):
        run = instance.add_run(dg.DagsterRun(job_name="nightly", run_id=str(uuid.uuid4()), status=status))
        result, cursor = _evaluate(settings, instance, None)
        assert isinstance(result, dg.SkipReason), status
        assert run.run_id in result.skip_message and "1 new file(s) waiting" in result.skip_message
        assert cursor is None        # not consumed: looked at again after the run
        instance.report_run_canceled(run)
    result, _ = _evaluate(settings, instance, None)
    assert isinstance(result, dg.RunRequest)


def test_sensor_ignores_files_already_loaded_and_unsettled_ones(dagster_home, tmp_path):
    settings = _settings(tmp_path)
    instance = dg.DagsterInstance.get()
    _drop(settings.landing_dir, "events_2021_a.csv")
    con = duckdb.connect(str(settings.duckdb_path))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.landing_files (file_name VARCHAR, status VARCHAR, reason VARCHAR)")
    con.execute("INSERT INTO raw.landing_files VALUES ('events_2021_a.csv', 'loaded', NULL)")
    con.close()
    result, cursor = _evaluate(settings, instance, None)   # e.g. the nightly run loaded it
    assert isinstance(result, dg.SkipReason) and "already loaded" in result.skip_message
    assert "events_2021_a.csv" in json.loads(cursor)

    slow = dataclasses.replace(settings, landing_settle_seconds=3600)
    _drop(settings.landing_dir, "events_2022_b.csv")
    result, _ = _evaluate(slow, instance, cursor)
    assert isinstance(result, dg.SkipReason) and "still settling" in result.skip_message
    old = time.time() - 7200
    os.utime(settings.landing_dir / "events_2022_b.csv", (old, old))
    result, _ = _evaluate(slow, instance, cursor)
    assert isinstance(result, dg.RunRequest)


def test_sensor_locked_database_still_starts_a_run(dagster_home, tmp_path):
    """A writer holding the file must not stop the sensor deciding (the run waits instead)."""
    import subprocess
    import sys

    settings = _settings(tmp_path)
    _drop(settings.landing_dir, "events_2021_a.csv")
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import duckdb,sys,time; c=duckdb.connect(sys.argv[1]); "
         "c.execute('CREATE TABLE t(i INT)'); print('ok', flush=True); time.sleep(60)"),
         str(settings.duckdb_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        assert sensors.loaded_file_names(settings.duckdb_path) is None
        result, _ = _evaluate(settings, dg.DagsterInstance.get(), None)
        assert isinstance(result, dg.RunRequest)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()


# --- alert scrubbing -------------------------------------------------------------------

@pytest.mark.parametrize("message, leaked", [
    ("Conversion Error: Could not convert string 'P1010000737' to INT32\nLINE 1: SELECT ...",
     ["P1010000737", "LINE 1"]),
    ("Constraint Error: Duplicate key \"event_id: E101-00002315\" violates primary key", ["E101-00002315"]),
    ("bad row for applicant P1010000001 born 1990-01-02 mail jo.bloggs@example.org", [
        "P1010000001", "1990-01-02", "jo.bloggs@example.org"]),
    ("x" * 500, ["x" * 250]),
])
def test_scrub_keeps_the_first_line_without_values(message, leaked):
    cleaned = causes.scrub(message)
    assert "\n" not in cleaned and len(cleaned) <= causes.MAX_MESSAGE_CHARS
    for value in leaked:
        assert value not in cleaned


def test_scrub_keeps_an_operational_message_readable():
    text = ("DuckDB file /srv/funnel/funnel.duckdb is locked by another process and stayed "
            "locked for 120 s; is another run or a client holding it open?")
    assert causes.scrub(text) == text


# --- dagster.yaml ----------------------------------------------------------------------

def test_dagster_yaml_sqlite_queue_of_one_and_retention(dagster_home):
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False} and config["nux"] == {"enabled": False}
    assert "run_queue" not in config and "storage" not in config
    instance = dg.DagsterInstance.get()
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    assert type(instance.run_storage).__name__ == "SqliteRunStorage"
    assert instance.run_monitoring_enabled
    # issue 19: run monitoring can check the worker of every started run (run_health.py)
    assert type(instance.run_launcher).__name__ == "LocalRunLauncher"
    assert instance.run_launcher.supports_check_run_worker_health
    assert instance.run_monitoring_poll_interval_seconds <= 60
    assert config["retention"]["sensor"]["purge_after_days"]["skipped"] == 7


def test_postgres_yaml_reads_the_connection_from_the_environment():
    config = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.postgres.yaml").read_text())
    db = config["storage"]["postgres"]["postgres_db"]
    assert all(isinstance(v, dict) and set(v) == {"env"} for v in db.values())
    keys = ("telemetry", "nux", "concurrency", "run_launcher", "run_monitoring")
    assert {k: config[k] for k in keys} == {
        k: yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())[k] for k in keys}
