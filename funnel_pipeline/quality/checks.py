"""Suites → Dagster asset checks: declare them, run them on this run's batch, report them.

Which suite guards which asset, and on which rows, is written in each suite file's meta
(reviewed with the expectations themselves)::

    "meta": {
      "asset": "core/events",                       # the asset whose Checks tab lists it
      "batch": {"table": "staging.stage_pass_rates"}  # a whole (small) table, or
      "batch": {"query": "select … where file_id in :file_ids",
                "new_files": {"kinds": ["events"], "since": "processed_at"},
                "materialise": false,   # optional, default true (see _materialise_batch)
                "query_when_all_new": "select … from core.x"}  # optional, see below
    }

``new_files``: the batch is the rows of the landing files of those kinds whose
``raw.landing_files.<since>`` is later than the last run in which this suite had no
blocking failure (``quality.validation_results``). Normally that is the files of this
run, so validation costs in proportion to the new data; after a blocking failure the
same files stay in the batch until a run passes, so bad rows cannot slip through by
being "old" the next night. With no such file, or no row of the batch in them, there is
nothing new to check: every check passes with zero rows (and is recorded so, batch
"no new rows").

``query_when_all_new``: on a first run or a rebuild every file is new, so a batch of "the
rows touched by the new files" is the whole table, and the join that finds them is
pure cost (at 10M events: 3.5 s to find and copy 10M stage outcomes). A suite may give
the equivalent query without that filter; it is then read through a view. It must
select the same columns, and it is used only when the batch's files are all the
eligible files (no earlier passing run of the suite).

Values that must live in one place (the thresholds, the time window, the disclosure
threshold) are passed as GX expectation parameters from ``settings.py`` and the funnel
configuration (``expectation_parameters``); the vocabulary itself is read by the suites'
queries from the ``config.*`` tables. Nothing here imports ``great_expectations`` at
import time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import dagster as dg

from funnel_pipeline import vocabulary, warehouse
from funnel_pipeline.quality import history
from funnel_pipeline.quality.outcome import ExpectationOutcome
from funnel_pipeline.quality.query import bind
from funnel_pipeline.quality.suites import CheckSpec, list_suites, read_suite_json, specs_from_dict
from funnel_pipeline.settings import Settings

_SINCE_COLUMNS = frozenset({"discovered_at", "processed_at"})
#: where each query batch is materialised for GX (dropped after validation)
BATCH_SCHEMA = "quality_batch"


@lru_cache(maxsize=1)
def _suites() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """(asset key path, suite name, suite JSON) for every pipeline suite file."""
    found = []
    for name in list_suites():
        data = read_suite_json(name)
        meta = data.get("meta") or {}
        asset, batch = meta.get("asset"), meta.get("batch") or {}
        if not isinstance(asset, str) or ("table" in batch) == ("query" in batch):
            raise ValueError(f"suite {name}: meta.asset and one of meta.batch.table/query required")
        new_files = batch.get("new_files")
        if "query" in batch and (not new_files or new_files.get("since") not in _SINCE_COLUMNS):
            raise ValueError(f"suite {name}: a query batch needs meta.batch.new_files")
        found.append((asset, name, data))
    return tuple(found)


def suites_for(asset_key: dg.AssetKey) -> list[tuple[str, dict[str, Any]]]:
    path = "/".join(asset_key.path)
    return [(name, data) for asset, name, data in _suites() if asset == path]


def check_specs_for(*asset_keys: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """One Dagster check per expectation of the suites guarding these assets (no GX import).

    Blocking (``severity: error``) expectations are blocking checks: a failure fails the
    step and Dagster does not run the assets downstream.
    """
    specs: list[dg.AssetCheckSpec] = []
    for key in asset_keys:
        seen: set[str] = set()
        for _, data in suites_for(key):
            for spec in specs_from_dict(data):
                if spec.check_name in seen:
                    raise ValueError(f"check {spec.check_name} twice on {key.to_user_string()}")
                seen.add(spec.check_name)
                specs.append(dg.AssetCheckSpec(
                    name=spec.check_name,
                    asset=key,
                    description=spec.description,
                    blocking=spec.blocking,
                    metadata={"suite": spec.suite, "severity": spec.severity,
                              "expectation_type": spec.expectation_type},
                ))
    return specs


def expectation_parameters(settings: Settings, suppression_threshold: int,
                           now: dt.datetime | None = None) -> dict[str, Any]:
    """Run-time values of the suites' ``$PARAMETER``s: window, thresholds."""
    earliest = dt.date.fromisoformat(settings.earliest_event_date)
    return {
        "earliest_event_time": dt.datetime.combine(earliest, dt.time(), tzinfo=dt.UTC),
        "latest_event_time": now or dt.datetime.now(dt.UTC),
        "max_rejected_share": settings.max_rejected_share,
        "max_orphan_share": settings.max_orphan_share,
        "max_out_of_sequence_share": settings.max_out_of_sequence_share,
        "max_unrecognised_share": settings.max_unrecognised_share,
        "small_counts": small_counts(suppression_threshold),
    }


#: stands for "no count is small" when the threshold suppresses nothing (a value set
#: must not be empty); a published count is digits or "[c]", never this
NO_SMALL_COUNT = "[no count is below the threshold]"


def small_counts(threshold: int) -> list[str]:
    """The counts disclosure control must never publish: 1 to threshold - 1, as shown."""
    return [str(n) for n in range(1, threshold)] or [NO_SMALL_COUNT]


def _last_pass(con: Any, suite: str, run_id: str) -> dt.datetime | None:
    row = con.execute(
        f"""select max(validated_at) from {history.TABLE} as r
            where suite = ? and run_id <> ?
              and not exists (select 1 from {history.TABLE} as f
                              where f.run_id = r.run_id and f.suite = r.suite
                                and not f.success and f.severity = 'error')""",
        [suite, run_id],
    ).fetchone()
    return row[0] if row else None


def _new_file_ids(con: Any, suite: str, new_files: dict[str, Any], run_id: str
                  ) -> tuple[list[int], bool]:
    """The batch's file ids, and whether they are every eligible file (no earlier pass)."""
    since_column = new_files["since"]
    if since_column not in _SINCE_COLUMNS:
        raise ValueError(f"suite {suite}: unknown since column {since_column!r}")
    kinds = list(new_files["kinds"])
    since = _last_pass(con, suite, run_id)
    marks = ", ".join("?" for _ in kinds)
    sql = (f"select file_id from raw.landing_files where kind in ({marks}) "
           f"and status in ('loaded', 'duplicate') and {since_column} is not null")
    params: list[Any] = [*kinds]
    if since is not None:
        sql += f" and {since_column} > ?"
        params.append(since)
    ids = [r[0] for r in con.execute(sql + " order by file_id", params).fetchall()]
    return ids, since is None


def _materialise_batch(con: Any, suite: str, query: str, file_ids: list[int],
                       as_table: bool = True) -> int:
    """Run a suite's batch query once, into ``quality_batch.<suite>``; its row count.

    Why: GX wraps a query asset as a subquery of every metric query, so a batch defined
    by a join (the applications touched by new files) was recomputed once per
    expectation; at 10M events that was most of the validation time. The table lives in
    the DuckDB file (GX reads it through its own read-only connection) and is dropped
    after the run's validation. A batch that is a plain filter of one table
    (``"materialise": false``) becomes a view instead: copying 10M rows costs more than
    filtering them once per expectation.
    """
    if not suite.isidentifier():
        raise ValueError(f"suite name {suite!r} is not an identifier")
    table = f"{BATCH_SCHEMA}.{suite}"
    if not file_ids:
        _drop_batch(con, suite)
        return 0
    kind = "TABLE" if as_table else "VIEW"
    _drop_batch(con, suite)
    params = {"file_ids": file_ids} if ":file_ids" in query else {}
    con.execute(f"CREATE {kind} {table} AS {bind(query, params)}")
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _drop_batch(con: Any, suite: str) -> None:
    """Drop ``quality_batch.<suite>``, whichever it is (DuckDB's DROP names the type)."""
    for (kind,) in con.execute(
        "SELECT 'TABLE' FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
        "UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE schema_name = ? AND view_name = ?",
        [BATCH_SCHEMA, suite, BATCH_SCHEMA, suite],
    ).fetchall():
        con.execute(f"DROP {kind} {BATCH_SCHEMA}.{suite}")


#: the batch label (and Dagster metadata) of a suite with nothing new to check
NO_NEW_ROWS = "no new rows"


def _nothing_new(suite: str, data: dict[str, Any], run_id: str) -> list[ExpectationOutcome]:
    now = dt.datetime.now(dt.UTC)
    return [
        ExpectationOutcome(
            run_id=run_id, validated_at=now, suite=suite, batch=NO_NEW_ROWS,
            check_name=s.check_name, expectation_type=s.expectation_type, columns=s.columns,
            severity=s.severity, success=True, description=s.description,
            element_count=0, unexpected_count=0,
        )
        for s in specs_from_dict(data)
    ]


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list):
        if value == [NO_SMALL_COUNT]:
            return "none (nothing is suppressed)"
        numbers = [int(v) for v in value if str(v).isdigit()]
        if len(numbers) == len(value) and numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{numbers[0]} to {numbers[-1]}"
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def threshold_text(spec: CheckSpec, parameters: dict[str, Any]) -> str | None:
    """The run-time values an expectation applied ("max_value 0.05"), for the auditor:
    a warning's threshold is part of what it says."""
    parts = [f"{kwarg} {_shown(parameters[name])}" for kwarg, name in spec.parameters
             if name in parameters]
    return "; ".join(parts) or None


def run_checks(settings: Settings, asset_keys: Sequence[dg.AssetKey], run_id: str,
               log: Any = None) -> dict[dg.AssetKey, list[ExpectationOutcome]]:
    """Validate every suite guarding these assets, record the outcomes, rebuild the report.

    The caller must not hold a DuckDB connection to the file (GX opens it read-only).
    """
    from funnel_pipeline.quality import report
    from funnel_pipeline.quality.runner import validate

    plans: list[tuple[dg.AssetKey, str, dict[str, Any], dict[str, Any] | None, str, int]] = []
    with warehouse.open_warehouse(settings) as con:
        threshold = vocabulary.current_config(con).publication.threshold
        history.ensure_table(con)
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {BATCH_SCHEMA}")
        for key in asset_keys:
            for name, data in suites_for(key):
                batch = data["meta"]["batch"]
                if "table" in batch:
                    rows = con.execute(f"SELECT count(*) FROM {batch['table']}").fetchone()[0]
                    plans.append((key, name, data, {"table": batch["table"]}, batch["table"],
                                  rows))
                    continue
                ids, all_files = _new_file_ids(con, name, batch["new_files"], run_id)
                whole = all_files and bool(ids) and "query_when_all_new" in batch
                query, as_table = ((batch["query_when_all_new"], False) if whole
                                   else (batch["query"], batch.get("materialise", True)))
                rows = _materialise_batch(con, name, query, ids, as_table=as_table)
                label = f"{rows} new rows from {len(ids)} file(s)"
                if whole:
                    label += " (every file is new: the whole table)"
                # an empty batch has nothing to check (and GX fails a mean over no rows)
                args = {"table": f"{BATCH_SCHEMA}.{name}"} if rows else None
                plans.append((key, name, data, args, label, rows))

    parameters = expectation_parameters(settings, threshold)
    duckdb_config = {
        "memory_limit": settings.duckdb_memory_limit,
        "threads": str(settings.duckdb_threads or ""),
        "temp_directory": settings.duckdb_temp_dir,
    }
    results: dict[dg.AssetKey, list[ExpectationOutcome]] = {key: [] for key in asset_keys}
    for key, name, data, args, label, rows in plans:
        specs = {s.check_name: s for s in specs_from_dict(data)}
        if args is None:
            outcomes = _nothing_new(name, data, run_id)
        else:
            # an expectation over a whole batch (a rows query) reports no row count of its
            # own: it checked every row of the batch
            outcomes = [
                dataclasses.replace(
                    o, batch=label,
                    element_count=rows if o.element_count is None else o.element_count)
                for o in validate(settings.duckdb_path, name, expectation_parameters=parameters,
                                  run_id=run_id, duckdb_config=duckdb_config, **args)
            ]
        outcomes = [dataclasses.replace(o, threshold=threshold_text(specs[o.check_name],
                                                                    parameters))
                    for o in outcomes]
        results[key].extend(outcomes)
        if log is not None:
            failed = [o.check_name for o in outcomes if not o.success]
            log.info(f"suite {name} on {key.to_user_string()}: {len(outcomes)} checks, "
                     f"failed: {', '.join(failed) or 'none'}")

    with warehouse.open_warehouse(settings) as con:
        for _, name, data, *_ in plans:
            if "query" in data["meta"]["batch"]:
                _drop_batch(con, name)
        for key, outcomes in results.items():
            history.record_outcomes(con, outcomes, asset_key=key.to_user_string())
        report.build_report(con, settings.quality_dir)
    return results


def staging_gate(settings: Settings, asset_keys: Sequence[dg.AssetKey], run_id: str, log: Any,
                 results: dict[dg.AssetKey, list[ExpectationOutcome]]) -> Callable[[], bool]:
    """The `gate` of a build-then-swap step (marts, publication): validates the committed
    staging build, keeps the outcomes in `results` for the step to report, and says
    whether to publish (no blocking check failed)."""

    def gate() -> bool:
        results.update(run_checks(settings, asset_keys, run_id, log=log))
        return not blocking_failures(results)

    return gate


def check_results(results: dict[dg.AssetKey, list[ExpectationOutcome]],
                  asset_key: dg.AssetKey | None = None) -> list[dg.AssetCheckResult]:
    """Dagster check results (aggregates only) for one asset, or for all."""
    out = []
    for key, outcomes in results.items():
        if asset_key is not None and key != asset_key:
            continue
        for o in outcomes:
            out.append(dg.AssetCheckResult(
                asset_key=key,
                check_name=o.check_name,
                passed=o.success,
                severity=(dg.AssetCheckSeverity.ERROR if o.severity == "error"
                          else dg.AssetCheckSeverity.WARN),
                description=(f"No new rows this run: nothing to check. {o.description}"
                             if o.batch == NO_NEW_ROWS else o.description),
                metadata=_metadata(o),
            ))
    return out


def rounded(value: float | str | None) -> float | int | str | None:
    """An observed aggregate as people read it: four significant digits."""
    if isinstance(value, float) and not value.is_integer():
        return float(f"{value:.4g}")
    return value


def _metadata(o: ExpectationOutcome) -> dict[str, Any]:
    """Aggregates only. A suite with no new rows gets no numbers at all, so Dagster's
    plots leave the run out instead of dropping to zero, and its batch says why."""
    metadata: dict[str, Any] = {
        "suite": o.suite,
        "expectation_type": o.expectation_type,
        "batch": o.batch,
    }
    if o.threshold:
        metadata["threshold"] = o.threshold
    if o.batch == NO_NEW_ROWS:
        metadata["batch"] = "no new rows: nothing to check this run"
        return metadata
    metadata.update({
        "observed_value": rounded(o.observed_value) if o.observed_value is not None else "n/a",
        "rows_checked": o.element_count if o.element_count is not None else "n/a",
        "unexpected_count": o.unexpected_count if o.unexpected_count is not None else "n/a",
        "unexpected_percent": (round(o.unexpected_percent, 4)
                               if o.unexpected_percent is not None else "n/a"),
    })
    if o.error:
        metadata["could_not_evaluate"] = o.error
    return metadata


def blocking_failures(results: dict[dg.AssetKey, list[ExpectationOutcome]]) -> list[str]:
    return [f"{key.to_user_string()}: {o.check_name}"
            for key, outcomes in results.items() for o in outcomes if o.blocking_failure]


def raise_if_blocking(results: dict[dg.AssetKey, list[ExpectationOutcome]],
                      settings: Settings, consequence: str) -> None:
    """Fail the step (after its check results were yielded) when a blocking check failed.

    ``allow_retries=False``: a retry would re-validate the same bad rows, so the
    step-retry policy (meant for a locked DuckDB file) must not delay the failure.
    """
    failures = blocking_failures(results)
    if not failures:
        return
    index = settings.quality_dir / "index.html"
    raise dg.Failure(
        description=(f"{len(failures)} blocking data-quality check(s) failed "
                     f"({'; '.join(failures)}). {consequence} Report: {index}"),
        metadata={"failed_checks": len(failures), "report": dg.MetadataValue.path(str(index))},
        allow_retries=False,
    )
