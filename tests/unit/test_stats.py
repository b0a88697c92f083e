"""Statistics checked against scipy/statsmodels: the SQL Wilson interval and Fisher UDF."""

from __future__ import annotations

import duckdb
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportion_confint

from funnel_pipeline import marts, models, stats, warehouse

CASES = [(0, 1), (1, 1), (0, 7), (7, 7), (3, 10), (52, 127), (661, 719), (1, 2000), (999, 1000)]


@pytest.mark.parametrize(("passed", "decided"), CASES)
def test_wilson_sql_matches_statsmodels(passed: int, decided: int):
    con = _metrics_database()
    con.execute(
        "CREATE TABLE staging.group_stage_counts AS SELECT 'stage_pass_rates' AS source_table, "
        "NULL::VARCHAR AS campaign_id, NULL::VARCHAR AS entry_route, "
        "NULL::INTEGER AS application_year, 'all' AS characteristic, "
        "'All' AS group_name, NULL::VARCHAR AS reference_group, 'sift' AS stage, 2 AS stage_order, "
        "?::BIGINT AS applications, ?::BIGINT AS passed, ?::BIGINT AS failed, 0::BIGINT AS withdrawn, "
        "0::BIGINT AS pending, false AS comparable", [decided, passed, decided - passed])
    _build_metrics(con)
    low, high = con.execute(
        "SELECT pass_rate_ci_low, pass_rate_ci_high FROM staging.group_stage_metrics").fetchone()
    exp_low, exp_high = proportion_confint(passed, decided, alpha=0.05, method="wilson")
    assert low == pytest.approx(max(exp_low, 0.0), abs=1e-12)
    assert high == pytest.approx(min(exp_high, 1.0), abs=1e-12)


def _metrics_database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in models.ddl_statements():
        con.execute(statement)
    stats.register_functions(con)
    return con


def _build_metrics(con: duckdb.DuckDBPyConnection) -> None:
    warehouse.run_sql_file(con, "marts/group_stage_metrics.sql",
                           marts.parameters())


def test_fisher_p_values_are_looked_up_in_the_cache_and_unused_ones_pruned():
    """A table tested before is not tested again (its cached p is used as stored); after
    the build, cache entries no mart used are dropped and new tables are cached."""
    con = _metrics_database()
    con.execute(
        "CREATE TABLE staging.group_stage_counts AS SELECT * FROM (VALUES "
        "('stage_pass_rates', NULL, NULL, NULL, 'ethnicity', 'White', 'White', 'sift', 2, 100, 60, 40, 0, 0, true),"
        "('stage_pass_rates', NULL, NULL, NULL, 'ethnicity', 'Black', 'White', 'sift', 2, 50, 20, 30, 0, 0, true),"
        "('stage_pass_rates', NULL, NULL, NULL, 'ethnicity', 'Asian', 'White', 'sift', 2, 40, 25, 15, 0, 0, true)"
        ") AS t(source_table, campaign_id, entry_route, application_year, characteristic, group_name, "
        "reference_group, "
        "stage, stage_order, applications, passed, failed, withdrawn, pending, comparable)")
    # the Black row's table, with a marker p no real test gives; and an entry nobody uses
    con.execute("INSERT INTO core.fisher_p_values VALUES (20, 30, 60, 40, 0.123456, "
                "TIMESTAMPTZ '2020-01-01'), (1, 2, 3, 4, 0.5, TIMESTAMPTZ '2020-01-01')")
    con.execute("BEGIN")
    _build_metrics(con)
    warehouse.run_sql_file(con, "marts/fisher_p_values_prune.sql")
    con.execute("COMMIT")
    got = dict(con.execute("SELECT group_name, fisher_p_value FROM staging.group_stage_metrics "
                           "WHERE group_name <> 'White'").fetchall())
    assert got["Black"] == 0.123456
    assert got["Asian"] == pytest.approx(fisher_exact([[25, 15], [60, 40]]).pvalue, abs=1e-15)
    cached = {row[:4]: row[4] for row in con.execute(
        "SELECT a, b, c, d, p_value FROM core.fisher_p_values").fetchall()}
    assert set(cached) == {(20, 30, 60, 40), (25, 15, 60, 40)}
    assert cached[(25, 15, 60, 40)] == got["Asian"]


@pytest.mark.parametrize("table", [(1, 9, 11, 3), (0, 5, 5, 0), (52, 75, 300, 200), (10, 10, 10, 10)])
def test_fisher_udf_matches_scipy(table):
    con = duckdb.connect()
    stats.register_functions(con)
    (p,) = con.execute("SELECT fisher_exact_p(?, ?, ?, ?)", list(table)).fetchone()
    a, b, c, d = table
    assert p == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue, abs=1e-15)
