"""Statistics the marts need that SQL cannot do well: Fisher's exact test and the
chi-square distribution's tail.

Wilson intervals and the Holm adjustment are plain arithmetic and window functions, so
they live in the mart SQL (`sql/marts/group_stage_metrics.sql`, `drop_out_points.sql`);
the tests check all three against scipy/statsmodels.
"""

from __future__ import annotations

import math
from functools import lru_cache

import duckdb
from duckdb import sqltypes
from scipy.stats import chi2, fisher_exact


@lru_cache(maxsize=65536)
def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of [[a, b], [c, d]] (scipy's definition).

    Cached: the same small tables recur across break-downs and reruns.
    """
    return float(fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue)


def chi2_p(statistic: float, df: int) -> float | None:
    """P-value of a chi-square statistic with `df` degrees of freedom, computed as
    statsmodels computes it (`1 - chi2.cdf`), so the CMH, Breslow–Day and log-rank
    p-values of docs/CONTRACT.md sections 9 and 10 agree with it to the last digit.
    NULL for a statistic that is not a number (an undefined test)."""
    if statistic is None or df is None or math.isnan(statistic) or df < 1:
        return None
    return float(1 - chi2.cdf(statistic, df))


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make `fisher_exact_p(a, b, c, d)` and `chi2_p(x, df)` callable from SQL here."""
    for name in ("fisher_exact_p", "chi2_p"):
        try:
            con.remove_function(name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
    con.create_function("fisher_exact_p", fisher_exact_p, [sqltypes.BIGINT] * 4,
                        sqltypes.DOUBLE, null_handling="default", side_effects=False)
    con.create_function("chi2_p", chi2_p, [sqltypes.DOUBLE, sqltypes.BIGINT],
                        sqltypes.DOUBLE, null_handling="special", side_effects=False)
