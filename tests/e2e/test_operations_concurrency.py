"""Issue 7: two runs started together on the same DuckDB file both finish (each step waits
for the file: warehouse.connect retries a locked file) and the result equals one run's.

`dagster job execute` runs in the calling process and bypasses the run queue, so this is
the worst case: two writers really overlap. Runs launched by the schedule, the sensor or
the UI go through the queue (max_concurrent_runs: 1) and do not overlap at all.
"""

from __future__ import annotations

import time

import dagster as dg
import pytest
from ops_helpers import copy_landing, execute_job, fresh_home, funnel_env, run_job, stop, wait_for
from test_incremental import snapshot


@pytest.mark.slow
def test_two_runs_started_together(tmp_path, make_settings):
    settings = make_settings(copy_landing(tmp_path / "landing"))
    home = fresh_home(tmp_path)
    env = funnel_env(home, settings)
    # the instance exists before the runs (as under the daemon): two processes creating a
    # fresh SQLite instance at the same moment race on its schema migration
    dg.DagsterInstance.from_config(str(home)).dispose()
    started = time.monotonic()
    procs = [execute_job("ingest", env, tmp_path / f"run{i}.log") for i in (1, 2)]
    try:
        wait_for(lambda: all(p.poll() is not None for p in procs), 150, "both runs to end",
                 log=tmp_path / "run1.log")
        elapsed = time.monotonic() - started
        for i, proc in enumerate(procs, 1):
            assert proc.returncode == 0, (tmp_path / f"run{i}.log").read_text()[-3000:]
    finally:
        for proc in procs:
            stop(proc)
    instance = dg.DagsterInstance.from_config(str(home))
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="ingest"))
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    instance.dispose()

    single = make_settings(settings.landing_dir, name="single")
    assert run_job(single, dg.DagsterInstance.ephemeral()).success
    assert snapshot(settings) == snapshot(single)
    print(f"two overlapping ingest runs finished in {elapsed:.1f} s")
