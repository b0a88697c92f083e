"""Validation history: every outcome of every run, appended to ``quality.validation_results``.

Why a table: the auditor report, trend questions ("since when does this check warn?")
and Dagster metadata all read one place. It holds outcomes only (counts, aggregates,
descriptions), never row values, so it is safe to keep indefinitely.

The caller passes its own DuckDB connection (the pipeline's single writer), after the
GX run has released the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from funnel_pipeline.quality.outcome import ExpectationOutcome

TABLE = "quality.validation_results"

_DDL = f"""
create schema if not exists quality;
create table if not exists {TABLE} (
    run_id             varchar not null,
    validated_at       timestamptz not null,
    suite              varchar not null,
    asset_key          varchar not null,
    check_name         varchar not null,
    expectation_type   varchar not null,
    severity           varchar not null,   -- 'error' (blocking) or 'warn'
    success            boolean not null,
    observed_value     varchar,            -- numeric aggregate or type name, never row values
    element_count      bigint,
    unexpected_count   bigint,
    unexpected_percent double,
    description        varchar not null,
    columns            varchar,            -- comma-separated column names checked
    error              varchar,            -- exception class when the check could not run
    threshold          varchar,            -- run-time threshold(s) applied, e.g. 'max_value 0.05'
    primary key (run_id, suite, asset_key, check_name)
);
-- histories written before the threshold was kept
alter table {TABLE} add column if not exists threshold varchar;
"""

_COLUMNS = (
    "run_id",
    "validated_at",
    "suite",
    "asset_key",
    "check_name",
    "expectation_type",
    "severity",
    "success",
    "observed_value",
    "element_count",
    "unexpected_count",
    "unexpected_percent",
    "description",
    "columns",
    "error",
    "threshold",
)


def ensure_table(con: Any) -> None:
    """Create ``quality.validation_results`` if missing (idempotent)."""
    con.execute(_DDL)


def _observed_text(value: float | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _row(outcome: ExpectationOutcome, asset_key: str, validated_at: dt.datetime) -> tuple:
    return (
        outcome.run_id,
        validated_at,
        outcome.suite,
        asset_key,
        outcome.check_name,
        outcome.expectation_type,
        outcome.severity,
        outcome.success,
        _observed_text(outcome.observed_value),
        outcome.element_count,
        outcome.unexpected_count,
        outcome.unexpected_percent,
        outcome.description,
        ",".join(outcome.columns) or None,
        outcome.error,
        outcome.threshold,
    )


def record_outcomes(
    con: Any,
    outcomes: Sequence[ExpectationOutcome],
    *,
    asset_key: str,
    validated_at: dt.datetime | None = None,
) -> int:
    """Append outcomes (one row each) and return how many rows were written.

    One parameterised ``INSERT OR REPLACE`` statement, so the write is atomic without
    touching the caller's transaction state, and re-recording the same run, suite,
    asset and check (a retried step) replaces rows instead of doubling them.
    ``validated_at`` defaults to each outcome's own time.
    """
    if not outcomes:
        return 0
    ensure_table(con)
    rows = [_row(o, asset_key, validated_at or o.validated_at) for o in outcomes]
    row_marks = "(" + ", ".join("?" for _ in _COLUMNS) + ")"
    con.execute(
        f"insert or replace into {TABLE} ({', '.join(_COLUMNS)}) "
        f"values {', '.join(row_marks for _ in rows)}",
        [value for row in rows for value in row],
    )
    return len(rows)
