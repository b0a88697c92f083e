"""Run one expectation suite against one batch of a DuckDB file, through GX's SQL engine.

Why this shape:
- SQL datasource, not pandas: DuckDB computes the metrics; nothing is loaded into Python
  (GX's pandas path took 33 s and 5.2 GB at 10M rows).
- A batch is a whole table or a query, so a nightly run validates only its new rows
  (``select * from raw.event_rows where file_id in :file_ids``).
- Ephemeral GX context: no ``gx/`` folder, no stored results, no Data Docs, no network.
- The file is opened read-only and the engine disposed afterwards, so other processes
  can open it. DuckDB refuses a read-only open while *this* process holds a read-write
  connection to the same file ("different configuration"): close yours first.
- Result format SUMMARY with ``partial_unexpected_count: 0`` (counts, no sample values)
  and outcomes built from an allow-list (see ``outcome.py``).

``great_expectations`` is imported inside ``validate`` only (the import takes ~5 s).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnel_pipeline.quality import gx_duckdb_fix
from funnel_pipeline.quality import query as query_sql
from funnel_pipeline.quality.outcome import ExpectationOutcome, counts_from_result, error_class
from funnel_pipeline.quality.suites import load_suite, specs_from_dict, suite_from_dict

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

log = logging.getLogger(__name__)

#: counts and percentages, no sample of unexpected values, rows, ids or index queries
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 0,
    "include_unexpected_rows": False,
    "return_unexpected_index_query": False,
}


class DatabaseBusyError(RuntimeError):
    """The DuckDB file could not be opened read-only (a writer holds it)."""


def _connection_string(database_path: Path, read_only: bool,
                       duckdb_config: Mapping[str, str] | None = None) -> str:
    """SQLAlchemy URL; duckdb_engine passes the query items to DuckDB as its config.

    The config matters: GX's connection is a new DuckDB instance, and without a
    ``memory_limit`` DuckDB allows itself 80 % of the machine's memory.
    """
    from sqlalchemy.engine import URL

    query = {key: str(value) for key, value in (duckdb_config or {}).items() if value}
    if read_only:
        query["access_mode"] = "read_only"
    url = URL.create("duckdb", database=str(database_path), query=query)
    return url.render_as_string(hide_password=False)


def _ephemeral_context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _batch_definition(datasource: Any, table: str | None, sql: str | None) -> tuple[Any, str]:
    if (table is None) == (sql is None):
        raise ValueError("give exactly one of table= or query=")
    if table is not None:
        schema, _, name = table.rpartition(".")
        with warnings.catch_warnings():
            # GX 1.24 deprecates schema_name in favour of a schema in the connection
            # configuration, which DuckDB URLs cannot carry; the version is pinned.
            warnings.filterwarnings("ignore", message="`schema_name` is deprecated")
            asset = datasource.add_table_asset(
                name=f"table_{table.replace('.', '_')}",
                table_name=name,
                schema_name=schema or None,
            )
        label = table
    else:
        asset = datasource.add_query_asset(name="query", query=sql)
        label = "query"
    return asset.add_batch_definition_whole_table("batch"), label


def _is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB's two ways of saying the file is held: by this process, or by another."""
    text = f"{exc} {exc.__cause__}"
    return "different configuration" in text or "Could not set lock" in text


def _dispose(datasource: Any) -> None:
    """Close every pooled DuckDB connection GX opened, so the file is free again."""
    engines = [datasource.get_execution_engine().engine, getattr(datasource, "_engine", None)]
    for engine in engines:
        if engine is not None:
            engine.dispose()


def validate(
    database_path: str | Path,
    suite: str | ExpectationSuite,
    *,
    table: str | None = None,
    query: str | None = None,
    query_params: Mapping[str, Any] | None = None,
    expectation_parameters: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    read_only: bool = True,
    suites_dir: Path | None = None,
    duckdb_config: Mapping[str, str] | None = None,
) -> list[ExpectationOutcome]:
    """Validate one batch of ``database_path`` against a suite; one outcome per expectation.

    ``suite``: a suite file name (``expectations/<name>.json``) or a GX ``ExpectationSuite``
    carrying the same meta. ``table``: ``"schema.table"``. ``query``: ``SELECT …`` with
    ``:name`` placeholders filled from ``query_params`` (see ``query.py``).
    ``expectation_parameters``: values for ``{"$PARAMETER": "name"}`` in suite kwargs.
    ``read_only=False`` is for callers that need it; it still must not overlap with a
    write connection held by this process. ``duckdb_config``: DuckDB settings for GX's
    connection (``memory_limit``, ``threads``, ``temp_directory``).
    """
    path = Path(database_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"DuckDB file not found: {path}")
    sql = query_sql.bind(query, query_params) if query is not None else None
    if query is None and query_params:
        raise ValueError("query_params given without query=")

    gx_duckdb_fix.install()
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    if isinstance(suite, str):
        gx_suite = load_suite(suite, suites_dir)
    else:  # a copy: adding to a context assigns ids, and callers may reuse their object
        gx_suite = suite_from_dict(suite.to_json_dict())
    specs = {s.check_name: s for s in specs_from_dict(gx_suite.to_json_dict())}

    run_id = run_id or uuid.uuid4().hex
    context = _ephemeral_context()
    datasource = None
    try:
        try:  # adding the datasource and asset already connects (GX tests the connection)
            datasource = context.data_sources.add_sql(
                name="duckdb", connection_string=_connection_string(path, read_only, duckdb_config)
            )
            batch_definition, label = _batch_definition(datasource, table, sql)
        except Exception as exc:
            if _is_lock_conflict(exc):
                raise DatabaseBusyError(
                    f"could not open {path}{' read-only' if read_only else ''}: another "
                    "connection holds it. Close this process's own DuckDB connection to the "
                    "file before validating; another process must not be writing it."
                ) from exc
            raise
        gx_suite = context.suites.add(gx_suite)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"{gx_suite.name}-{label}", data=batch_definition, suite=gx_suite
            )
        )
        result = definition.run(
            result_format=RESULT_FORMAT,
            expectation_parameters=dict(expectation_parameters or {}),
            run_id=RunIdentifier(run_name=run_id),
        )
    finally:
        if datasource is not None:
            _dispose(datasource)

    validated_at = dt.datetime.now(dt.UTC)
    outcomes: list[ExpectationOutcome] = []
    for item in result.results:
        config = item.expectation_config
        spec = specs[config.meta["check_name"]]
        error = error_class(item.exception_info)
        if error:
            log.warning(
                "check %s.%s could not be evaluated (%s)", spec.suite, spec.check_name, error
            )
        outcomes.append(
            ExpectationOutcome(
                run_id=run_id,
                validated_at=validated_at,
                suite=spec.suite,
                batch=label,
                check_name=spec.check_name,
                expectation_type=spec.expectation_type,
                columns=spec.columns,
                severity=spec.severity,
                success=bool(item.success) and not error,
                description=spec.description,
                error=error,
                **counts_from_result(spec.expectation_type, dict(item.result or {})),
            )
        )
    order = list(specs)
    return sorted(outcomes, key=lambda o: order.index(o.check_name))
