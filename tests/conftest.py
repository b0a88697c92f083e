"""Shared fixtures: real DuckDB files and real Dagster instances in temporary folders."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import dagster as dg
import duckdb
import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from funnel_pipeline.settings import Settings

#: where the tests' temporary folders go when the machine has it: RAM, not disk
RAM_TEMP = Path("/dev/shm")
#: ... and has this much of it free (the suite's folders hold well under 1 GB at a time)
RAM_TEMP_MIN_FREE = 4 << 30


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders (tmp_path, and TMPDIR for every process a test starts) in RAM.

    Why: Dagster's SQLite storage commits each event with an fsync, and a run of the
    pipeline on a 300-row fixture writes ~600 events and ~160 check evaluations: measured
    on this project's 2-core machine, one run took 52.8 s with DAGSTER_HOME on disk and
    28.5 s on tmpfs, the same as an in-memory instance. The suite runs the pipeline about
    sixty times. What is tested is unchanged (real SQLite files, real DuckDB files); only
    their durability against a power cut is not, which no test relies on. A TMPDIR set
    by the caller wins; without a usable /dev/shm the system default stays.
    """
    if os.environ.get("TMPDIR") or not RAM_TEMP.is_dir() or not os.access(RAM_TEMP, os.W_OK):
        return
    stats = os.statvfs(RAM_TEMP)
    if stats.f_bavail * stats.f_frsize < RAM_TEMP_MIN_FREE:
        return
    os.environ["TMPDIR"] = str(RAM_TEMP)  # xdist workers and test subprocesses inherit it
    tempfile.tempdir = None  # forget a default computed before this hook


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `starts_first(minutes=N)` first, the longest first; the rest as collected.

    Why: with `--dist loadfile` a file runs whole on one worker, and a file of ten minutes
    scheduled late keeps the suite waiting for it alone at the end (the last CI: 10 of its
    27 minutes). xdist's own reordering (`--no-loadscope-reorder` turns it off, in
    pyproject.toml) puts files with many tests first, which is not the same as long ones.
    """
    def minutes(item: pytest.Item) -> float:
        mark = item.get_closest_marker("starts_first")
        return float(mark.kwargs.get("minutes", 1)) if mark else 0.0

    items.sort(key=lambda item: -minutes(item))  # stable: a file's tests stay together


@pytest.fixture(autouse=True)
def landing_files_settle_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files a test writes count as settled at once (a run would otherwise wait
    FUNNEL_LANDING_SETTLE_SECONDS for them). Tests of the wait itself set their own
    value; tests/e2e/test_cli_materialize.py runs with the real default."""
    monkeypatch.setenv("FUNNEL_LANDING_SETTLE_SECONDS", "0")


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DAGSTER_HOME holding a copy of the repo's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def _make(landing_dir: Path, name: str = "funnel") -> Settings:
        return Settings(
            landing_dir=landing_dir,
            duckdb_path=tmp_path / f"{name}.duckdb",
            reports_dir=tmp_path / f"{name}_reports",
            duckdb_memory_limit="1GB",
        )

    return _make


def ingest(settings: Settings):
    """The first two steps of a run: the funnel configuration applied (schema and
    config.* tables), then the landing folder loaded into raw. Returns the IngestSummary."""
    from funnel_pipeline import core, raw

    core.apply_configuration(settings)
    return raw.ingest(settings)


def materialize_all(settings: Settings, instance: dg.DagsterInstance | None = None, *,
                    only: Sequence[str] | None = None,
                    charts: bool = True) -> dg.ExecuteInProcessResult:
    """Every asset of the real Definitions, through a real Dagster instance.

    For tests that look at part of a run, to spare CPU the suite is short of (it runs the
    pipeline ~60 times on 2 cores): `only` runs just these asset keys ("marts/x"; their
    upstream tables must already be in the file), `charts=False` every asset but the
    charts group (~10 s of a ~25 s run on a fixture). The chart tests and the acceptance
    command (`dagster asset materialize --select '*'`) still run everything.
    """
    from funnel_pipeline import definitions
    from funnel_pipeline.resources import FunnelWarehouse

    defs = definitions.defs
    job = defs.resolve_job_def("nightly")
    if only is not None or not charts:  # a subset job first: the resource override applies to it
        job = job.get_subset(asset_selection=(
            {dg.AssetKey.from_user_string(key) for key in only} if only is not None
            else {spec.key for spec in defs.resolve_all_asset_specs() if spec.group_name != "charts"}))
    result = job.execute_in_process(
        instance=instance or dg.DagsterInstance.get(),
        resources={"warehouse": FunnelWarehouse.from_settings(settings)},
        raise_on_error=False,
    )
    return result


def read_table(settings: Settings, table: str, order_by: str | None = None) -> list[dict]:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        sql = f"SELECT * FROM {table}" + (f" ORDER BY {order_by}" if order_by else "")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        con.close()


def default_config_with(folder: Path, **publication: object) -> str:
    """A copy of the built-in funnel with [publication] keys set (e.g. threshold=10), as
    a force would write it; returns its path for Settings.config_path."""
    from importlib import resources

    text = resources.files("funnel_pipeline").joinpath("default_funnel.toml").read_text("utf-8")
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in publication.items())
    path = folder / "funnel.toml"
    path.write_text(text.replace("[publication]\n", "[publication]\n" + extra), "utf-8")
    return str(path)


def with_groups(settings: Settings, table: str) -> list[dict]:
    """Rows of core.applicants / core.applications with their `groups` list spelled out as
    one key per configured characteristic (positions from config.characteristics), and
    for applications `outcome_<stage>` keys: how a test reads a person or application."""
    rows = read_table(settings, table)
    positions = read_table(settings, "config.characteristics", order_by="position")
    stages = read_table(settings, "config.stages", order_by="stage_order")
    for row in rows:
        for c in positions:
            row[c["characteristic"]] = row["groups"][c["position"] - 1]
        for s in stages if "outcomes" in row else ():
            row[f"outcome_{s['stage']}"] = row["outcomes"][s["stage_order"] - 1]
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[object]], *, bom: bool = False,
              crlf: bool = False) -> Path:
    """A landing CSV written by hand (RFC 4180 quoting) for rule-by-rule tests."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


EVENT_HEADER = ["event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"]
APPLICANT_HEADER = ["applicant_id", "sex", "ethnicity", "disability", "sexual_orientation"]
#: applicants rows whose every characteristic is unrecognised (counted as Not stated):
#: enough of them trips the unrecognised-values warning check
UNRECOGNISED_PEOPLE = [[f"UNREC{i:03d}", "Martian", "Klingon", "Perhaps", "Sapiosexual"]
                       for i in range(20)]


# --- hypothesis profiles (tests/e2e/test_hostile_properties.py) ------------------------------
# CI runs the bounded default; nightly: HYPOTHESIS_PROFILE=nightly pytest tests/e2e/test_hostile_properties.py
from hypothesis import HealthCheck
from hypothesis import settings as _hypothesis_settings

_hypothesis_settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_hypothesis_settings.register_profile(
    "nightly", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
