"""Issue 19, fast tier: how `LocalRunLauncher` tells a live run worker from a dead one.

A real run is started in a subprocess (in-process executor, like `funnel run`), killed
with SIGKILL, and Dagster's own run-monitoring step (`monitor_started_run`) then marks it
failed because the launcher answers FAILED; while the worker lives, or when it cannot be
told (another host, no pid logged yet), the answer is RUNNING. The real daemon and the
whole-service kill are in test_operations_service_kill.py.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher.base import WorkerStatus
from dagster._daemon.monitoring.run_monitoring import monitor_started_run
from ops_helpers import restore_signals, wait_for

from funnel_pipeline.operations import alerts, run_health
from funnel_pipeline.settings import Settings

_SLEEPER = textwrap.dedent("""
    import sys, time
    import dagster as dg

    @dg.op
    def wait_here():
        time.sleep(600)

    @dg.job(executor_def=dg.in_process_executor)
    def sleeper():
        wait_here()

    tags = {"funnel/worker_host": sys.argv[1]} if len(sys.argv) > 1 else {}
    sleeper.execute_in_process(instance=dg.DagsterInstance.get(), tags=tags)
""")


def _start_sleeper(tmp_path: Path, *host: str) -> tuple[subprocess.Popen, dg.DagsterRun]:
    script = tmp_path / "sleeper.py"
    script.write_text(_SLEEPER)
    proc = subprocess.Popen([sys.executable, str(script), *host], env=dict(os.environ),
                            preexec_fn=restore_signals, start_new_session=True)  # noqa: PLW1509
    instance = dg.DagsterInstance.get()

    def started() -> dg.DagsterRun | None:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs and run_health.find_worker(instance, runs[0].run_id):
            return runs[0]
        return None

    return proc, wait_for(started, 60, "the sleeper run to start", proc)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_process_state_alive_dead_zombie_and_reused_pid(tmp_path):
    now = time.time()
    assert run_health.process_state(os.getpid(), now)[0] is True
    done = subprocess.Popen(["true"])
    done.wait()
    assert run_health.process_state(done.pid, now) == (False, "no such process")
    zombie = subprocess.Popen(["true"])                # exited, not yet waited for
    try:
        wait_for(lambda: run_health.process_state(zombie.pid, now)[0] is False, 10, "a zombie")
        assert "zombie" in run_health.process_state(zombie.pid, now)[1]
    finally:
        zombie.wait()
    # this process started long after "an hour ago": a worker logged then is not this one
    alive, why = run_health.process_state(os.getpid(), now - 3600)
    assert (alive, why) == (False, "pid reused by a newer process")


def test_a_killed_worker_is_failed_by_run_monitoring(dagster_home, tmp_path):
    instance = dg.DagsterInstance.get()
    assert isinstance(instance.run_launcher, run_health.LocalRunLauncher)
    proc, run = _start_sleeper(tmp_path)
    try:
        worker = run_health.find_worker(instance, run.run_id)
        assert worker is not None and worker.pid == proc.pid
        health = instance.run_launcher.check_run_worker_health(run)
        assert health.status == WorkerStatus.RUNNING, health
        record = instance.get_run_record_by_id(run.run_id)
        monitor_started_run(instance, None, record, logging.getLogger("test"))  # type: ignore[arg-type]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        _kill(proc)

    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED
    assert f"worker process {proc.pid} " in health.msg and "(no such process)" in health.msg
    # what the daemon's run-monitoring loop does with that answer
    monitor_started_run(instance, None, instance.get_run_record_by_id(run.run_id),  # type: ignore[arg-type]
                        logging.getLogger("test"))
    failed = instance.get_run_by_id(run.run_id)
    assert failed.status == dg.DagsterRunStatus.FAILURE

    # the failure alert names the cause, without a pid or host value
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="failure_alerts", dagster_event=failure, dagster_instance=instance,
        dagster_run=failed).for_run_failure()
    alert = alerts.build_alert(context, Settings())
    assert alert["failed_steps"] == []
    assert alert["run_error"] == ("the worker process of this run was gone (no such process): "
                                  "the service was stopped or killed with the run in flight; "
                                  "marked failed by run monitoring")


def test_a_worker_on_another_host_is_not_judged(dagster_home, tmp_path):
    instance = dg.DagsterInstance.get()
    proc, run = _start_sleeper(tmp_path, "another-machine")
    _kill(proc)
    health = instance.run_launcher.check_run_worker_health(instance.get_run_by_id(run.run_id))
    assert health.status == WorkerStatus.RUNNING and "another-machine" in health.msg


def test_no_pid_logged_yet_counts_as_running(dagster_home):
    instance = dg.DagsterInstance.get()

    @dg.op
    def nothing() -> None:
        pass

    @dg.job
    def quiet():
        nothing()

    run = instance.create_run_for_job(quiet, status=dg.DagsterRunStatus.STARTED)
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.RUNNING and "no worker pid" in health.msg


def test_cli_runs_carry_the_worker_host_tag(monkeypatch):
    from funnel_pipeline import cli

    assert run_health.worker_tags() == {run_health.WORKER_HOST_TAG: run_health.this_host()}
    source = Path(cli.__file__).read_text()
    assert source.count("worker_tags()") >= 2, "funnel run and funnel rebuild tag their runs"


@pytest.mark.parametrize("host, expected", [("localhost", "here"), ("127.0.0.1", "here"),
                                             ("code.example", "code.example")])
def test_launcher_tags_the_code_servers_host(host, expected, monkeypatch):
    from types import SimpleNamespace as NS

    location = NS(client=NS(host=host, socket=None))
    origin = NS(repository_origin=NS(code_location_origin=NS(location_name="funnel")))
    context = NS(dagster_run=NS(remote_job_origin=origin),
                 workspace=NS(get_code_location=lambda name: location))
    monkeypatch.setattr(run_health, "this_host", lambda: "here")
    assert run_health.LocalRunLauncher._code_server_host(context) == expected  # type: ignore[arg-type]
