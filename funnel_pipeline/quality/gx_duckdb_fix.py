"""Make Great Expectations' SQL engine work on DuckDB (GX issue #11579).

Why: GX 1.x runs each metric query inside ``with engine.connect() as connection:`` and
reads the rows *after* the block has closed the connection. With duckdb-engine the DBAPI
cursor is the connection itself, so the rows are gone by then and every expectation fails
with ``IndexError: list index out of range`` (surfacing as ``MetricResolutionError``).

The fix wraps the one private method every GX query goes through,
``SqlAlchemyExecutionEngine._execute_query_with_recovery``, and buffers row-returning
results in memory (``result.freeze()()``) while the connection is still open. GX metric
queries return aggregates or small row sets, so buffering costs nothing measurable.
Only DuckDB connections are touched; other dialects get the original result.

Because this patches a private API, the GX version is pinned: ``install()`` refuses to
run on any other version. To move the pin, bump ``PINNED_GX_VERSION`` and
``pyproject.toml`` together and run ``tests/sql/test_quality_gx.py``, which proves both that
the bug is still there without the patch and that the patch fixes it.
"""

from __future__ import annotations

from typing import Any

#: the GX release the patch was written and tested against (also pinned in pyproject.toml)
PINNED_GX_VERSION = "1.24.1"
_MARKER = "_funnel_duckdb_fix"


class GXVersionMismatchError(RuntimeError):
    """The installed GX is not the version the DuckDB fix was tested against."""


def check_gx_version(installed: str | None = None) -> None:
    """Raise ``GXVersionMismatchError`` unless GX is exactly ``PINNED_GX_VERSION``."""
    if installed is None:
        import great_expectations

        installed = great_expectations.__version__
    if installed != PINNED_GX_VERSION:
        raise GXVersionMismatchError(
            f"great_expectations {installed} is installed, but the DuckDB fix for GX issue "
            f"#11579 (funnel_pipeline/quality/gx_duckdb_fix.py) patches a private GX API and "
            f"was tested only with {PINNED_GX_VERSION}. Install great_expectations=="
            f"{PINNED_GX_VERSION}, or re-check the fix against {installed}, then update "
            f"PINNED_GX_VERSION and pyproject.toml together and run tests/sql/test_quality_gx.py."
        )


def _engine_class() -> Any:
    from great_expectations.execution_engine.sqlalchemy_execution_engine import (
        SqlAlchemyExecutionEngine,
    )

    return SqlAlchemyExecutionEngine


def is_installed() -> bool:
    """True when the patch is active in this process."""
    method = _engine_class().__dict__.get("_execute_query_with_recovery")
    return getattr(getattr(method, "__func__", None), _MARKER, False)


def install() -> None:
    """Patch GX once per process (idempotent; safe to call before every validation)."""
    check_gx_version()
    engine_cls = _engine_class()
    if is_installed():
        return
    original = engine_cls.__dict__["_execute_query_with_recovery"]
    if not isinstance(original, staticmethod):  # the shape the patch relies on
        raise GXVersionMismatchError(
            "SqlAlchemyExecutionEngine._execute_query_with_recovery is no longer a "
            "staticmethod: the DuckDB fix (GX issue #11579) needs re-checking."
        )
    original_fn = original.__func__

    def _execute_query_with_recovery(connection: Any, query: Any) -> Any:
        result = original_fn(connection, query)
        if connection.dialect.name == "duckdb" and result.returns_rows:
            # read every row now, while the DuckDB cursor (= connection) is still open
            return result.freeze()()
        return result

    setattr(_execute_query_with_recovery, _MARKER, True)
    _execute_query_with_recovery.__wrapped__ = original_fn  # type: ignore[attr-defined]
    _execute_query_with_recovery.__doc__ = original_fn.__doc__
    engine_cls._execute_query_with_recovery = staticmethod(_execute_query_with_recovery)


def uninstall() -> None:
    """Restore GX's own method (tests use this to prove the patch is needed)."""
    engine_cls = _engine_class()
    if is_installed():
        patched = engine_cls.__dict__["_execute_query_with_recovery"].__func__
        engine_cls._execute_query_with_recovery = staticmethod(patched.__wrapped__)
