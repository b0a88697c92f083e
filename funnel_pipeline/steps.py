"""The pipeline's steps as plain functions: one transaction each, callable from Dagster
assets, the CLI and tests alike. Assets stay thin (wire, attach metadata, return).

Each step opens the DuckDB file, runs its SQL file(s) inside one transaction and closes
the file. A crash anywhere rolls back that step only; every step picks up whatever its
predecessors left unprocessed, so the next run completes the work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from funnel_pipeline import contract, stats, warehouse
from funnel_pipeline.landing import IngestSummary, ingest_landing_folder
from funnel_pipeline.settings import Settings

#: marts built into `staging` and published (swapped into `marts`) together
PASS_RATE_MARTS: tuple[str, ...] = ("stage_pass_rates",)


@contextmanager
def open_warehouse(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connection with schema, vocabulary, macros and SQL functions in place."""
    with warehouse.connect(
        settings.duckdb_path,
        read_only=read_only,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
        temp_dir=settings.duckdb_temp_dir,
    ) as con:
        if not read_only:
            with warehouse.transaction(con):
                warehouse.ensure_schema(con)
        warehouse.run_sql_file(con, "macros.sql")
        stats.register_functions(con)
        yield con


def ingest(settings: Settings, run_id: str | None = None) -> IngestSummary:
    """Landing folder → raw.landing_files + raw.*_rows (one transaction per file)."""
    with open_warehouse(settings) as con:
        return ingest_landing_folder(con, Path(settings.landing_dir), run_id)


def _run_in_transaction(settings: Settings, *sql_files: str) -> None:
    with open_warehouse(settings) as con, warehouse.transaction(con):
        for sql_file in sql_files:
            warehouse.run_sql_file(con, sql_file)


def build_events(settings: Settings) -> None:
    """raw.event_rows (unprocessed files) → core.events + quality.rejected_rows."""
    _run_in_transaction(settings, "core/events.sql")


def build_applicants(settings: Settings) -> None:
    """raw.applicant_rows (unprocessed files) → core.applicants."""
    _run_in_transaction(settings, "core/applicants.sql")


def build_outcomes(settings: Settings) -> None:
    """Dirty applications → core.stage_outcomes + core.applications."""
    _run_in_transaction(settings, "core/stage_outcomes.sql")


def metric_parameters() -> dict[str, float]:
    return {
        "z": contract.WILSON_Z,
        "threshold": contract.ADVERSE_IMPACT_THRESHOLD,
        "alpha": contract.SIGNIFICANCE_LEVEL,
    }


def build_pass_rate_staging(settings: Settings, marts: tuple[str, ...] = PASS_RATE_MARTS) -> None:
    """core.applications → staging.<mart> for every pass-rate mart (not yet published)."""
    with open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.run_sql_file(con, "marts/funnel_cube.sql")
        warehouse.run_sql_file(con, "marts/group_stage_counts.sql")
        warehouse.run_sql_file(con, "marts/group_stage_metrics.sql", metric_parameters())
        for mart in marts:
            warehouse.run_sql_file(con, f"marts/{mart}.sql", metric_parameters())


def publish(settings: Settings, marts: tuple[str, ...]) -> None:
    """Swap staging.<mart> into marts.<mart>, all or none, in one transaction.

    Readers of `marts` never see a half-built table; a failure leaves yesterday's.
    """
    with open_warehouse(settings) as con, warehouse.transaction(con):
        publish_with(con, marts)


def publish_with(con: duckdb.DuckDBPyConnection, marts: tuple[str, ...]) -> None:
    for mart in marts:
        con.execute(f"CREATE OR REPLACE TABLE marts.{_identifier(mart)} AS "
                    f"SELECT * FROM staging.{_identifier(mart)}")


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return name


def run_all(settings: Settings, run_id: str | None = None) -> IngestSummary:
    """Every step in order, without Dagster (tests, benchmark floor comparisons)."""
    summary = ingest(settings, run_id)
    build_events(settings)
    build_applicants(settings)
    build_outcomes(settings)
    build_pass_rate_staging(settings)
    publish(settings, PASS_RATE_MARTS)
    return summary
