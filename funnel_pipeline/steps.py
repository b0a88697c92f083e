"""The pipeline's steps as plain functions: one transaction each, callable from Dagster
assets, the CLI and tests alike. Assets stay thin (wire, attach metadata, return).

Each step opens the DuckDB file, runs its SQL file(s) inside one transaction and closes
the file. A crash anywhere rolls back that step only; every step picks up whatever its
predecessors left unprocessed, so the next run completes the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from funnel_pipeline import contract, inert, stats, warehouse
from funnel_pipeline.landing import IngestSummary, ingest_landing_folder
from funnel_pipeline.settings import Settings

#: pass-rate marts: slices of staging.group_stage_metrics (one metric definition), plus
#: drop_out_points, which reads all four slices
PASS_RATE_MARTS: tuple[str, ...] = (
    "stage_pass_rates",
    "stage_pass_rates_by_campaign",
    "stage_pass_rates_by_entry_route",
    "intersectional_stage_pass_rates",
    "drop_out_points",
)
#: the other CONTRACT §7 tables, read straight from core
FURTHER_MARTS: tuple[str, ...] = ("stage_durations", "representation", "intervention_effects")
#: every mart: built into `staging` and published (swapped into `marts`) together
MARTS: tuple[str, ...] = (*PASS_RATE_MARTS, *FURTHER_MARTS)
#: the optional inputs of CONTRACT §6: core table → SQL file
OPTIONAL_CORE: tuple[str, ...] = ("campaigns", "population", "interventions")
#: the key of each optional input, as named in its conflicting-duplicate rejection reason
KEYED_INPUT_KEYS: dict[str, str] = {
    "campaigns": "campaign_id",
    "population": "characteristic + group_name",
    "interventions": "intervention_id",
}


@contextmanager
def open_warehouse(settings: Settings, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Connection with schema, vocabulary, macros and SQL functions in place."""
    with warehouse.connect(
        settings.duckdb_path,
        read_only=read_only,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
        temp_dir=settings.duckdb_temp_dir,
        lock_wait_seconds=settings.duckdb_lock_wait_seconds,
    ) as con:
        if not read_only and settings.test_pause_at:
            con = pause_for_tests(settings, con)
        if not read_only:
            with warehouse.transaction(con):
                warehouse.ensure_schema(con)
        warehouse.run_sql_file(con, "macros.sql")
        stats.register_functions(con)
        yield con


def ingest(settings: Settings, run_id: str | None = None) -> IngestSummary:
    """Landing folder → raw.landing_files + raw.*_rows (one transaction per file; only
    files that have stopped changing)."""
    with open_warehouse(settings) as con:
        return ingest_landing_folder(con, Path(settings.landing_dir), run_id,
                                     settle_seconds=settings.landing_settle_seconds,
                                     max_wait_seconds=settings.landing_max_wait_seconds)


def _run_in_transaction(settings: Settings, *sql_files: str) -> None:
    with open_warehouse(settings) as con, warehouse.transaction(con):
        for sql_file in sql_files:
            warehouse.run_sql_file(con, sql_file)


#: bound into every core SQL file that judges landed rows
LANDING_PARAMETERS = {"max_key_length": inert.MAX_KEY_LENGTH}


def build_events(settings: Settings) -> None:
    """raw.event_rows (unprocessed files) → core.events + quality.rejected_rows."""
    with open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.run_sql_file(con, "core/events.sql", LANDING_PARAMETERS)


def build_applicants(settings: Settings) -> None:
    """raw.applicant_rows (unprocessed files) → core.applicants."""
    with open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.run_sql_file(con, "core/applicants.sql", LANDING_PARAMETERS)


def build_optional(settings: Settings, tables: tuple[str, ...] = OPTIONAL_CORE) -> None:
    """raw campaign / population / intervention rows (unprocessed files) → core tables.

    One transaction for the three: they are small and read together by the marts.
    """
    with open_warehouse(settings) as con, warehouse.transaction(con):
        for table in tables:
            warehouse.run_sql_file(con, f"core/{table}.sql", {
                **LANDING_PARAMETERS,
                "kind": table,
                "conflict_reason": f"conflicting duplicate {KEYED_INPUT_KEYS[table]}",
            })


def build_outcomes(settings: Settings) -> None:
    """Dirty applications → core.stage_outcomes + core.applications."""
    _run_in_transaction(settings, "core/stage_outcomes.sql")


def metric_parameters() -> dict[str, float | str]:
    return {
        "z": contract.WILSON_Z,
        "threshold": contract.ADVERSE_IMPACT_THRESHOLD,
        "alpha": contract.SIGNIFICANCE_LEVEL,
        "unknown_route": contract.UNKNOWN_ENTRY_ROUTE,
    }


def build_pass_rate_staging(settings: Settings, marts: tuple[str, ...] = MARTS) -> None:
    """core → staging.<mart> for every mart (not yet published)."""
    with open_warehouse(settings) as con, warehouse.transaction(con):
        build_staging_with(con, marts)


def build_staging_with(con: duckdb.DuckDBPyConnection, marts: tuple[str, ...] = MARTS) -> None:
    warehouse.run_sql_file(con, "marts/funnel_cube.sql")
    warehouse.run_sql_file(con, "marts/group_stage_counts.sql", metric_parameters())
    warehouse.run_sql_file(con, "marts/group_stage_metrics.sql", metric_parameters())
    for mart in marts:
        warehouse.run_sql_file(con, f"marts/{mart}.sql", metric_parameters())
    warehouse.run_sql_file(con, "marts/fisher_p_values_prune.sql")


def build_marts(settings: Settings, marts: tuple[str, ...] = MARTS,
                gate: Callable[[], bool] | None = None) -> bool:
    """Build every mart in staging and publish them; True when published.

    Without `gate`: build and publish in one transaction (run_all, benchmarks).
    With `gate` (the Dagster asset): build staging and commit, close the file, then call
    `gate()` (validates the staging tables; the file must be free for its read-only
    open) and publish only if it returns True. A False leaves `marts` as they were.
    """
    if gate is None:
        with open_warehouse(settings) as con, warehouse.transaction(con):
            build_staging_with(con, marts)
            publish_with(con, marts)
        return True
    build_pass_rate_staging(settings, marts)
    if not gate():
        return False
    publish(settings, marts)
    return True


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
    ingested = ingest(settings, run_id)
    build_events(settings)
    build_applicants(settings)
    build_optional(settings)
    build_outcomes(settings)
    build_marts(settings)
    from funnel_pipeline.publish import publication
    from funnel_pipeline.publish import summary as drop_out_summary

    drop_out_summary.write_summary(settings)
    publication.build_publication(settings)
    publication.export_publication(settings)
    return ingested


def pause_for_tests(settings: Settings, con: duckdb.DuckDBPyConnection):
    """TEST-ONLY hook (FUNNEL_TEST_PAUSE_AT; tests/test_operations_kill.py kills the run here).

    Wraps a write connection so that, just before a COMMIT, the step writes the marker
    file `<duckdb file>.paused-<point>` and sleeps, holding its transaction open:
    `ingest` = before committing the 2nd landing file copied by this connection (the 1st
    is committed), `marts` = after the marts were replaced in the publish transaction.
    Inert unless the setting is non-empty; never set it in production.
    """
    import re
    import time

    point = settings.test_pause_at

    class _Pausing:
        def __init__(self) -> None:
            self._pending: list[str] = []
            self._copied = 0

        def execute(self, sql, *args, **kwargs):
            text = sql.strip().upper() if isinstance(sql, str) else ""
            if text.startswith("COMMIT"):
                copied = any(re.match(r"INSERT INTO RAW\.\w+_ROWS", q) for q in self._pending)
                self._copied += copied
                if ((point == "ingest" and copied and self._copied == 2)
                        or (point == "marts" and any(q.startswith("CREATE OR REPLACE TABLE MARTS.")
                                                     for q in self._pending))):
                    Path(f"{settings.duckdb_path}.paused-{point}").write_text(point)
                    time.sleep(600)
                self._pending = []
            elif text:
                self._pending.append(text)
            return con.execute(sql, *args, **kwargs)

        def __getattr__(self, name):
            return getattr(con, name)

    return _Pausing()
