"""Dagster metadata helpers: aggregate-only views of tables (never ids or raw values)."""

from __future__ import annotations

import duckdb

from funnel_pipeline import inert


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def markdown_table(headers: list[str], rows: list[tuple]) -> str:
    """A small GFM table; every text cell is input-safe (`inert.md`: no link, image, tag
    or broken column can come from a stage name, group, reason or file name)."""

    def cell(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:.3f}"
        if isinstance(v, int):
            return str(v)
        return inert.md(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
