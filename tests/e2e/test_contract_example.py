"""The contract's examples, through the real Dagster job, equal the expected tables:
every table, every column, at 1e-9 (drop-out points in the contract's order), under the
built-in funnel and under the example force's own (the acceptance checks' shape)."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import FIXTURES, materialize_all, read_table
from table_compare import assert_same_order, assert_tables_match, load_expected_csv
from test_oracle import as_v11
from test_oracle_v12 import TABLE_KEYS


def test_dirty_landing_stage_pass_rates_match_expected(dagster_home, make_settings):
    settings = make_settings(FIXTURES / "dirty-landing")
    result = materialize_all(settings)
    assert result.success
    actual = read_table(settings, "marts.stage_pass_rates")
    expected = load_expected_csv(FIXTURES / "dirty-landing.expected_stage_pass_rates.csv")
    assert set(actual[0]) == {*expected[0], "air_ci_low", "air_ci_high"}  # v1.0 + section 10
    assert_tables_match(as_v11(actual, expected), expected,
                        keys=["characteristic", "group_name", "stage"])


@pytest.mark.slow
@pytest.mark.parametrize(("landing", "config", "expected_dir"), [
    ("optional-landing", None, "optional-landing.v12.expected"),
    ("force-landing", "funnel.custom.toml", "force-landing.expected"),
])
def test_every_table_of_the_examples_through_dagster(dagster_home, make_settings, landing,
                                                     config, expected_dir):
    settings = make_settings(FIXTURES / landing)
    if config:
        settings = dataclasses.replace(settings, config_path=str(FIXTURES / config))
    assert materialize_all(settings).success
    for path in sorted((FIXTURES / expected_dir).glob("*.csv")):
        expected = load_expected_csv(path)
        actual = read_table(settings, f"marts.{path.stem}")
        assert_tables_match(actual, expected, TABLE_KEYS[path.stem])
        if path.stem == "drop_out_points":
            assert_same_order(actual, expected, TABLE_KEYS[path.stem])


def test_dirty_landing_manifest_and_rejections(dagster_home, make_settings):
    settings = make_settings(FIXTURES / "dirty-landing")
    assert materialize_all(settings).success
    files = {r["file_name"]: r for r in read_table(settings, "raw.landing_files")}
    assert files["events_garbage.csv"]["status"] == "failed"
    assert "missing required column" in files["events_garbage.csv"]["reason"]
    assert files["events_2021_a_resend.csv"]["status"] == "duplicate"
    assert files["events_2021_a_resend.csv"]["duplicate_of"] == "events_2021_a.csv"
    assert files["events_2023_c.parquet"]["status"] == "loaded"
    # every delivered event row is either accepted (counted once per event_id) or rejected
    rejected = read_table(settings, "quality.rejected_rows")
    delivered = sum(f["rows_delivered"] for f in files.values() if f["kind"] == "events")
    raw_rows = read_table(settings, "raw.event_rows")
    assert len(raw_rows) == delivered
    reasons = {r["reason"] for r in rejected}
    assert "conflicting duplicate event_id" in reasons
    assert all(r["row_data"].startswith("{") for r in rejected)
