"""The contract's dirty example, through the real Dagster job, equals the expected table."""

from __future__ import annotations

from conftest import FIXTURES, materialize_all, read_table
from table_compare import assert_tables_match, load_expected_csv

SECTION_5_COLUMNS = [
    "characteristic", "group_name", "stage", "stage_order", "entered", "passed", "failed",
    "withdrawn", "pending", "pass_rate", "pass_rate_ci_low", "pass_rate_ci_high",
    "cumulative_pass_rate", "reference_group", "adverse_impact_ratio", "fisher_p_value", "flagged",
]


def test_dirty_landing_stage_pass_rates_match_expected(dagster_home, make_settings):
    settings = make_settings(FIXTURES / "dirty-landing")
    result = materialize_all(settings)
    assert result.success
    actual = read_table(settings, "marts.stage_pass_rates")
    expected = load_expected_csv(FIXTURES / "dirty-landing.expected_stage_pass_rates.csv")
    assert list(actual[0]) == SECTION_5_COLUMNS
    assert_tables_match(actual, expected, keys=["characteristic", "group_name", "stage"])


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
