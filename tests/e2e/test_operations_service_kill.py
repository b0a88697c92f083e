"""Issue 19: a killed service heals, with the real `dagster-daemon`.

Both kills happen while a sensor-started `ingest` run holds tonight's second landing file
in an open transaction (FUNNEL_TEST_PAUSE_AT=ingest) and a second `ingest` run waits in
the queue of one (`dagster job launch`):

- only the run's worker process gets SIGKILL: the code server marks the run failed
  within 5 s (kept as it was);
- the daemon's whole process group gets SIGKILL (daemon, code server and worker: what a
  reboot or an OOM kill does) and the daemon is started again: run monitoring, asking
  `LocalRunLauncher` about the worker, marks the run failed within 5 minutes of the
  restart (in practice one poll), the failure alert reaches the webhook.

Either way the queued run then completes, and the tables equal a single run's over the
same landing folder: nothing lost, nothing doubled.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time
from pathlib import Path

import dagster as dg
import pytest
from ops_helpers import copy_landing, fresh_home, funnel_env, run_job, start, stop, wait_for
from test_incremental import snapshot
from test_operations_kill import FIRST_NIGHT, LATE

from funnel_pipeline.operations import run_health
from funnel_pipeline.settings import Settings

pytestmark = pytest.mark.starts_first(minutes=5)

#: the issue's bounds: a lone worker kill is noticed in 5 s, a dead service's run in 5 min
WORKER_KILL_BOUND_S = 5.0
RESTART_BOUND_S = 300.0


@pytest.fixture(scope="module")
def single_run(tmp_path_factory) -> dict:
    """One run over the whole landing folder: what the killed night must end with."""
    tmp = tmp_path_factory.mktemp("single_run")
    settings = Settings(landing_dir=copy_landing(tmp / "landing"), duckdb_path=tmp / "ref.duckdb",
                        reports_dir=tmp / "reports", duckdb_memory_limit="1GB")
    assert run_job(settings, dg.DagsterInstance.ephemeral()).success
    return snapshot(settings)


class _Webhook(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _runs(instance: dg.DagsterInstance, *statuses: dg.DagsterRunStatus) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(statuses=list(statuses))))


def _status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    return instance.get_run_by_id(run_id).status  # type: ignore[union-attr]


def _night_with_a_run_in_flight(tmp_path: Path, make_settings, webhook):
    """Last night loaded; tonight's run paused mid-ingest by a real daemon; one run queued."""
    landing = copy_landing(tmp_path / "landing", FIRST_NIGHT)
    settings = make_settings(landing)
    home = fresh_home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    assert run_job(settings, instance).success                       # last night
    copy_landing(landing, LATE)                                      # tonight's files
    env = funnel_env(home, settings, FUNNEL_LANDING_SENSOR_INTERVAL_SECONDS="1",
                     FUNNEL_LANDING_SETTLE_SECONDS="0", FUNNEL_STEP_RETRIES="0",
                     FUNNEL_TEST_PAUSE_AT="ingest",
                     FUNNEL_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{webhook.server_address[1]}/")
    log = tmp_path / "daemon.log"
    daemon = start(["dagster-daemon", "run", "-m", "funnel_pipeline.definitions"], env, log)
    marker = Path(f"{settings.duckdb_path}.paused-ingest")
    wait_for(marker.exists, 240, "the sensor's ingest run to pause mid-ingest", daemon, log)
    [stuck] = _runs(instance, dg.DagsterRunStatus.STARTED)
    assert stuck.tags[run_health.WORKER_HOST_TAG] == run_health.this_host()  # by the launcher
    worker = run_health.find_worker(instance, stuck.run_id)
    assert worker is not None and os.getpgid(worker.pid) == daemon.pid  # one process group

    launch_log = tmp_path / "launch.log"
    launcher = start(["dagster", "job", "launch", "-m", "funnel_pipeline.definitions",
                      "-j", "ingest"], env, launch_log)
    assert launcher.wait(timeout=120) == 0, launch_log.read_text()
    [queued] = wait_for(lambda: _runs(instance, dg.DagsterRunStatus.QUEUED), 30, "a queued run")
    time.sleep(3)                                                    # a few coordinator ticks
    assert _status(instance, queued.run_id) == dg.DagsterRunStatus.QUEUED   # the queue of one
    return settings, instance, env, daemon, log, stuck, worker, queued


def _finish(instance, daemon, log, queued, settings, expected: dict) -> None:
    done = wait_for(lambda: _status(instance, queued.run_id) in
                    (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE), 240,
                    "the queued run to finish", daemon, log, interval=1)
    assert done and _status(instance, queued.run_id) == dg.DagsterRunStatus.SUCCESS, \
        log.read_text(errors="replace")[-3000:]
    assert snapshot(settings) == expected, "rows lost or duplicated after the kill"


def _alert_for(webhook, run_id: str, daemon, log) -> dict:
    return wait_for(lambda: next((a for a in webhook.received if a["run_id"] == run_id), None),
                    120, "the failure alert", daemon, log)


@pytest.mark.slow
def test_worker_kill_fails_the_run_within_seconds(tmp_path, make_settings, webhook, single_run):
    settings, instance, _env, daemon, log, stuck, worker, queued = \
        _night_with_a_run_in_flight(tmp_path, make_settings, webhook)
    try:
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: _status(instance, stuck.run_id) == dg.DagsterRunStatus.FAILURE,
                 60, "the killed run to be marked failed", daemon, log, interval=0.1)
        detected = time.monotonic() - killed_at
        assert detected < WORKER_KILL_BOUND_S
        _finish(instance, daemon, log, queued, settings, single_run)
        alert = _alert_for(webhook, stuck.run_id, daemon, log)
        assert alert["job_name"] == "ingest" and alert["failed_steps"] == []
    finally:
        stop(daemon, signal.SIGTERM, timeout=40)
    print(f"worker SIGKILL: run marked failed {detected:.1f} s after the kill")


@pytest.mark.slow
def test_whole_service_kill_heals_after_restart(tmp_path, make_settings, webhook, single_run):
    settings, instance, env, daemon, log, stuck, worker, queued = \
        _night_with_a_run_in_flight(tmp_path, make_settings, webhook)
    try:
        stop(daemon, signal.SIGKILL)                    # kill -9 of the whole process group
        wait_for(lambda: run_health.process_state(worker.pid, worker.logged_at)[0] is False,
                 10, "the worker to be gone")
        time.sleep(2)
        assert _status(instance, stuck.run_id) == dg.DagsterRunStatus.STARTED  # nobody noticed
        assert _status(instance, queued.run_id) == dg.DagsterRunStatus.QUEUED

        log = tmp_path / "daemon-restarted.log"
        daemon = start(["dagster-daemon", "run", "-m", "funnel_pipeline.definitions"], env, log)
        restarted_at = time.monotonic()
        wait_for(lambda: _status(instance, stuck.run_id) == dg.DagsterRunStatus.FAILURE,
                 RESTART_BOUND_S, "run monitoring to fail the run of the dead worker",
                 daemon, log, interval=0.5)
        detected = time.monotonic() - restarted_at
        alert = _alert_for(webhook, stuck.run_id, daemon, log)
        alerted = time.monotonic() - restarted_at
        assert alert["failed_steps"] == [] and "worker process of this run was gone" in \
            alert["run_error"]
        assert instance.get_run_by_id(stuck.run_id).tags[run_health.WORKER_LOST_TAG] == \
            "no such process"
        _finish(instance, daemon, log, queued, settings, single_run)
    finally:
        stop(daemon, signal.SIGTERM, timeout=40)
    print(f"whole-service SIGKILL: run failed {detected:.1f} s after the daemon restart, "
          f"alert delivered after {alerted:.1f} s")
