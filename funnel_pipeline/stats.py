"""Statistics the marts need that SQL cannot do well: Fisher's exact test.

Wilson intervals and the Holm adjustment are plain arithmetic and window functions, so
they live in the mart SQL (`sql/marts/group_stage_metrics.sql`, `drop_out_points.sql`);
the tests check all three against scipy/statsmodels.
"""

from __future__ import annotations

from functools import lru_cache

import duckdb
from duckdb import sqltypes
from scipy.stats import fisher_exact


@lru_cache(maxsize=65536)
def fisher_exact_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact p-value of [[a, b], [c, d]] (scipy's definition).

    Cached: the same small tables recur across break-downs and reruns.
    """
    return float(fisher_exact([[a, b], [c, d]], alternative="two-sided").pvalue)


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make `fisher_exact_p(a, b, c, d)` callable from SQL on this connection."""
    try:
        con.remove_function("fisher_exact_p")
    except (duckdb.InvalidInputException, duckdb.CatalogException):
        pass
    con.create_function(
        "fisher_exact_p",
        fisher_exact_p,
        [sqltypes.BIGINT] * 4,
        sqltypes.DOUBLE,
        null_handling="default",
        side_effects=False,
    )
