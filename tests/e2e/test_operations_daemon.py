"""Issue 7: a real `dagster-daemon` in a temporary DAGSTER_HOME picks up a file dropped into
the landing folder (landing sensor → queued `ingest` run → marts), within a bounded wait,
starts no second run for the same files, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import time

import dagster as dg
import pytest
from ops_helpers import copy_landing, fresh_home, funnel_env, query, start, stop, wait_for


@pytest.mark.slow
def test_daemon_sensor_picks_up_a_landed_file(tmp_path, make_settings):
    landing = tmp_path / "landing"
    landing.mkdir()
    settings = make_settings(landing)
    home = fresh_home(tmp_path)
    dg.DagsterInstance.from_config(str(home)).dispose()
    env = funnel_env(home, settings, FUNNEL_LANDING_SENSOR_INTERVAL_SECONDS="2",
                     FUNNEL_LANDING_SETTLE_SECONDS="0", FUNNEL_STEP_RETRIES="0")
    log = tmp_path / "daemon.log"
    daemon = start(["dagster-daemon", "run", "-m", "funnel_pipeline.definitions"], env, log)
    try:
        time.sleep(3)
        dropped_at = time.monotonic()
        copy_landing(landing)                                   # the night's delivery arrives
        rows = wait_for(lambda: query(settings.duckdb_path,
                                      "SELECT (SELECT count(*) FROM raw.landing_files), "
                                      "(SELECT count(*) FROM marts.stage_pass_rates)"),
                        170, "the landed files to reach the marts", daemon, log, interval=2)
        waited = time.monotonic() - dropped_at
        assert rows[0][0] == 7 and rows[0][1] > 0

        instance = dg.DagsterInstance.from_config(str(home))
        runs = wait_for(lambda: [r for r in instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))
                                 if r.status == dg.DagsterRunStatus.SUCCESS], 60,
                        "the ingest run to be recorded as a success", daemon, log)
        assert runs[0].tags["funnel/trigger"] == "landing_sensor"
        time.sleep(8)                                           # a few more sensor ticks
        assert len(instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))) == 1
        instance.dispose()
    finally:
        code = stop(daemon, signal.SIGTERM, timeout=40)
    assert code is not None, "daemon did not exit"
    print(f"landed → marts in {waited:.1f} s; daemon exit code {code}")
