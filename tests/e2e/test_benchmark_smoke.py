"""The benchmark script end to end at smoke size (~50,000 events): it runs, writes its JSON
and markdown, and the floor's stage_pass_rates equals the pipeline's (1e-9), after the full
and after the incremental run. No timing is asserted: benchmarks never gate the suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.starts_first(minutes=3)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "incremental"), [("parquet", True), ("csv", False)])
def test_benchmark_smoke_run_writes_results_and_floor_equals_pipeline(
        tmp_path: Path, fmt: str, incremental: bool):
    """The CSV variant (`make benchmark-csv`) skips the incremental run: that run reads one
    new file through the same code whatever its format, and the Parquet variant covers it;
    the CSV generator, the floor's and the pipeline's CSV reading are what differ."""
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run_benchmark.py"), "--smoke",
         "--format", fmt, "--data-dir", str(tmp_path / "data"), "--results-dir", str(results),
         *([] if incremental else ["--skip-incremental"])],
        check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    files = list(results.glob(f"*_{fmt}_17500.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    assert (results / "latest_smoke.md").is_file()

    assert 40_000 <= result["events"] <= 60_000
    phases = ("full", "incremental") if incremental else ("full",)
    for phase in ("floor", *phases):
        assert result[phase]["seconds"] > 0
        assert result[phase]["peak_rss_bytes"] > 0
    for phase in phases:
        shares = result[phase]["share_by_category"]
        assert {"ingest", "core", "marts"} <= set(shares)
        assert result[phase]["steps"]
    assert set(result["ratios"]) == {"full_over_floor", "incremental_over_full"}
    assert result["ratios"]["full_over_floor"] > 0
    assert result["equal_full"]["equal"], result["equal_full"]["mismatches"]
    assert result["equal_full"]["rows_floor"] == result["equal_full"]["rows_pipeline"] > 0
    if incremental:
        assert result["ratios"]["incremental_over_full"] > 0
        assert result["nightly_file"]["events"] == 1_000
        assert result["equal_incremental"]["equal"], result["equal_incremental"]["mismatches"]
    else:
        assert result["incremental"] is None and result["nightly_file"] is None


def test_profile_sql_times_the_statements_of_a_full_build(tmp_path: Path):
    """benchmarks/profile_sql.py runs the pipeline's SQL on a landing folder and names the
    SQL files and statements it timed (and builds the same marts as the pipeline)."""
    import duckdb

    landing = REPO_ROOT / "tests" / "fixtures" / "dirty-landing"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "profile_sql.py"),
         "--landing", str(landing), "--work", str(tmp_path / "work"), "--memory-limit", "1GB"],
        check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "full build without Dagster, checks or charts" in out
    for sql_file in ("core/events.sql", "core/stage_outcomes.sql", "marts/stage_pass_rates.sql"):
        assert sql_file in out
    assert "slowest statements:" in out
    con = duckdb.connect(str(tmp_path / "work" / "funnel.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from marts.stage_pass_rates").fetchone()[0] == 120
    finally:
        con.close()
