"""Statistics checked against scipy/statsmodels: the SQL Wilson interval and Fisher UDF."""

from __future__ import annotations

import duckdb
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportion_confint

from funnel_pipeline import contract, stats, warehouse

CASES = [(0, 1), (1, 1), (0, 7), (7, 7), (3, 10), (52, 127), (661, 719), (1, 2000), (999, 1000)]


@pytest.mark.parametrize(("passed", "decided"), CASES)
def test_wilson_sql_matches_statsmodels(passed: int, decided: int):
    con = duckdb.connect()
    text = warehouse.sql_text("marts/group_stage_metrics.sql")
    con.execute("CREATE SCHEMA staging")
    con.execute(
        "CREATE TABLE staging.group_stage_counts AS SELECT 'stage_pass_rates' AS source_table, "
        "NULL::VARCHAR AS campaign_id, NULL::VARCHAR AS entry_route, 'all' AS characteristic, "
        "'All' AS group_name, NULL::VARCHAR AS reference_group, 'sift' AS stage, 2 AS stage_order, "
        "?::BIGINT AS applications, ?::BIGINT AS passed, ?::BIGINT AS failed, 0::BIGINT AS withdrawn, "
        "0::BIGINT AS pending, false AS comparable", [decided, passed, decided - passed])
    stats.register_functions(con)
    for statement in warehouse.split_statements(text):
        con.execute(statement, {"z": contract.WILSON_Z, "threshold": 0.8, "alpha": 0.05})
    low, high = con.execute(
        "SELECT pass_rate_ci_low, pass_rate_ci_high FROM staging.group_stage_metrics").fetchone()
    exp_low, exp_high = proportion_confint(passed, decided, alpha=0.05, method="wilson")
    assert low == pytest.approx(max(exp_low, 0.0), abs=1e-12)
    assert high == pytest.approx(min(exp_high, 1.0), abs=1e-12)


@pytest.mark.parametrize("table", [(1, 9, 11, 3), (0, 5, 5, 0), (52, 75, 300, 200), (10, 10, 10, 10)])
def test_fisher_udf_matches_scipy(table):
    con = duckdb.connect()
    stats.register_functions(con)
    (p,) = con.execute("SELECT fisher_exact_p(?, ?, ?, ?)", list(table)).fetchone()
    a, b, c, d = table
    assert p == pytest.approx(fisher_exact([[a, b], [c, d]]).pvalue, abs=1e-15)
