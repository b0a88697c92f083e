"""Issue 18 (items 1 and 13): the `funnel` command line, run as a person runs it.

Every test starts the real CLI in a subprocess and reads what it printed:

- `--help` of every command: what it does, its defaults, the environment variables it
  reads, with the defaults settings.py applies;
- `make demo` on a machine without Chromium: one line says it is installed (apt-get is
  a recording stand-in here: removing the real Chromium from a shared machine is not an
  option), then the demo prints a few progress lines, no DEBUG line and no traceback,
  aligned results whose counts are the drop-out summary's, and the UI command as it can
  be typed;
- a missing Chromium, a bad configuration, a missing database, a missing landing
  folder: one sentence each, no traceback;
- `funnel ui`: the webserver, the daemon and the chart server answer, without the
  DAGSTER_HOME warning or the `dagster dev` deprecation, and Ctrl-C stops them all;
- a `funnel run` killed with SIGKILL and no daemon to notice: the next `funnel run`
  fails the dead run, frees its pool slot and completes.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import psutil
import pytest
from conftest import REPO_ROOT
from funnel_pipeline.assets.charts import CHART_ASSETS
from ops_helpers import (
    copy_landing,
    free_port,
    funnel_env,
    graphql,
    restore_signals,
    run_job,
    start,
    stop,
    wait_for,
)
from test_incremental import snapshot

from funnel_pipeline import cli
from funnel_pipeline.settings import Settings

pytestmark = pytest.mark.starts_first(minutes=3)

FUNNEL = Path(sys.executable).with_name("funnel")
COMMANDS = ["demo", "check-config", "run", "rebuild", "backup", "prepare-instance",
            "prune-runs", "prune-reports", "ui"]
#: what must never reach the console of a person
NOISE = ("DEBUG", "Traceback", " - dagster - ", "dg dev", "superseded", "deprecat",
         "DAGSTER_HOME environment variable is set")


def _funnel(args: list[str], env: dict[str, str], cwd: Path = REPO_ROOT, timeout: float = 600,
            ) -> subprocess.CompletedProcess:
    return subprocess.run([str(FUNNEL), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FUNNEL_", "DAGSTER_")) and k != "BROWSER_PATH"}
    return {**env, **extra}


def _no_noise(text: str) -> None:
    found = [word for word in NOISE if word.lower() in text.lower()]
    assert found == [], f"{found} in:\n{text[-3000:]}"


# --- --help --------------------------------------------------------------------------------

def _help(command: str) -> str:
    done = _funnel([command, "--help"], _clean_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _same(shown: str, value: object) -> bool:
    """Whether the default a help text shows is the value Settings gives without it set."""
    if isinstance(value, bool):
        return (shown.lower() in ("1", "true", "yes")) == value
    if isinstance(value, int | float):
        return float(shown) == value
    return shown == str(value)


def test_every_command_has_help_with_description_defaults_and_environment(monkeypatch):
    for name in [k for k in os.environ if k.startswith("FUNNEL_")]:
        monkeypatch.delenv(name)
    unset = Settings()
    top = _funnel(["--help"], _clean_env(), timeout=60).stdout
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(commands.choices) == sorted(COMMANDS)
    defaults = {f.metadata["env"]: f for f in dataclasses.fields(Settings)}
    documented: set[str] = set()
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", top, re.MULTILINE), f"{command} has no summary in --help"
        text = _help(command)
        description = text.split("\n\n")[1]
        assert len(description) > 30, command
        for action in commands.choices[command]._actions:
            if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
                assert f"(default: {action.default})" in " ".join(text.split()), \
                    (command, action.dest)
        listed = dict(re.findall(r"^  ([A-Z][A-Z0-9_]+)(?:  \(default: (.*)\))?$", text, re.MULTILINE))
        if command != "check-config":
            assert listed, f"{command} --help lists no environment variables"
        for name, shown in listed.items():
            documented.add(name)
            if name in defaults:  # the default shown is the one Settings applies
                value = getattr(unset, defaults[name].name)
                assert (_same(shown, value) if shown else value in ("", Path(""))), name
    assert {"FUNNEL_LANDING_DIR", "FUNNEL_DUCKDB_PATH"} <= set(re.findall(
        r"^  (FUNNEL_\w+)", _help("run"), re.MULTILINE))
    assert "FUNNEL_CHART_RETENTION_DAYS" in _help("prune-reports")
    assert "FUNNEL_CHART_BASE_URL" in _help("ui") and "DAGSTER_HOME" in _help("ui")
    assert set(defaults) <= documented, f"never documented: {set(defaults) - documented}"


def test_commands_are_printed_as_they_can_be_typed(monkeypatch, tmp_path):
    script = Path(sys.executable).absolute().parent / "funnel"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.chdir(tmp_path)
    assert cli.typed_command("ui") == f"{script} ui"          # not below here: absolute
    monkeypatch.chdir(script.parent.parent.parent)
    assert cli.typed_command("ui") == f"{script.parent.parent.name}/bin/funnel ui"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    assert cli.typed_command("ui") == "funnel ui"             # on PATH: as short as it gets
    from funnel_pipeline.charts.render import DEFAULT_BROWSER

    assert cli.CHROMIUM == Path(DEFAULT_BROWSER)                # --help names the real default


# --- make demo, then a run without Chromium -----------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """`make demo` as on a fresh machine: no Chromium on PATH, apt-get records its call."""
    tmp = tmp_path_factory.mktemp("demo")
    tools = tmp / "bin"
    tools.mkdir()
    for tool in ("bash", "ls", "id"):
        (tools / tool).symlink_to(shutil.which(tool))
    calls = tmp / "apt-calls"
    (tools / "apt-get").write_text(f"#!/bin/bash\necho \"$*\" >> {calls}\n")
    (tools / "apt-get").chmod(0o755)
    venv = tmp / "venv"                         # the Makefile's $(VENV), already installed
    venv.mkdir()
    (venv / "bin").symlink_to(Path(sys.executable).absolute().parent)
    (venv / ".installed").touch()
    newer = (REPO_ROOT / "pyproject.toml").stat().st_mtime + 1
    os.utime(venv / ".installed", (newer, newer))              # installed after the last change
    data = tmp / "data"
    env = _clean_env(PATH=str(tools), DAGSTER_HOME=str(data / "dagster_home"),
                     FUNNEL_LANDING_DIR=str(data / "landing"),
                     FUNNEL_DUCKDB_PATH=str(data / "funnel.duckdb"),
                     FUNNEL_REPORTS_DIR=str(data / "reports"), FUNNEL_STEP_RETRIES="0")
    started = time.monotonic()
    done = subprocess.run([shutil.which("make"), "-s", "-C", str(REPO_ROOT), "demo",
                           f"VENV={venv}"], env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    return {"done": done, "seconds": time.monotonic() - started, "calls": calls, "env": env,
            "data": data}


@pytest.mark.slow
def test_make_demo_installs_chromium_and_prints_a_few_aligned_lines(demo):
    done = demo["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    print(f"make demo: {demo['seconds']:.0f} s\n{out}\n{done.stderr}")
    _no_noise(out + done.stderr)
    assert done.stderr == ""
    lines = out.splitlines()
    installing = [line for line in lines if line.startswith("Installing Debian package")]
    assert installing == [lines[0]] and "chromium" in lines[0]
    assert "install" in demo["calls"].read_text() and "chromium" in demo["calls"].read_text()
    succeeded = next(i for i, line in enumerate(lines) if line.startswith("The nightly job succeeded"))
    assert succeeded <= 14, "more than a few lines of progress"
    assert any(re.match(r"  \[\s*\d+/11\] marts: \d+ assets\s+done\s+[\d.]+ s$", line)
               for line in lines[:succeeded])

    # the results: the counts the drop-out summary states, in aligned columns
    con = duckdb.connect(str(demo["data"] / "funnel.duckdb"), read_only=True)
    try:
        total = con.execute("SELECT count(*) FROM marts.drop_out_points").fetchone()[0]
        overall = con.execute("SELECT count(*) FROM marts.drop_out_points "
                              "WHERE source_table = 'stage_pass_rates'").fetchone()[0]
    finally:
        con.close()
    assert f"Flagged drop-out points: {total}: {overall} over all applicants" in out
    summary = (demo["data"] / "reports" / "drop_out_summary.md").read_text()
    assert f"{total} drop-out points are flagged: {overall} over all applicants" in summary
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["stage", "group"])
    table = lines[header:lines.index("", header)]
    assert len(table) >= 2 and len({len(row) for row in table}) == 1, "columns not aligned"
    for column in ("group", "where"):
        start = table[0].index(column)
        assert all(row[start - 2:start] == "  " and row[start] != " " for row in table)
    assert lines[-1].startswith("Open the Dagster UI and the charts: .venv/bin/funnel ui")
    places = [line for line in lines if line.startswith(("  DuckDB database", "  Reports",
                                                         "  Dagster home"))]
    assert len(places) == 3 and len({line.index("/") for line in places}) == 1


@pytest.mark.slow
def test_a_run_without_chromium_says_so_in_one_line(demo):
    assert demo["done"].returncode == 0
    shutil.rmtree(demo["data"] / "reports" / "charts")          # the pictures must be drawn
    done = _funnel(["run"], {**demo["env"], "BROWSER_PATH": "/nonexistent/chromium",
                             "PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stderr[-3000:]
    _no_noise(done.stdout + done.stderr)
    assert done.stderr.splitlines()[0] == (
        "The charts cannot be drawn this run: no Chromium at BROWSER_PATH='/nonexistent/chromium' "
        "(Debian: apt-get install chromium). `make system-deps` installs it; BROWSER_PATH names "
        "another.")
    assert re.search(rf"Checks: \d+ passed, \d+ warned.*, {len(CHART_ASSETS)} failed "
                     r"\(charts/funnel: pictures_drawn",
                     done.stdout)


# --- expected conditions: one sentence, no traceback -----------------------------------------

def test_expected_conditions_end_in_one_sentence(tmp_path):
    bad = tmp_path / "funnel.toml"
    bad.write_text('[[stage]]\nname = "application"\n')
    env = _clean_env(DAGSTER_HOME=str(tmp_path / "home"),
                     FUNNEL_DUCKDB_PATH=str(tmp_path / "missing.duckdb"))
    for args, words in ((["check-config", str(bad)], "funnel check-config: "),
                        (["backup", "--to", str(tmp_path / "b")], "funnel backup: no DuckDB file")):
        done = _funnel(args, env, cwd=tmp_path, timeout=120)
        assert done.returncode == cli.EXIT_REFUSED, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(words), \
            done.stderr
        _no_noise(done.stdout + done.stderr)


@pytest.mark.slow
def test_a_failed_run_names_its_cause_without_a_traceback(tmp_path):
    env = _clean_env(DAGSTER_HOME=str(tmp_path / "home"),
                     FUNNEL_LANDING_DIR=str(tmp_path / "no-such-folder"),
                     FUNNEL_DUCKDB_PATH=str(tmp_path / "funnel.duckdb"),
                     FUNNEL_REPORTS_DIR=str(tmp_path / "reports"), FUNNEL_STEP_RETRIES="0")
    done = _funnel(["run"], env, cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    _no_noise(done.stdout + done.stderr)
    lines = done.stderr.strip().splitlines()
    # the cause is the last line: what a data engineer (or an alert) reads first
    assert lines[-1].startswith("nightly job FAILED after ") and "landing folder" in lines[-1] \
        and "does not exist" in lines[-1], done.stderr
    assert lines[-2].startswith("Details: ") and lines[-2].endswith("funnel ui, then the run's page.")


# --- funnel ui ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_funnel_ui_starts_quietly_and_stops_on_ctrl_c(tmp_path):
    port, chart_port = free_port(), free_port()
    log = tmp_path / "ui.log"
    env = _clean_env(DAGSTER_HOME=str(tmp_path / "home"),
                     FUNNEL_LANDING_DIR=str(tmp_path / "landing"),
                     FUNNEL_DUCKDB_PATH=str(tmp_path / "funnel.duckdb"),
                     FUNNEL_REPORTS_DIR=str(tmp_path / "reports"),
                     FUNNEL_CHART_BASE_URL=f"http://127.0.0.1:{chart_port}")
    # started in the repository root, which holds a dagster.yaml that is not DAGSTER_HOME's:
    # `dagster dev` warned about exactly that
    proc = start(["funnel", "ui", "--port", str(port)], env, log)
    ui = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: graphql(ui, "{ version }"), 180, "the Dagster UI", proc, log)
        import urllib.error
        import urllib.request

        try:   # the chart server answers (its folder is still empty: 404 for the index)
            urllib.request.urlopen(f"http://127.0.0.1:{chart_port}/", timeout=10).close()
        except urllib.error.HTTPError as answer:
            assert answer.code == 404
        # and the auditor report folder under /quality/ (made by `funnel ui` if missing)
        page = tmp_path / "reports" / "quality" / "index.html"
        page.write_text("<p>report</p>")
        with urllib.request.urlopen(f"http://127.0.0.1:{chart_port}/quality/index.html",
                                    timeout=10) as answer:
            assert answer.read() == page.read_bytes()
        instance = dg.DagsterInstance.from_config(str(tmp_path / "home"))
        wait_for(lambda: instance.get_daemon_heartbeats(), 120, "the daemon's heartbeat", proc, log)
        instance.dispose()
        family = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        assert len(family) >= 4                                 # us, charts, webserver, daemon
        os.kill(proc.pid, signal.SIGINT)                        # Ctrl-C
        assert proc.wait(timeout=60) == 0
    finally:
        stop(proc, timeout=30)
    out = log.read_text()
    _no_noise(out)
    assert "UserWarning" not in out and "Warning" not in out.replace("warning: ", ""), out
    lines = out.splitlines()
    assert lines[0].startswith("  Dagster UI") and f"{ui}/" in lines[0]
    assert len({line.index("http") for line in lines[:3]}) == 1, "not aligned"
    assert "Stopping the Dagster UI, the daemon and the chart server" in out
    time.sleep(1)
    assert [p for p in family if psutil.pid_exists(p) and
            psutil.Process(p).status() != psutil.STATUS_ZOMBIE] == []


# --- a killed `funnel run` and no daemon --------------------------------------------------

@pytest.mark.slow
def test_the_next_funnel_run_heals_a_killed_one(tmp_path, make_settings):
    """Without the CLI's healing the second run's first step waits for ever for the pool
    slot the dead run still holds (and the run shows "in progress" in the UI)."""
    settings = make_settings(copy_landing(tmp_path / "landing"))
    home = tmp_path / "home"
    env = funnel_env(home, settings, FUNNEL_STEP_RETRIES="0")
    paused = funnel_env(home, settings, FUNNEL_STEP_RETRIES="0", FUNNEL_TEST_PAUSE_AT="ingest")
    marker = Path(f"{settings.duckdb_path}.paused-ingest")
    log = tmp_path / "killed.log"
    first = start(["funnel", "run"], paused, log)
    try:
        wait_for(marker.exists, 180, "the run to pause mid-ingest", first, log)
        stop(first, signal.SIGKILL)
    finally:
        stop(first, signal.SIGKILL)
    instance = dg.DagsterInstance.from_config(str(home))
    [dead] = instance.get_runs()
    assert dead.status == dg.DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_run_ids() == {dead.run_id}

    try:
        done = subprocess.run([str(FUNNEL), "run"], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=600, check=False, preexec_fn=restore_signals)
    except subprocess.TimeoutExpired as exc:  # say where it stood, not only that it timed out
        pytest.fail(f"the healing run did not end in {exc.timeout:g} s; it printed:\n"
                    f"{str(exc.stdout or '')[-3000:]}\n{str(exc.stderr or '')[-3000:]}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"Run {dead.run_id[:8]} had lost its process (killed earlier): marked failed." \
        in done.stdout
    assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_run_ids() == set()
    instance.dispose()
    single = make_settings(settings.landing_dir, name="single")
    assert run_job(single, dg.DagsterInstance.ephemeral(), job="nightly").success
    assert snapshot(settings) == snapshot(single)
