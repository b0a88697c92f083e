"""The acceptance command itself: `dagster asset materialize … --select '*'` in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import FIXTURES, REPO_ROOT
from table_compare import assert_tables_match, load_expected_csv
from test_oracle import as_v11


@pytest.mark.slow
def test_dagster_cli_materialize_builds_the_contract_table(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "dirty-landing", landing)
    for path in landing.iterdir():  # "just delivered": the run waits for them to settle
        os.utime(path)
    db = tmp_path / "out" / "funnel.duckdb"
    env = {**os.environ, "DAGSTER_HOME": str(home), "FUNNEL_LANDING_DIR": str(landing),
           "FUNNEL_DUCKDB_PATH": str(db), "FUNNEL_REPORTS_DIR": str(tmp_path / "reports")}
    env.pop("FUNNEL_LANDING_SETTLE_SECONDS")  # the real default, as the acceptance runs it
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "funnel_pipeline.definitions", "--select", "*"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RUN_SUCCESS" in proc.stderr + proc.stdout
    con = duckdb.connect(str(db), read_only=True)
    cur = con.execute("SELECT * FROM marts.stage_pass_rates")
    names = [d[0] for d in cur.description]
    actual = [dict(zip(names, r)) for r in cur.fetchall()]
    con.close()
    expected = load_expected_csv(FIXTURES / "dirty-landing.expected_stage_pass_rates.csv")
    assert set(actual[0]) == {*expected[0], "air_ci_low", "air_ci_high"}  # v1.0 + section 10
    assert_tables_match(as_v11(actual, expected), expected,
                        keys=["characteristic", "group_name", "stage"])
    # the landing folder is never modified
    assert sorted(p.name for p in landing.iterdir()) == sorted(p.name for p in (FIXTURES / "dirty-landing").iterdir())
