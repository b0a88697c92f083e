"""Sections 6 and 7 through the real Dagster job: every contract table, the optional core
tables, the summary and the publication files are materialised (the SQL tier,
tests/sql/test_further_marts.py, checks their contents without Dagster)."""

from __future__ import annotations

from pathlib import Path

from conftest import FIXTURES, materialize_all, read_table
from table_compare import assert_same_order, load_expected_csv
from test_oracle_v12 import TABLE_KEYS

OPTIONAL_EXPECTED = FIXTURES / "optional-landing.v12.expected"


def test_dagster_job_materialises_sections_6_and_7(dagster_home, make_settings):
    settings = make_settings(FIXTURES / "optional-landing")
    result = materialize_all(settings)
    assert result.success
    materialised = {}
    for event in result.get_asset_materialization_events():
        m = event.event_specific_data.materialization
        materialised[tuple(m.asset_key.path)] = m.metadata
    for table in TABLE_KEYS:
        assert ("marts", table) in materialised
    for table in ("campaigns", "population", "interventions"):
        assert ("core", table) in materialised
    assert "summary" in materialised[("marts", "drop_out_points")]
    files = materialised[("publish", "annual_publication")]
    assert Path(files["xlsx"].value).is_file() and Path(files["csv"].value).is_file()
    expected = load_expected_csv(OPTIONAL_EXPECTED / "drop_out_points.csv")
    assert_same_order(read_table(settings, "marts.drop_out_points"), expected,
                      TABLE_KEYS["drop_out_points"])
