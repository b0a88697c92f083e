"""The benchmark script end to end at smoke size (~50,000 events): it runs, writes its JSON
and markdown, and the floor's stage_pass_rates equals the pipeline's (1e-9), after the full
and after the incremental run. No timing is asserted: benchmarks never gate the suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmark_smoke_run_writes_results_and_floor_equals_pipeline(tmp_path: Path):
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run_benchmark.py"), "--smoke",
         "--data-dir", str(tmp_path / "data"), "--results-dir", str(results)],
        check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    files = list(results.glob("*_parquet_17500.json"))
    assert len(files) == 1
    result = json.loads(files[0].read_text())
    assert (results / "latest_smoke.md").is_file()

    assert 40_000 <= result["events"] <= 60_000
    for phase in ("floor", "full", "incremental"):
        assert result[phase]["seconds"] > 0
        assert result[phase]["peak_rss_bytes"] > 0
    for phase in ("full", "incremental"):
        shares = result[phase]["share_by_category"]
        assert {"ingest", "core", "marts"} <= set(shares)
        assert result[phase]["steps"]
    assert set(result["ratios"]) == {"full_over_floor", "incremental_over_full"}
    assert result["ratios"]["full_over_floor"] > 0 and result["ratios"]["incremental_over_full"] > 0
    assert result["nightly_file"]["events"] == 1_000

    assert result["equal_full"]["equal"], result["equal_full"]["mismatches"]
    assert result["equal_full"]["rows_floor"] == result["equal_full"]["rows_pipeline"] > 0
    assert result["equal_incremental"]["equal"], result["equal_incremental"]["mismatches"]
