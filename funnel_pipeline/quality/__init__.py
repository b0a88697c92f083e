"""Data-quality checks: suite files → Great Expectations on DuckDB → outcomes, history, report.

Modules (one job each; none imports ``great_expectations`` at import time):

- ``suites``        find, check and load suite files; ``check_specs`` declares checks without GX
- ``runner``        ``validate(database_path, suite, table=… | query=…)`` → outcomes
- ``gx_duckdb_fix`` the patch GX needs to run on duckdb-engine (GX issue #11579), version-pinned
- ``outcome``       ``ExpectationOutcome``: counts and aggregates only, never row values
- ``query``         binds ``:name`` parameters into a batch query as strict literals
- ``history``       appends outcomes to ``quality.validation_results``
- ``report``        the offline auditor report (static HTML, inline CSS, no external URL)
- ``checks``        suites → Dagster asset checks: which asset, which batch (suite meta),
                    run per step, record, rebuild the report, fail on blocking
- ``mart_suites``   generates the repetitive ``expectations/mart_*.json`` files

Suite file format
-----------------
One file per suite: ``expectations/<suite_name>.json`` (installed as the package
``funnel_pipeline.expectations``). It is Great Expectations' own suite JSON, loaded with
``gx.ExpectationSuite(**json.loads(text))``, so GX documentation applies::

    {
      "name": "example_events",                       # must equal the file name
      "meta": {"description": "What this suite protects, for a reviewer."},
      "expectations": [
        {
          "type": "expect_column_values_to_not_be_null",
          "kwargs": {"column": "event_id"},
          "meta": {
            "check_name": "event_id_present",         # required
            "severity": "error",                      # required
            "description": "Every event has an id."   # required
          }
        }
      ]
    }

Required ``meta`` keys on every expectation (``load_suite`` rejects a file without them):

- ``check_name``: snake_case, unique within the suite, stable over time. It names the
  Dagster asset check and the rows of ``quality.validation_results``; renaming it starts
  a new history.
- ``severity``: ``"error"`` = blocking (the asset check fails with ERROR severity and
  downstream assets must not use the batch) or ``"warn"`` = reported, not blocking.
- ``description``: one plain-English sentence an auditor can read without knowing GX;
  it is shown in the Dagster UI and the auditor report.

Other notes for suite authors:

- Values that vary per run (e.g. the earliest valid event date) go in kwargs as
  ``{"$PARAMETER": "name"}`` and are passed as ``validate(..., expectation_parameters=…)``.
  Give both bounds of a ``*_between`` the same type (e.g. two tz-aware datetimes): GX
  parses a date-only string to a ``date`` and a mixed pair fails with "can't compare
  datetime.datetime to datetime.date".
- ``expect_column_values_to_be_of_type`` on DuckDB compares SQLAlchemy's generic type
  names (``"String"``, ``"Integer"``…), not DuckDB's (``"VARCHAR"``).
- ``expect_column_values_to_match_regex`` is not supported by GX on DuckDB ("Regex is
  not supported for dialect duckdb"); use ``unexpected_rows_expectation`` with
  ``regexp_matches`` in ``unexpected_rows_query`` (``{batch}`` names the batch).
- Only numeric observed values (counts, min/max/mean of numbers) and column type names
  are kept; do not put min/max expectations on identifier columns, where an aggregate of
  a one-row batch would be an applicant's value.
- GX's own ``severity`` field on an expectation is ignored here; ``meta.severity`` rules.
"""

from funnel_pipeline.quality.outcome import ExpectationOutcome
from funnel_pipeline.quality.suites import (
    CheckSpec,
    SuiteFormatError,
    check_specs,
    list_suites,
    load_suite,
)

__all__ = [
    "CheckSpec",
    "ExpectationOutcome",
    "SuiteFormatError",
    "check_specs",
    "list_suites",
    "load_suite",
]
