"""Helpers for the issue-7 process tests: start Dagster CLIs in subprocesses and stop them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from conftest import FIXTURES, REPO_ROOT

BIN = Path(sys.executable).parent


def restore_signals() -> None:
    """preexec_fn: a non-interactive parent may have left SIGINT/SIGTERM ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: tests/pause_hook/sitecustomize.py: the kill tests' pause, outside the production code
PAUSE_HOOK = Path(__file__).resolve().parent / "pause_hook"


def funnel_env(home: Path, settings, **extra: str) -> dict[str, str]:
    """The environment of a real run in a subprocess; FUNNEL_TEST_PAUSE_AT=<point> adds
    the test-only pause hook to PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNNEL_")}
    env.update({"DAGSTER_HOME": str(home), "FUNNEL_LANDING_DIR": str(settings.landing_dir),
                "FUNNEL_DUCKDB_PATH": str(settings.duckdb_path),
                "FUNNEL_REPORTS_DIR": str(settings.reports_dir),
                "FUNNEL_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
                "FUNNEL_LANDING_SETTLE_SECONDS": "0", **extra})
    if "FUNNEL_TEST_PAUSE_AT" in extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PAUSE_HOOK), env.get("PYTHONPATH"))
                                            if p)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("wb")
    try:
        return subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=REPO_ROOT, env=env,
                                stdout=handle, stderr=subprocess.STDOUT,
                                preexec_fn=restore_signals, start_new_session=True)  # noqa: PLW1509
    finally:
        handle.close()


def execute_job(job: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return start(["dagster", "job", "execute", "-m", "funnel_pipeline.definitions", "-j", job], env, log)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    """Signal the process group, escalate to SIGKILL; returns the exit code."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None,
             log: Path | None = None, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) before {what}:\n"
                                 + (log.read_text(errors="replace")[-3000:] if log else ""))
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (":\n" + log.read_text(errors="replace")[-3000:] if log else ""))


def query(db: Path, sql: str):
    """Read-only query; None while a writer holds the file or the table is missing."""
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


def copy_landing(target: Path, names: list[str] | None = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for path in sorted((FIXTURES / "dirty-landing").iterdir()):
        if names is None or path.name in names:
            part = target / f"{path.name}.tmp"
            shutil.copyfile(path, part)
            os.replace(part, target / path.name)
    return target


def fresh_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def run_job(settings, instance, job: str = "ingest"):
    """Like conftest.materialize_all, for another job of the real Definitions. The kill and
    concurrency tests use `ingest` (raw, core, quality, marts: every table they compare)
    to skip the chart rendering and publication files only `nightly` builds."""
    from funnel_pipeline import definitions
    from funnel_pipeline.resources import FunnelWarehouse

    return definitions.defs.resolve_job_def(job).execute_in_process(
        instance=instance, resources={"warehouse": FunnelWarehouse.from_settings(settings)},
        raise_on_error=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(base_url: str, query: str) -> dict | None:
    """The `data` of a GraphQL answer of a running webserver; None while it does not answer."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{base_url}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    assert "errors" not in data, data["errors"]
    return data["data"]
