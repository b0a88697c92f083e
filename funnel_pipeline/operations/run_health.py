"""Run workers that died with the whole service: find them, fail their runs, free the queue.

Why this exists. When only a run's worker process dies, the code server that started it
notices within a second and marks the run failed. When the whole service dies with a run
in flight (reboot, OOM kill, `kill -9` of the daemon's process group), nobody is left to
notice: the restarted code server never knew the run, Dagster's `DefaultRunLauncher`
cannot check a worker's health, so run monitoring only fails the run after
`max_runtime_seconds` (6 h). Until then the run stays STARTED and the queue of one holds
every later run (a nightly lost at 02:00 blocked the landing sensor until 08:00).

What this does. `LocalRunLauncher` is the `DefaultRunLauncher` plus the one thing run
monitoring needs, `check_run_worker_health`: every `run_monitoring.poll_interval_seconds`
the daemon asks it about each STARTED run, and when the answer is FAILED the daemon marks
the run failed (`instance.report_run_failed`: the `failure_alerts` sensor e-mails, the
queue moves on). Configured in `dagster.yaml` (`run_launcher:`).

How a worker is judged gone, without ever failing a run that is still working:
- its pid comes from the run's own event log: the worker writes "Started process for run
  (pid: N)" before the run starts (`funnel run` / `funnel rebuild` / `dagster job execute`
  write "Executing steps in process (pid: N)");
- its host comes from the run tag `funnel/worker_host` (set by `LocalRunLauncher` when
  the code server is on this machine, and by the `funnel` CLI for its in-process runs);
  without the tag, a SQLite instance means this machine (SQLite storage is never shared);
- the worker is gone when no process has that pid, the process is a zombie, or the
  process with that pid started after the worker logged it (the pid was reused, e.g.
  after a reboot; Linux `/proc` start times);
- whenever the answer is not certain (no pid logged yet, another host, no `/proc`) the
  worker counts as RUNNING, and `max_runtime_seconds` remains the backstop.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import DagsterEventType, DagsterRun, DefaultRunLauncher
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus

if TYPE_CHECKING:
    from dagster import DagsterInstance

#: run tag: the machine the run's worker process runs on
WORKER_HOST_TAG = "funnel/worker_host"
#: run tag set when the worker was found gone: why (a fixed phrase, no values); the
#: failure alert reads it, since Dagster's failure message quotes the health-check text
WORKER_LOST_TAG = "funnel/worker_lost"
#: the message of the engine event the gRPC worker writes before the run starts
_STARTED_PROCESS = "Started process for run"
#: a process that started more than this many seconds after the worker logged its pid
#: is another process (/proc start times are accurate to about a second: boot time is
#: whole seconds)
PID_REUSE_SLACK_SECONDS = 2.0
#: host names that mean "the machine the launcher runs on"
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", ""})


def this_host() -> str:
    """The name worker hosts are compared with."""
    return socket.gethostname()


def worker_tags() -> dict[str, str]:
    """Tags for a run executed in this process (`funnel run`, `funnel rebuild`)."""
    return {WORKER_HOST_TAG: this_host()}


@dataclass(frozen=True)
class WorkerRecord:
    """The run's worker process as its event log recorded it."""

    pid: int
    #: when the worker logged its pid (it was alive then)
    logged_at: float


def find_worker(instance: DagsterInstance, run_id: str) -> WorkerRecord | None:
    """The run's worker process: the gRPC worker's "Started process" event, else the
    first engine event carrying a pid (the in-process executor's, for CLI runs).

    The first one, not the latest: a multiprocess executor would log its step
    subprocesses' pids later, and those end while the run goes on.
    """
    first: WorkerRecord | None = None
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        data = event.engine_event_data if event is not None else None
        value = data.metadata.get("pid") if data is not None and data.metadata else None
        text = getattr(value, "value", value)
        try:
            pid = int(str(text))
        except (TypeError, ValueError):
            continue
        found = WorkerRecord(pid=pid, logged_at=record.timestamp)
        if (event.message or "").startswith(_STARTED_PROCESS):
            return found
        first = first or found
    return first


def _boot_time(proc: Path) -> float | None:
    try:
        for line in (proc / "stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def process_state(pid: int, not_started_after: float, proc: Path = Path("/proc")
                  ) -> tuple[bool | None, str]:
    """(alive, why) of the process `pid` that was running at `not_started_after`.

    alive is True when it runs, False when it is certainly gone (no such process, a
    zombie, or a newer process that reuses the pid), None when this cannot be told.
    """
    stat_file = proc / str(pid) / "stat"
    if proc.is_dir():
        try:
            stat = stat_file.read_text()
        except FileNotFoundError:
            return False, "no such process"
        except OSError as exc:
            return None, f"cannot read {stat_file}: {exc}"
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) "
        state, start_ticks = fields[0], int(fields[19])
        if state in ("Z", "X"):
            return False, "exited, a zombie"
        boot = _boot_time(proc)
        if boot is not None:
            started = boot + start_ticks / os.sysconf("SC_CLK_TCK")
            if started > not_started_after + PID_REUSE_SLACK_SECONDS:
                return False, "pid reused by a newer process"
        return True, "running"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False, "no such process"
    except PermissionError:
        return True, "running (another user's process)"
    return True, "running"


def worker_host(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """The worker's machine: the run tag, else this machine for a SQLite instance, else None."""
    tagged = run.tags.get(WORKER_HOST_TAG)
    if tagged:
        return tagged
    if type(instance.run_storage).__name__ == "SqliteRunStorage":
        return this_host()
    return None


def worker_health(instance: DagsterInstance, run: DagsterRun,
                  proc: Path = Path("/proc")) -> CheckRunHealthResult:
    """FAILED only when the run's worker is certainly gone; RUNNING otherwise."""
    worker = find_worker(instance, run.run_id)
    if worker is None:
        return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker pid logged yet")
    host = worker_host(instance, run)
    if host is None or host != this_host():
        return CheckRunHealthResult(
            WorkerStatus.RUNNING,
            f"worker pid {worker.pid} runs on {host or 'an unknown host'}: not checked here")
    alive, why = process_state(worker.pid, worker.logged_at, proc)
    if alive is False:
        current = instance.get_run_by_id(run.run_id)
        if current is not None and current.is_finished:  # it ended normally meanwhile
            return CheckRunHealthResult(WorkerStatus.SUCCESS, "the run has finished")
        instance.add_run_tags(run.run_id, {WORKER_LOST_TAG: why})
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"worker process {worker.pid} of this run on {host} is gone ({why}): the "
            "service was probably stopped or killed with the run in flight; the next run "
            "redoes its work",
            run_worker_id=str(worker.pid))
    return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker pid {worker.pid}: {why}",
                                run_worker_id=str(worker.pid))


class LocalRunLauncher(DefaultRunLauncher):
    """`DefaultRunLauncher` whose workers run monitoring can check (see the module doc).

    dagster.yaml: `run_launcher: {module: funnel_pipeline.operations.run_health,
    class: LocalRunLauncher}`.
    """

    def launch_run(self, context: LaunchRunContext) -> None:
        """Launch as `DefaultRunLauncher` does, tagging the run with its worker's host
        first, so that a check on another machine never judges this worker."""
        host = self._code_server_host(context)
        if host is not None:
            self._instance.add_run_tags(context.dagster_run.run_id, {WORKER_HOST_TAG: host})
        super().launch_run(context)

    @staticmethod
    def _code_server_host(context: LaunchRunContext) -> str | None:
        """The machine the code server (and so the worker it starts) runs on, if known."""
        origin = context.dagster_run.remote_job_origin
        if context.workspace is None or origin is None:
            return None
        try:
            location = context.workspace.get_code_location(
                origin.repository_origin.code_location_origin.location_name)
            client = location.client  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the launch itself reports real problems
            return None
        if client.socket or (client.host or "").lower() in _LOCAL_NAMES:
            return this_host()
        return client.host

    @property
    def supports_check_run_worker_health(self) -> bool:
        """True: this is what makes run monitoring ask `check_run_worker_health`."""
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """Called by the daemon's run monitoring for each STARTED run; FAILED fails it."""
        return worker_health(self._instance, run)


def fail_lost_runs(instance: DagsterInstance) -> list[str]:
    """Mark failed every STARTED run of this instance whose worker is certainly gone;
    returns their ids.

    Run monitoring in the daemon does this every poll; the `funnel` CLI does it before
    it starts a run of its own, so that without a daemon (the demo, a laptop) a run
    killed earlier does not keep the pool slot and look in progress for ever. The same
    judgement as the daemon's (`worker_health`): a live or unknown worker is left alone.
    """
    from dagster import DagsterRunStatus, RunsFilter

    failed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run = record.dagster_run
        health = worker_health(instance, run)
        if health.status == WorkerStatus.FAILED:
            instance.report_run_failed(run, message=health.msg)
            failed.append(run.run_id)
    return failed
