"""Aggregate-only summaries of tables for Dagster metadata (never ids or raw values)."""

from __future__ import annotations

import duckdb

from funnel_pipeline.settings import Settings
from funnel_pipeline.steps import open_warehouse


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def markdown_table(headers: list[str], rows: list[tuple]) -> str:
    def cell(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_counts(settings: Settings, tables: list[str]) -> dict[str, int]:
    with open_warehouse(settings, read_only=False) as con:
        return {t: row_count(con, t) for t in tables}
