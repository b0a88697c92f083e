"""The DuckDB file: opening it safely and running the project's SQL files.

DuckDB allows one writer per file, and while it writes no other process can even read
it. So every step opens the file, does its work inside one transaction, and closes it:
a crash rolls the transaction back (the last good tables stay readable) and the next
run starts from a consistent file. The job runs its steps one at a time (in-process
executor) and runs are serialised by a concurrency pool, so writers never overlap.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from funnel_pipeline import contract, models
from funnel_pipeline.causes import FunnelError

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
    file's statements in its place (a step several tables share is written once). Values
    are always bound, never pasted into the SQL text.
    """
    for statement, used in bound_statements(relative_path, params):
        con.execute(statement, used) if used else con.execute(statement)


def bound_statements(relative_path: str, params: Mapping[str, Any] | None = None
                     ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each statement of a SQL file (includes expanded) with the parameters it mentions."""
    for statement in split_statements(expand_includes(sql_text(relative_path))):
        code = without_comments(statement)
        yield statement, {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", code)}


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


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas and owned tables (idempotent) and refresh `core.vocabulary`."""
    for statement in models.ddl_statements():
        con.execute(statement)
    con.execute("DELETE FROM core.vocabulary")
    con.executemany(
        "INSERT INTO core.vocabulary (domain, spelling, canonical, stage_order) VALUES (?, ?, ?, ?)",
        contract.vocabulary_rows(),
    )


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
