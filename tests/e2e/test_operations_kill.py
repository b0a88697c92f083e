"""Issue 7: kill -9 of a run in the middle of ingest and in the middle of the mart build.

The run is a real `dagster job execute -j ingest` subprocess (ingest = raw, core, quality,
marts: both kill points, without the chart rendering only `nightly` adds); FUNNEL_TEST_PAUSE_AT
(tests/pause_hook/sitecustomize.py, a test-only hook outside the production code)
stops it just before a COMMIT with its transaction open, and the test SIGKILLs the process
group there. Afterwards the published marts still read (yesterday's), and the next run
completes with exactly the rows a single run over the same landing folder produces.
"""

from __future__ import annotations

import signal
from pathlib import Path

import dagster as dg
import pytest
from conftest import read_table
from ops_helpers import (
    copy_landing,
    execute_job,
    fresh_home,
    funnel_env,
    query,
    run_job,
    stop,
    wait_for,
)
from test_incremental import snapshot

from funnel_pipeline.settings import Settings

FIRST_NIGHT = ["applicants_01.csv", "applicants_02.csv", "events_2021_a.csv",
               "events_2021_a_resend.csv", "events_garbage.csv"]
LATE = ["events_2022_b.csv", "events_2023_c.parquet"]          # loaded in this (name) order
MART_ORDER = "characteristic, group_name, stage_order"


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """One run over the whole landing folder: what any sequence of runs must end with."""
    tmp = tmp_path_factory.mktemp("reference")
    settings = Settings(landing_dir=copy_landing(tmp / "landing"), duckdb_path=tmp / "ref.duckdb",
                        reports_dir=tmp / "reports", duckdb_memory_limit="1GB")
    assert run_job(settings, dg.DagsterInstance.ephemeral()).success
    return snapshot(settings)


def _killed_mid_run(point: str, tmp_path: Path, make_settings) -> tuple:
    landing = copy_landing(tmp_path / "landing", FIRST_NIGHT)
    settings = make_settings(landing)
    instance = dg.DagsterInstance.get()
    assert run_job(settings, instance).success                    # last night
    published = read_table(settings, "marts.stage_pass_rates", order_by=MART_ORDER)
    copy_landing(landing, LATE)                                            # tonight's files

    marker = Path(f"{settings.duckdb_path}.paused-{point}")
    log = tmp_path / f"run-{point}.log"
    proc = execute_job("ingest", funnel_env(fresh_home(tmp_path / "sub"), settings,
                                             FUNNEL_TEST_PAUSE_AT=point), log)
    try:
        wait_for(marker.exists, 100, f"the run to pause at {point}", proc, log)
        stop(proc, signal.SIGKILL)
        assert proc.returncode == -signal.SIGKILL
    finally:
        stop(proc, signal.SIGKILL)
    return settings, published


def _marts_now(settings):
    return read_table(settings, "marts.stage_pass_rates", order_by=MART_ORDER)


@pytest.mark.slow
def test_kill_during_ingest(dagster_home, tmp_path, make_settings, reference):
    settings, published = _killed_mid_run("ingest", tmp_path, make_settings)
    # readable right after the kill: yesterday's marts, the first late file in, the second not
    assert _marts_now(settings) == published
    files = {name for (name,) in query(settings.duckdb_path, "SELECT file_name FROM raw.landing_files")}
    assert "events_2022_b.csv" in files and "events_2023_c.parquet" not in files
    assert query(settings.duckdb_path, "SELECT count(*) FROM raw.event_rows r JOIN raw.landing_files f "
                 "USING (file_id) WHERE f.file_name = 'events_2023_c.parquet'") == [(0,)]

    assert run_job(settings, dg.DagsterInstance.get()).success      # the next run
    assert snapshot(settings) == reference, "rows lost or duplicated after the kill"


@pytest.mark.slow
def test_kill_during_mart_build(dagster_home, tmp_path, make_settings, reference):
    settings, published = _killed_mid_run("marts", tmp_path, make_settings)
    # the core tables had committed tonight's rows; the marts are still last night's
    assert _marts_now(settings) == published
    assert query(settings.duckdb_path, "SELECT count(*) FROM raw.landing_files") == [(7,)]

    assert run_job(settings, dg.DagsterInstance.get()).success
    assert snapshot(settings) == reference
    assert _marts_now(settings) != published
