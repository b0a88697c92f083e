"""The DuckDB file, in one place: connect, open for a step, transactions, build-then-swap,
and the runner of the project's SQL files.

DuckDB allows one writer per file, and while it writes no other process can even read
it. So every step opens the file, does its work inside one transaction, and closes it:
a crash rolls the transaction back (the last good tables stay readable) and the next
run starts from a consistent file. The job runs its steps one at a time (in-process
executor) and runs are serialised by a run queue of one, so writers never overlap.

The schema (DDL compiled from `models.py`) is created once per run, by the first step
(`prepare`); every other open only sets the session up (time zone, memory cap, the
macros of `sql/macros.sql`, the statistics functions of `stats.py`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from funnel_pipeline import models, stats
from funnel_pipeline.causes import FunnelError
from funnel_pipeline.settings import Settings

#: how long to wait for another process to release the file before giving up
LOCK_WAIT_SECONDS = 120.0


class DatabaseLockedError(FunnelError):
    """The DuckDB file stayed locked by another process for longer than we wait."""


def sql_text(relative_path: str) -> str:
    """Text of `sql/<layer>/<table>.sql`, read from the installed package data."""
    return resources.files("funnel_pipeline.sql").joinpath(relative_path).read_text(encoding="utf-8")


def run_sql_file(con: duckdb.DuckDBPyConnection, relative_path: str,
                 params: Mapping[str, Any] | None = None) -> None:
    """Run every statement of a SQL file, binding `$name` parameters it mentions.

    Statements are separated by `;` at a line end. A line `-- include: <path>` runs that
    file's statements in its place (a step several tables share is written once). A
    line holding `{stage}` is written once per configured stage, `{stage}` replaced by
    its stage_order (1..N), and a line holding `{position}` once per configured
    characteristic (1..K): the only SQL text ever generated, and only integers. Values
    are always bound, never pasted into the SQL text.
    """
    for statement, used in bound_statements(relative_path, params, repeat_counts(con)):
        con.execute(statement, used) if used else con.execute(statement)


def query_sql_file(con: duckdb.DuckDBPyConnection, relative_path: str,
                   params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a SQL file's last statement (a query kept in `sql/` beside the tables
    it reads), as dicts; earlier statements run as in `run_sql_file`."""
    cursor = None
    for statement, used in bound_statements(relative_path, params, repeat_counts(con)):
        cursor = con.execute(statement, used) if used else con.execute(statement)
    if cursor is None or cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def repeat_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How often `{stage}` and `{position}` lines repeat: the configured stages and
    characteristics (0 before the first run has written config.*)."""
    try:
        stages, characteristics = con.execute(
            "SELECT (SELECT count(*) FROM config.stages), "
            "(SELECT count(*) FROM config.characteristics)").fetchone()
    except duckdb.CatalogException:
        return {}
    return {"{stage}": stages, "{position}": characteristics}


def bound_statements(relative_path: str, params: Mapping[str, Any] | None = None,
                     repeats: Mapping[str, int] | None = None
                     ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each statement of a SQL file (includes and repeated lines expanded) with the
    parameters it mentions."""
    text = expand_repeats(expand_includes(sql_text(relative_path)), repeats or {})
    for statement in split_statements(text):
        code = without_comments(statement)
        yield statement, {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", code)}


def expand_repeats(sql: str, repeats: Mapping[str, int]) -> str:
    """Each line holding a placeholder (`{stage}`, `{position}`) → one copy per value
    1..n, the placeholder replaced by the number."""
    lines = []
    for line in sql.splitlines():
        placeholder = next((p for p in _PLACEHOLDERS if p in line), None)
        if placeholder is None:
            lines.append(line)
            continue
        if placeholder not in repeats:
            raise ValueError(f"{placeholder} in SQL before the configuration was written")
        lines += [line.replace(placeholder, str(n)) for n in range(1, repeats[placeholder] + 1)]
    return "\n".join(lines)


_PLACEHOLDERS = ("{stage}", "{position}")


def expand_includes(sql: str, depth: int = 0) -> str:
    """Replace each `-- include: <sql file>` line by that file's text (nested ≤ 3 deep)."""
    if depth > 3:
        raise ValueError("SQL includes nested more than 3 deep")
    lines = []
    for line in sql.splitlines():
        match = _INCLUDE.match(line)
        lines.append(expand_includes(sql_text(match.group(1)), depth + 1) if match else line)
    return "\n".join(lines)


_INCLUDE = re.compile(r"^\s*--\s*include:\s*(\S+\.sql)\s*$")


def split_statements(sql: str) -> list[str]:
    """Split a SQL file on `;` at the end of a line (our files keep one statement per block)."""
    statements, current = [], []
    for line in sql.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            text = "\n".join(current).strip()
            if _has_code(text):
                statements.append(text)
            current = []
    tail = "\n".join(current).strip()
    if _has_code(tail):
        statements.append(tail)
    return statements


def without_comments(statement: str) -> str:
    """The statement minus `--` line comments (a parameter named only in a comment is unused)."""
    return "\n".join(line.split("--", 1)[0] for line in statement.splitlines())


def _has_code(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


def _connect_with_retry(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    delay = 0.2
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                if "lock" in str(exc).lower():
                    pid = re.search(r"\(PID (\d+)\)", str(exc))
                    holder = f"another process (PID {pid.group(1)})" if pid else "another process"
                    raise DatabaseLockedError(
                        f"{path.name} is open in {holder} and stayed locked for {wait:.0f} s: "
                        "close it (or wait for that run to finish) and rerun"
                    ) from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def connect(path: Path, *, read_only: bool = False, memory_limit: str = "2GB",
            threads: int = 0, temp_dir: str = "",
            lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse with the project's session settings (UTC, memory cap, spill dir)."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect_with_retry(path, read_only, lock_wait_seconds)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{_checked_size(memory_limit)}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if temp_dir:
            # SET takes no bound parameters; the value is checked instead
            con.execute(f"SET temp_directory = '{_checked_path(temp_dir)}'")
        yield con
    finally:
        con.close()


def _checked_size(value: str) -> str:
    """Memory limits come from configuration; allow only `<number><unit>` through."""
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", value, re.IGNORECASE):
        raise ValueError(f"FUNNEL_DUCKDB_MEMORY_LIMIT must look like '2GB', got {value!r}")
    return value.strip()


def _checked_path(value: str) -> str:
    if "'" in value:
        raise ValueError("FUNNEL_DUCKDB_TEMP_DIR must not contain a single quote")
    return value


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create every schema and owned table that is missing (idempotent; once per run)."""
    for statement in models.ddl_statements():
        con.execute(statement)


@contextmanager
def open_warehouse(settings: Settings, *, read_only: bool = False
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A step's connection: session limits from settings, the macros and SQL functions."""
    with connect(settings.duckdb_path, read_only=read_only,
                 memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads,
                 temp_dir=settings.duckdb_temp_dir,
                 lock_wait_seconds=settings.duckdb_lock_wait_seconds) as con:
        stats.register_functions(con)  # first: DuckDB refuses it while a result is open
        if _has_schema(con, "config"):
            run_sql_file(con, "macros.sql")
        yield con


def _has_schema(con: duckdb.DuckDBPyConnection, schema: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.schemata "
                            "WHERE schema_name = ?", [schema]).fetchall()[0][0])


def table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables "
                            "WHERE table_schema = ? AND table_name = ?", [schema, table]
                            ).fetchone()[0])


def swap_in(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    """Replace marts.<t> by staging.<t> for every table, in the caller's transaction:
    readers of `marts` see yesterday's tables or today's, never a half-built one."""
    for table in tables:
        name = identifier(table)
        con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM staging.{name}")


def identifier(name: str) -> str:
    """A table name of ours, checked before it is put into SQL text."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return name


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All-or-nothing: commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
