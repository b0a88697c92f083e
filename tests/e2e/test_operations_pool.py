"""Issue 19: the DuckDB pool keeps two runs' steps apart, with the real daemon and queue.

A run launched into the queue (`dagster job launch`, what the schedule, the sensor and
the UI do) is started by a real `dagster-daemon`; while its first step runs, a second run
is started outside the queue with `dagster job execute` (what `funnel run` or a second
terminal does), which the queue of one cannot hold back. Every step of both runs takes
the one slot of the pool `duckdb_warehouse` (dagster.yaml), so from the two runs' event
logs no step of one run overlaps a step of the other, the second run says it waited for
the pool, both succeed, and the tables equal one run's. Without the pool the second
run's steps start at once and wait inside DuckDB's lock retries: the intervals overlap.
"""

from __future__ import annotations

import signal

import dagster as dg
import pytest
from ops_helpers import (
    copy_landing,
    execute_job,
    fresh_home,
    funnel_env,
    run_job,
    start,
    stop,
    wait_for,
)
from test_incremental import snapshot

from funnel_pipeline.operations.instance import prepare_instance
from funnel_pipeline.operations.pools import WAREHOUSE_POOL


def _step_intervals(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, float, float]]:
    """(step, started, ended) of every step attempt of the run, from its event log."""
    started: dict[str, float] = {}
    spans = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        kind = event.event_type_value
        if kind == "STEP_START":
            started[event.step_key] = record.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY"):
            spans.append((event.step_key, started.pop(event.step_key), record.timestamp))
    assert not started, f"steps without an end: {started}"
    return spans


@pytest.mark.slow
def test_two_runs_steps_never_overlap_under_the_daemon(tmp_path, make_settings):
    settings = make_settings(copy_landing(tmp_path / "landing"))
    home = prepare_instance(fresh_home(tmp_path))  # created once, before three processes open it
    instance = dg.DagsterInstance.from_config(str(home))
    env = funnel_env(home, settings, FUNNEL_STEP_RETRIES="0",
                     FUNNEL_LANDING_SENSOR_INTERVAL_SECONDS="3600")
    # queued before the daemon starts: the landing sensor's first tick sees it and skips,
    # so exactly the two runs below write
    launch = start(["dagster", "job", "launch", "-m", "funnel_pipeline.definitions",
                    "-j", "ingest"], env, tmp_path / "launch.log")
    assert launch.wait(timeout=120) == 0, (tmp_path / "launch.log").read_text()
    log = tmp_path / "daemon.log"
    daemon = start(["dagster-daemon", "run", "-m", "funnel_pipeline.definitions"], env, log)
    outside = None
    try:
        def queued_run_stepping():
            runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))
            return runs and any(r.dagster_event and r.dagster_event.event_type_value == "STEP_START"
                                for r in instance.all_logs(runs[0].run_id))

        wait_for(queued_run_stepping, 180, "the queued run's first step", daemon, log)
        [queued] = instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))
        outside_log = tmp_path / "execute.log"
        outside = execute_job("ingest", env, outside_log)
        assert outside.wait(timeout=400) == 0, outside_log.read_text()[-3000:]
        wait_for(lambda: instance.get_run_by_id(queued.run_id).is_finished, 300,
                 "the queued run to finish", daemon, log, interval=1)
    finally:
        if outside is not None:
            stop(outside)
        stop(daemon, signal.SIGTERM, timeout=40)

    runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))
    assert sorted(r.status.value for r in runs) == ["SUCCESS", "SUCCESS"]
    [second] = [r for r in runs if r.run_id != queued.run_id]
    first_spans = _step_intervals(instance, queued.run_id)
    second_spans = _step_intervals(instance, second.run_id)
    assert len(first_spans) == len(second_spans) >= 8
    overlaps = [(a, b) for a in first_spans for b in second_spans
                if a[1] < b[2] and b[1] < a[2]]
    assert overlaps == [], f"steps of the two runs ran at the same time: {overlaps[:3]}"
    blocked = [r.dagster_event.message for r in instance.all_logs(second.run_id)
               if r.dagster_event and r.dagster_event.event_type_value == "ENGINE_EVENT"
               and f"blocked by limit for pool {WAREHOUSE_POOL}" in (r.dagster_event.message or "")]
    assert blocked, "the second run never waited for the pool"
    assert instance.event_log_storage.get_concurrency_run_ids() == set()   # all slots freed
    waited = min(b[1] for b in second_spans) - min(a[1] for a in first_spans)
    instance.dispose()

    single = make_settings(settings.landing_dir, name="single")
    assert run_job(single, dg.DagsterInstance.ephemeral()).success
    assert snapshot(settings) == snapshot(single)
    print(f"pool: the second run's first step started {waited:.1f} s after the first run's; "
          f"{len(blocked)} 'blocked by pool' events; no overlapping steps")
