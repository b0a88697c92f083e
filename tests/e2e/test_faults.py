"""Faults (docs/FAULTS.md): the database read-only, the disk full, the landing folder
missing or unreadable. Each gives a clear error naming the cause, loses nothing (the
marts published before stay intact and readable) and the next healthy run recovers
(completes and matches the oracle).

Root ignores file permissions, so the permission faults run the pipeline in a child
process whose capability bounding set lacks CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH
(`setpriv`): still uid 0, but permissions apply. Disk-full faults mount a small tmpfs
(root only); without `mount` or `setpriv` those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import oracle
import pytest
from conftest import APPLICANT_HEADER, EVENT_HEADER, REPO_ROOT, read_table, write_csv
from table_compare import assert_tables_match

from funnel_pipeline import pipeline
from funnel_pipeline.settings import Settings

KEYS = ["characteristic", "group_name", "stage"]
SETPRIV = shutil.which("setpriv")
DROP_DAC = [SETPRIV, "--bounding-set=-dac_override,-dac_read_search"] if SETPRIV else []


def _events(path: Path, prefix: str, n: int) -> None:
    write_csv(path, EVENT_HEADER, [
        [f"{prefix}{i}", f"{prefix}A{i % 40}", "C1", ["application", "sift"][i % 2],
         ["passed", "failed"][i % 3 == 0], f"2023-01-{1 + i % 28:02d}"] for i in range(n)])


# A second delivery that cannot fit beside the first on a 24 MB disk: 300,000 events made a
# 21 MB warehouse once stages were stored long (measured 2026-12-02), so take three times that.
EVENTS_THAT_DO_NOT_FIT = 900_000


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing / "applicants_1.csv", APPLICANT_HEADER, [
        [f"AA{i}", ["Female", "Male"][i % 2], "White", "No", "Straight"] for i in range(40)])
    _events(landing / "events_1.csv", "A", 80)
    return landing


def _marts(settings: Settings) -> list[dict]:
    return read_table(settings, "marts.stage_pass_rates", order_by="characteristic, group_name, stage_order")


def _matches_oracle(settings: Settings) -> None:
    assert_tables_match(_marts(settings), oracle.compute_all(settings.landing_dir)["stage_pass_rates"], keys=KEYS)


def _child(settings: Settings, *, drop_dac: bool = False, extra_env: dict | None = None
           ) -> subprocess.CompletedProcess:
    """`pipeline.run_all` in a child process (optionally without root's permission bypass)."""
    if drop_dac and not SETPRIV:
        pytest.skip("setpriv not available: cannot drop CAP_DAC_OVERRIDE to test permissions as root")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT),
           "FUNNEL_LANDING_DIR": str(settings.landing_dir),
           "FUNNEL_DUCKDB_PATH": str(settings.duckdb_path),
           "FUNNEL_REPORTS_DIR": str(settings.reports_dir),
           "FUNNEL_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
           **(extra_env or {})}
    code = ("from funnel_pipeline import pipeline\nfrom funnel_pipeline.settings import Settings\n"
            "pipeline.run_all(Settings.from_env())\n")
    return subprocess.run([*(DROP_DAC if drop_dac else []), sys.executable, "-c", code], check=False,
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)


def _last_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()
             and not line.startswith((" ", "nanobind", "Traceback"))]
    return lines[-1] if lines else ""


@pytest.fixture
def healthy(tmp_path: Path, make_settings):
    """A published warehouse (first healthy run) and the marts it published."""
    settings = make_settings(_landing(tmp_path))
    pipeline.run_all(settings)
    before = _marts(settings)
    assert before
    return settings, before


@pytest.mark.parametrize("what", ["file", "directory"])
def test_read_only_database(healthy, what):
    settings, before = healthy
    _events(settings.landing_dir / "events_2.csv", "B", 30)
    target = settings.duckdb_path if what == "file" else settings.duckdb_path.parent
    mode = target.stat().st_mode
    target.chmod(0o444 if what == "file" else 0o555)
    try:
        result = _child(settings, drop_dac=True)
    finally:
        target.chmod(mode)
    assert result.returncode != 0
    error = _last_error(result)
    print("observed:", error)
    assert "Permission denied" in error and str(settings.duckdb_path) in error, result.stderr[-2000:]
    assert _marts(settings) == before  # intact and readable
    pipeline.run_all(settings)  # the next healthy run recovers
    assert {f["file_name"]: f["status"] for f in read_table(settings, "raw.landing_files")} == {
        "applicants_1.csv": "loaded", "events_1.csv": "loaded", "events_2.csv": "loaded"}
    _matches_oracle(settings)


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    mounted: list[Path] = []

    def mount(name: str, size: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs to simulate a full disk: {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def _grow(point: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(point)], check=True)


def test_database_disk_full(tmp_path: Path, small_tmpfs):
    disk = small_tmpfs("db", "24M")
    settings = Settings(landing_dir=_landing(tmp_path), duckdb_path=disk / "funnel.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="1GB")
    pipeline.run_all(settings)
    before = _marts(settings)
    _events(settings.landing_dir / "events_2.csv", "B", EVENTS_THAT_DO_NOT_FIT)
    with pytest.raises(Exception) as caught:
        pipeline.run_all(settings)
    print("observed:", caught.value)
    assert "No space left on device" in str(caught.value)
    # The disk may fill while the file is loaded (the message then names it and says the next
    # run retries) or later while the tables are built from it; either way the cause is named.
    if "next run retries" in str(caught.value):
        assert "events_2.csv" in str(caught.value)
        assert "events_2.csv" not in {f["file_name"] for f in read_table(settings, "raw.landing_files")}
    assert _marts(settings) == before
    _grow(disk, "256M")
    pipeline.run_all(settings)
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    assert files["events_2.csv"]["status"] == "loaded" and files["events_2.csv"]["rows_delivered"] == EVENTS_THAT_DO_NOT_FIT
    _matches_oracle(settings)


def test_temp_directory_full(tmp_path: Path, small_tmpfs):
    """DuckDB spills to FUNNEL_DUCKDB_TEMP_DIR when a step exceeds the memory limit."""
    spill = small_tmpfs("spill", "1M")
    landing = _landing(tmp_path)
    _events(landing / "events_2.csv", "B", 400_000)
    settings = Settings(landing_dir=landing, duckdb_path=tmp_path / "funnel.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="40MB",
                        duckdb_temp_dir=str(spill))
    (landing / "events_2.csv").rename(tmp_path / "events_2.csv")
    pipeline.run_all(settings)  # small first delivery fits in memory
    before = _marts(settings)
    (tmp_path / "events_2.csv").rename(landing / "events_2.csv")
    with pytest.raises(Exception) as caught:
        pipeline.run_all(settings)
    message = str(caught.value)
    print("observed:", type(caught.value).__name__, message)
    assert "No space left on device" in message or "Out of Memory" in message or "out of memory" in message, message
    assert _marts(settings) == before
    _grow(spill, "512M")
    pipeline.run_all(settings)
    _matches_oracle(settings)


def test_landing_folder_missing(healthy):
    settings, before = healthy
    moved = settings.landing_dir.with_name("landing_away")
    settings.landing_dir.rename(moved)
    try:
        with pytest.raises(FileNotFoundError) as caught:
            pipeline.run_all(settings)
        print("observed:", caught.value)
        assert str(settings.landing_dir) in str(caught.value)
        assert "FUNNEL_LANDING_DIR" in str(caught.value)
        assert _marts(settings) == before
    finally:
        moved.rename(settings.landing_dir)
    _events(settings.landing_dir / "events_2.csv", "B", 30)
    pipeline.run_all(settings)
    _matches_oracle(settings)


def test_landing_folder_unreadable(healthy):
    settings, before = healthy
    _events(settings.landing_dir / "events_2.csv", "B", 30)
    settings.landing_dir.chmod(0o000)
    try:
        result = _child(settings, drop_dac=True)
    finally:
        settings.landing_dir.chmod(0o755)
    assert result.returncode != 0
    error = _last_error(result)
    print("observed:", error)
    assert error.startswith("PermissionError: landing folder") and "cannot be read" in error, result.stderr[-2000:]
    assert _marts(settings) == before
    pipeline.run_all(settings)
    _matches_oracle(settings)


def test_one_landing_file_unreadable_is_retried(healthy):
    settings, _before = healthy
    _events(settings.landing_dir / "events_2.csv", "B", 30)
    (settings.landing_dir / "events_2.csv").chmod(0o000)
    try:
        result = _child(settings, drop_dac=True)
    finally:
        (settings.landing_dir / "events_2.csv").chmod(0o644)
    assert result.returncode == 0, result.stderr[-2000:]
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    assert files["events_2.csv"]["status"] == "failed"
    assert files["events_2.csv"]["reason"] == "unreadable: Permission denied"
    pipeline.run_all(settings)  # readable again: loaded this time
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    assert files["events_2.csv"]["status"] == "loaded"
    _matches_oracle(settings)


# --- causes in words (issue 20, item 5): the CLI's last line names the cause -------------


def _funnel_run(settings: Settings, home: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "FUNNEL_LANDING_DIR": str(settings.landing_dir),
           "FUNNEL_DUCKDB_PATH": str(settings.duckdb_path),
           "FUNNEL_REPORTS_DIR": str(settings.reports_dir),
           "FUNNEL_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
           "FUNNEL_STEP_RETRIES": "0", **extra}
    return subprocess.run([sys.executable, "-m", "funnel_pipeline.cli", "run"], env=env,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)


def _last_line(result: subprocess.CompletedProcess) -> str:
    return [line for line in result.stderr.splitlines() if line.strip()][-1]


@pytest.mark.slow
def test_a_locked_database_is_named_with_the_holding_process(healthy, dagster_home):
    settings, before = healthy
    holder = subprocess.Popen(
        [sys.executable, "-c", ("import duckdb, sys, time\n"
         f"con = duckdb.connect({str(settings.duckdb_path)!r})\nprint('open', flush=True)\n"
         "time.sleep(120)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        result = _funnel_run(settings, dagster_home, FUNNEL_DUCKDB_LOCK_WAIT_SECONDS="1")
    finally:
        holder.kill()
        holder.wait()
    last = _last_line(result)
    print("observed:", last)
    assert result.returncode == 1
    assert last.startswith("nightly job FAILED")
    assert f"funnel.duckdb is open in another process (PID {holder.pid})" in last
    assert "close it" in last and "rerun" in last
    assert _marts(settings) == before


@pytest.mark.slow
def test_a_full_disk_is_named_on_the_last_line(tmp_path: Path, small_tmpfs, dagster_home):
    disk = small_tmpfs("db", "24M")
    settings = Settings(landing_dir=_landing(tmp_path), duckdb_path=disk / "funnel.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="1GB")
    pipeline.run_all(settings)
    before = _marts(settings)
    _events(settings.landing_dir / "events_2.csv", "B", EVENTS_THAT_DO_NOT_FIT)
    result = _funnel_run(settings, dagster_home)
    last = _last_line(result)
    print("observed:", last)
    assert result.returncode == 1
    assert "No space left on device" in last and "free some space and rerun" in last
    assert _marts(settings) == before


def test_documented_retry_delays_are_the_code_s():
    """docs/OPERATIONS.md states the delays Dagster will really wait between attempts."""
    from dagster._core.definitions.policy import calculate_delay

    from funnel_pipeline.operations.jobs import retry_policy

    policy = retry_policy(Settings())
    delays = [calculate_delay(n, policy.backoff, policy.jitter, policy.delay)
              for n in range(1, policy.max_retries + 1)]
    words = " then ".join(f"{d:g} s" for d in delays)
    assert delays == [30, 90]
    docs = (REPO_ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    assert f"{policy.max_retries} retries, {words}" in docs
    assert "30 s then 60 s" not in docs and "30 s and 60 s" not in docs
