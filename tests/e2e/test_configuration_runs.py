"""Issue 15 through whole runs: a force's configuration file drives ages, a changed file
recomputes everything, a bad file changes nothing, and every run records which file.

Real DuckDB files, the real pipeline (`pipeline.run_all`, the steps the assets call), the
real Dagster CLI for the acceptance command, the auditor report on disk.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import EVENT_HEADER, FIXTURES, REPO_ROOT, materialize_all, with_groups, write_csv
from test_oracle_v12 import AGE_CASES

from funnel_pipeline import pipeline
from funnel_pipeline.funnel_config import load_config
from funnel_pipeline.settings import Settings

CUSTOM = FIXTURES / "funnel.custom.toml"
FORCE = FIXTURES / "force-landing"


def _settings(tmp: Path, landing: Path, config: Path | str | None, name: str = "funnel"
              ) -> Settings:
    return Settings(landing_dir=landing, duckdb_path=tmp / f"{name}.duckdb",
                    reports_dir=tmp / f"{name}_reports", config_path=str(config or ""),
                    duckdb_memory_limit="1GB")


#: columns saying when a row was written, not what it says
_WHEN = {"rejected_at", "applied_at", "validated_at", "discovered_at", "processed_at",
         "used_at"}


def _contents(path: Path, schemas: tuple[str, ...] = ("core", "marts", "config", "quality")
              ) -> dict[str, str]:
    """Every table of these schemas → a digest of its sorted rows (what a reader sees)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN "
            f"({', '.join('?' for _ in schemas)}) ORDER BY ALL", list(schemas)).fetchall()
        out = {}
        for schema, table in tables:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND "
                "table_name = ? ORDER BY column_index", [schema, table]).fetchall()
                if c not in _WHEN]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f'SELECT {listed} FROM "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = hashlib.sha256(
                repr(sorted(map(repr, rows))).encode()).hexdigest()
        return out
    finally:
        con.close()


# --- ages: a property of each application, from the configured date-of-birth column ----


def test_age_bands_through_the_pipeline(tmp_path: Path) -> None:
    """Each case of the oracle's age table, as an applicant applying on that date."""
    landing = tmp_path / "landing"
    landing.mkdir()
    people = [[f"P{i:02d}", born] for i, (born, *_) in enumerate(AGE_CASES)]
    write_csv(landing / "applicants_01.csv", ["applicant_id", "Date_Of_Birth "], people)
    events = [[f"E{i:02d}", f"P{i:02d}", "C1", "application", "passed",
               f"{applied.isoformat()}T09:00:00Z"] for i, (_, applied, *_) in enumerate(AGE_CASES)]
    write_csv(landing / "events_01.csv", EVENT_HEADER, events)
    settings = _settings(tmp_path, landing, CUSTOM)
    pipeline.run_all(settings)
    applications = {r["applicant_id"]: r for r in with_groups(settings, "core.applications")}
    for i, (born, applied, group, recognised) in enumerate(AGE_CASES):
        row = applications[f"P{i:02d}"]
        assert row["age_band"] == group, (born, applied)
        assert ("age_band" not in (row["unrecognised"] or [])) == recognised, (born, applied)
    # dates of birth stay in the database: no table outside core/raw holds one
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        for schema in ("marts", "quality", "config"):
            for (table,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                        "WHERE schema_name = ?", [schema]).fetchall():
                text = repr(con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall())
                assert "2000-06-15" not in text and "1991-03-02" not in text, table
    finally:
        con.close()


def test_age_is_taken_at_each_application(tmp_path: Path) -> None:
    """The same person in two campaigns a year apart is in two bands (25th birthday)."""
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing / "applicants_01.csv", ["applicant_id", "date_of_birth"],
              [["P1", "2000-05-01"]])
    write_csv(landing / "events_01.csv", EVENT_HEADER, [
        ["E1", "P1", "C2024", "application", "passed", "2025-04-30T23:59:59Z"],
        ["E2", "P1", "C2025", "application", "passed", "2025-05-01T00:00:00Z"]])
    settings = _settings(tmp_path, landing, CUSTOM)
    pipeline.run_all(settings)
    bands = {r["campaign_id"]: r["age_band"] for r in with_groups(settings, "core.applications")}
    assert bands == {"C2024": "Under 25", "C2025": "25 to 34"}


# --- a changed configuration recomputes everything ----------------------------------------


def test_a_changed_configuration_equals_a_fresh_run(tmp_path: Path) -> None:
    """Run 1 with the built-in funnel (force-landing's interview and fitness events are
    rejected, religion is an extra column); run 2 with the force's file on the same
    database: every table equals a fresh run with that file, rows the old vocabulary
    rejected now count, and the run is recorded as recomputed."""
    changed = _settings(tmp_path, FORCE, None, "changed")
    pipeline.run_all(changed)
    before = _contents(changed.duckdb_path)
    changed = _settings(tmp_path, FORCE, CUSTOM, "changed")
    pipeline.run_all(changed)
    fresh = _settings(tmp_path, FORCE, CUSTOM, "fresh")
    pipeline.run_all(fresh)
    after, expected = _contents(changed.duckdb_path), _contents(fresh.duckdb_path)
    # which run applied what; the Fisher p-value cache (keyed by 2x2 counts, which mean
    # the same under any funnel) keeps the old run's entries too
    volatile = {"config.applied", "quality.validation_results", "core.fisher_p_values"}
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in expected.items() if k not in volatile}
    assert after["marts.stage_pass_rates"] != before["marts.stage_pass_rates"]
    con = duckdb.connect(str(changed.duckdb_path), read_only=True)
    try:
        applied = con.execute("SELECT name, sha256, recomputed FROM config.applied "
                              "ORDER BY applied_at").fetchall()
        stages = [r[0] for r in con.execute(
            "SELECT DISTINCT stage FROM marts.stage_pass_rates ORDER BY ALL").fetchall()]
        rejected_stage = con.execute(
            "SELECT count(*) FROM quality.rejected_rows WHERE reason LIKE '%stage%'").fetchone()[0]
    finally:
        con.close()
    assert [r[2] for r in applied] == [False, True]
    assert applied[1][1] == load_config(str(CUSTOM)).sha256 != applied[0][1]
    assert {"interview", "fitness"} <= set(stages)
    assert rejected_stage == _rejected_stage_count(fresh)


def _rejected_stage_count(settings: Settings) -> int:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM quality.rejected_rows "
                           "WHERE reason LIKE '%stage%'").fetchone()[0]
    finally:
        con.close()


def test_the_same_configuration_in_another_file_recomputes_nothing(tmp_path: Path) -> None:
    """Comments, key order and the file's name do not change what the tables mean."""
    settings = _settings(tmp_path, FORCE, CUSTOM)
    pipeline.run_all(settings)
    moved = tmp_path / "renamed.toml"
    moved.write_text("# the same funnel, reviewed again\n" + CUSTOM.read_text("utf-8"), "utf-8")
    pipeline.run_all(_settings(tmp_path, FORCE, moved))
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        assert [r[0] for r in con.execute(
            "SELECT recomputed FROM config.applied ORDER BY applied_at").fetchall()] == [False, False]
    finally:
        con.close()


# --- a bad configuration: the acceptance command stops before any table changes ----------


def _acceptance(tmp_path: Path, settings: Settings, config: Path) -> subprocess.CompletedProcess:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FUNNEL_LANDING_DIR": str(settings.landing_dir),
           "FUNNEL_DUCKDB_PATH": str(settings.duckdb_path),
           "FUNNEL_REPORTS_DIR": str(settings.reports_dir), "FUNNEL_CONFIG": str(config),
           "FUNNEL_LANDING_SETTLE_SECONDS": "0"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m",
         "funnel_pipeline.definitions", "--select", "*"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.slow
def test_a_bad_configuration_stops_the_acceptance_command(tmp_path: Path) -> None:
    settings = _settings(tmp_path, FORCE, CUSTOM)
    good = _acceptance(tmp_path, settings, CUSTOM)
    assert good.returncode == 0, good.stderr[-2000:]
    before = _contents(settings.duckdb_path)
    reports = sorted(p.relative_to(settings.reports_dir) for p in settings.reports_dir.rglob("*"))
    bad = tmp_path / "force_funnel.toml"
    bad.write_text(CUSTOM.read_text("utf-8").replace(
        'reference_group = "25 to 34"', 'reference_group = "Over 90"'), "utf-8")
    result = _acceptance(tmp_path, settings, bad)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert str(bad) in output or bad.name in output
    assert "characteristic[2] (age_band).reference_group" in output and "Over 90" in output
    assert _contents(settings.duckdb_path) == before
    assert sorted(p.relative_to(settings.reports_dir)
                  for p in settings.reports_dir.rglob("*")) == reports


# --- which configuration: asset metadata and the auditor report -----------------------------


def test_each_run_shows_its_configuration(tmp_path: Path, dagster_home: Path) -> None:
    import dagster as dg

    settings = _settings(tmp_path, FORCE, CUSTOM)
    with dg.DagsterInstance.get() as instance:
        result = materialize_all(settings, instance)
    assert result.success
    metadata = next(iter(result.asset_materializations_for_node("config__funnel"))).metadata
    sha = load_config(str(CUSTOM)).sha256
    assert metadata["sha256"].value == sha
    assert CUSTOM.name in metadata["configuration"].value.replace("\\", "")
    assert metadata["recomputed_everything"].value is False
    index = (settings.reports_dir / "quality" / "index.html").read_text(encoding="utf-8")
    page = (settings.reports_dir / "quality" / "runs" / f"{result.run_id}.html").read_text(
        encoding="utf-8")
    for text in (index, page):
        assert sha[:12] in text and CUSTOM.name in text
