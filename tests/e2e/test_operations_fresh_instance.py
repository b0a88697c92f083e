"""Issue 19: a fresh SQLite DAGSTER_HOME opened by several processes at the same instant.

Without preparation two processes creating the instance's databases together collide
(`table secondary_indexes already exists`, `UNIQUE constraint failed:
alembic_version.version_num`). `prepare_instance` (`funnel prepare-instance`, the units'
`ExecStartPre=`) serialises the creation under a lock.

- fast: forked processes (dagster already imported, so they really start together)
  prepare the same new home at once, several times over; each then uses the instance;
- slow: the daemon and the webserver unit commands (ExecStartPre + ExecStart, from
  deploy/*.service) started at the same instant on a new home both come up: the
  webserver answers, the daemon heartbeats, no traceback in either log.
"""

from __future__ import annotations

import configparser
import multiprocessing
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
from conftest import REPO_ROOT
from ops_helpers import restore_signals, stop, wait_for

from funnel_pipeline.operations.instance import prepare_instance

PROCESSES = 4
TRIALS = 5


def _prepare_then_use(home: str, start_at: float, results) -> None:
    try:
        while time.time() < start_at:
            pass
        prepare_instance(Path(home), REPO_ROOT / "dagster.yaml")
        with dg.DagsterInstance.from_config(home) as instance:   # as the daemon would
            instance.get_runs(limit=1)
            instance.all_instigator_state()
        results.put("ok")
    except Exception:  # noqa: BLE001 - reported to the parent
        results.put(traceback.format_exc(limit=3))


def _race(home: Path, target) -> list[str]:
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0
    procs = [context.Process(target=target, args=(str(home), start_at, results))
             for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcome = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return outcome


def test_processes_preparing_a_new_home_at_once_do_not_collide(tmp_path):
    for trial in range(TRIALS):
        home = tmp_path / f"home{trial}"                 # new and empty: no dagster.yaml yet
        outcome = _race(home, _prepare_then_use)
        assert outcome == ["ok"] * PROCESSES, "\n".join(o for o in outcome if o != "ok")
        assert (home / "dagster.yaml").read_bytes() == (REPO_ROOT / "dagster.yaml").read_bytes()
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.get_runs() == []
            assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1


def test_prepare_is_idempotent_and_keeps_an_existing_yaml(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_instance(home, REPO_ROOT / "dagster.yaml")
    prepare_instance(home, REPO_ROOT / "dagster.yaml")
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    assert (home / "history" / "runs.db").is_file() and (home / "schedules" / "schedules.db").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unit_command(name: str, port: int) -> str:
    """ExecStartPre && exec ExecStart of a deploy unit, pointed at this venv."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment]
    unit.read_string((REPO_ROOT / "deploy" / name).read_text())
    service = unit["Service"]
    venv_bin = str(Path(sys.executable).parent)
    lines = [service[key] for key in ("ExecStartPre", "ExecStart") if key in service]
    lines = [line.replace("/opt/funnel-pipeline/.venv/bin", venv_bin)
             .replace("-p 3000", f"-p {port}") for line in lines]
    return " && ".join(lines[:-1] + [f"exec {lines[-1]}"])


@pytest.mark.slow
@pytest.mark.parametrize("trial", [1, 2])
def test_daemon_and_webserver_units_start_together_on_a_new_home(tmp_path, trial):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")   # as the install step does
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNEL_")}
    env.update(DAGSTER_HOME=str(home), FUNNEL_LANDING_DIR=str(tmp_path / "landing"),
               FUNNEL_DUCKDB_PATH=str(tmp_path / "funnel.duckdb"),
               FUNNEL_REPORTS_DIR=str(tmp_path / "reports"))
    commands = {name: _unit_command(f"dagster-{name}.service", port)
                for name in ("daemon", "webserver")}
    assert all("prepare-instance" in c for c in commands.values()), commands
    procs: dict[str, subprocess.Popen] = {}
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    try:
        for name, command in commands.items():                       # the same instant
            with logs[name].open("wb") as log:
                procs[name] = subprocess.Popen(
                    ["/bin/sh", "-c", command], cwd=REPO_ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT, preexec_fn=restore_signals,  # noqa: PLW1509
                    start_new_session=True)

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(answers, 120, "the webserver to answer", procs["webserver"], logs["webserver"])
        with dg.DagsterInstance.from_config(str(home)) as instance:
            beats = wait_for(lambda: {b.daemon_type for b in
                                      instance.get_daemon_heartbeats().values()
                                      if not b.errors} >= {"SENSOR", "SCHEDULER", "MONITORING"},
                             120, "daemon heartbeats", procs["daemon"], logs["daemon"])
        assert beats
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited:\n{logs[name].read_text()[-3000:]}"
    finally:
        for proc in procs.values():
            stop(proc, timeout=40)
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        assert "Traceback" not in text and "already exists" not in text, f"{name}:\n{text[-3000:]}"
    print(f"trial {trial}: " + "; ".join(f"{n}: {shlex.split(c)[0]} …" for n, c in commands.items()))
