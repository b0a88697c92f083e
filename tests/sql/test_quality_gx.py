"""Great Expectations on a DuckDB file: the #11579 fix, suites, batches, privacy.

Every test builds its own small DuckDB file under tmp_path. Failing rows carry the
sentinel ``SENTINEL-ID-42`` so the privacy tests can prove no row value leaves GX.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from funnel_pipeline.quality import gx_duckdb_fix, history, query, suites
from funnel_pipeline.quality.outcome import ExpectationOutcome
from funnel_pipeline.quality.runner import DatabaseBusyError, validate

SENTINEL = "SENTINEL-ID-42"
UTC = dt.UTC
WINDOW = {
    "earliest_event_time": dt.datetime(2000, 1, 1, tzinfo=UTC),
    "latest_event_time": dt.datetime(2030, 1, 1, tzinfo=UTC),
}
REPO = Path(__file__).resolve().parents[2]
#: the example suite (test data, not a pipeline suite)
SUITES = Path(__file__).resolve().parents[1] / "fixtures" / "suites"

# file 1: ten clean events. file 2: one bad value per check, each carrying the sentinel.
_EVENTS_SQL = f"""
create schema core;
create table core.events (
    event_id varchar, applicant_id varchar, campaign_id varchar, stage varchar,
    outcome varchar, occurred_at timestamptz, file_id integer
);
insert into core.events
select 'E' || i, 'A' || (i // 2), 'C-2024', 'sift', 'passed',
       timestamptz '2024-01-01 00:00:00+00' + to_seconds(i * 3600), 1
from range(10) r(i);
insert into core.events values
    ('{SENTINEL}', 'A100', 'C-2024', 'sift', 'passed', '2024-02-01 00:00:00+00', 2),
    ('{SENTINEL}', 'A101', 'C-2024', 'sift', 'passed', '2024-02-01 01:00:00+00', 2),
    ('E200', null, 'C-2024', 'sift', 'passed', '2024-02-01 02:00:00+00', 2),
    ('E201', 'A102', 'C-2024', '{SENTINEL} stage', 'passed', '2024-02-01 03:00:00+00', 2),
    ('E202', 'A103', 'bad campaign {SENTINEL}', 'sift', 'passed', '2024-02-01 04:00:00+00', 2),
    ('E203', 'A104', 'C-2024', 'sift', 'passed', '1999-12-31 23:00:00+00', 2);
"""


@pytest.fixture
def events_db(tmp_path: Path) -> Path:
    path = tmp_path / "funnel.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(_EVENTS_SQL)
    return path


def _by_check(outcomes: list[ExpectationOutcome]) -> dict[str, ExpectationOutcome]:
    return {o.check_name: o for o in outcomes}


# --- the GX issue #11579 fix ---------------------------------------------------------


def _raw_gx_results(path: Path) -> tuple[object, object]:
    """One must-pass and one must-fail expectation through plain GX (no runner)."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    datasource = context.data_sources.add_sql(
        name="d", connection_string=f"duckdb:///{path}?access_mode=read_only"
    )
    try:
        batch = (
            datasource.add_table_asset(name="events", table_name="events", schema_name="core")
            .add_batch_definition_whole_table("all")
            .get_batch()
        )
        must_pass = batch.validate(gx.expectations.ExpectColumnValuesToNotBeNull(column="event_id"))
        must_fail = batch.validate(
            gx.expectations.ExpectColumnValuesToNotBeNull(column="applicant_id")
        )
    finally:
        datasource.get_execution_engine().engine.dispose()
    return must_pass, must_fail


def test_fix_is_needed_and_works(events_db: Path) -> None:
    gx_duckdb_fix.uninstall()
    try:
        broken_pass, broken_fail = _raw_gx_results(events_db)
        # without the patch even a must-pass expectation fails, on an exception
        assert broken_pass.success is False
        assert broken_fail.success is False
        messages = [i["exception_message"] for i in broken_pass.exception_info.values()]
        assert any("list index out of range" in m for m in messages)
    finally:
        gx_duckdb_fix.install()
    assert gx_duckdb_fix.is_installed()
    must_pass, must_fail = _raw_gx_results(events_db)
    assert must_pass.success is True
    assert must_fail.success is False
    assert must_fail.result["unexpected_count"] == 1
    assert not must_fail.exception_info.get("raised_exception")


def test_install_is_idempotent() -> None:
    from great_expectations.execution_engine.sqlalchemy_execution_engine import (
        SqlAlchemyExecutionEngine,
    )

    gx_duckdb_fix.install()
    first = SqlAlchemyExecutionEngine.__dict__["_execute_query_with_recovery"].__func__
    gx_duckdb_fix.install()
    second = SqlAlchemyExecutionEngine.__dict__["_execute_query_with_recovery"].__func__
    assert first is second
    assert first.__wrapped__.__name__ == "_execute_query_with_recovery"
    assert not hasattr(first.__wrapped__, "__wrapped__")  # wrapped once, not twice


def test_version_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    gx_duckdb_fix.check_gx_version(gx_duckdb_fix.PINNED_GX_VERSION)
    with pytest.raises(gx_duckdb_fix.GXVersionMismatchError, match="1.24.1"):
        gx_duckdb_fix.check_gx_version("1.25.0")
    import great_expectations

    monkeypatch.setattr(great_expectations, "__version__", "9.9.9")
    with pytest.raises(gx_duckdb_fix.GXVersionMismatchError, match="9.9.9"):
        gx_duckdb_fix.install()


def test_pin_matches_pyproject() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert f'"great_expectations=={gx_duckdb_fix.PINNED_GX_VERSION}"' in text


# --- suite files ---------------------------------------------------------------------


def test_example_suite_loads_with_meta() -> None:
    assert "example_events" in suites.list_suites(SUITES)
    specs = suites.check_specs("example_events", SUITES)
    assert len(specs) == 9
    assert len({s.check_name for s in specs}) == 9
    assert {s.severity for s in specs} == {"error", "warn"}
    assert all(s.description for s in specs)
    suite = suites.load_suite("example_events", SUITES)
    assert suite.name == "example_events"
    assert [e.meta["check_name"] for e in suite.expectations] == [s.check_name for s in specs]


def test_check_specs_do_not_import_gx() -> None:
    code = (
        "import sys\n"
        "from funnel_pipeline.quality import check_specs, list_suites\n"
        "import funnel_pipeline.quality.runner, funnel_pipeline.quality.report\n"
        f"assert check_specs('example_events', __import__('pathlib').Path({str(SUITES)!r}))\n"
        "assert 'great_expectations' not in sys.modules, 'GX imported eagerly'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]


def _write_suite(folder: Path, name: str, expectations: list[dict]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "expectations": expectations}))


_GOOD_META = {"check_name": "c", "severity": "error", "description": "d"}


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"severity": "error", "description": "d"}, "check_name"),
        ({**_GOOD_META, "check_name": "Not Snake"}, "check_name"),
        ({**_GOOD_META, "severity": "critical"}, "severity"),
        ({**_GOOD_META, "description": "  "}, "description"),
    ],
)
def test_suite_meta_is_required(tmp_path: Path, meta: dict, message: str) -> None:
    exp = {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}
    _write_suite(tmp_path, "s", [{**exp, "meta": meta}])
    with pytest.raises(suites.SuiteFormatError, match=message):
        suites.check_specs("s", tmp_path)


def test_suite_file_errors(tmp_path: Path) -> None:
    exp = {"type": "expect_table_row_count_to_be_between", "kwargs": {}, "meta": _GOOD_META}
    _write_suite(tmp_path, "dup", [exp, exp])
    with pytest.raises(suites.SuiteFormatError, match="duplicate"):
        suites.check_specs("dup", tmp_path)
    (tmp_path / "renamed.json").write_text(json.dumps({"name": "other", "expectations": [exp]}))
    with pytest.raises(suites.SuiteFormatError, match="must be 'renamed'"):
        suites.check_specs("renamed", tmp_path)
    with pytest.raises(suites.SuiteFormatError, match="snake_case"):
        suites.check_specs("../etc/passwd", tmp_path)
    with pytest.raises(suites.SuiteFormatError, match="no suite file"):
        suites.check_specs("missing", tmp_path)
    assert suites.list_suites(tmp_path) == ["dup", "renamed"]


def test_suite_round_trips_through_gx() -> None:
    original = suites.read_suite_json("example_events", SUITES)
    suite = suites.load_suite("example_events", SUITES)
    again = suite.to_json_dict()
    again.pop("id", None)
    for exp in again["expectations"]:
        exp.pop("id", None)
    assert [e["meta"] for e in again["expectations"]] == [
        e["meta"] for e in original["expectations"]
    ]
    assert (
        suites.suite_from_dict(again).to_json_dict()["expectations"][0]["type"]
        == (original["expectations"][0]["type"])
    )


# --- query parameters ----------------------------------------------------------------


def test_bind_renders_strict_literals() -> None:
    sql = query.bind(
        "select * from t where id in :ids and name = :n and d >= :d and ts < :ts and x::int > 0",
        {
            "ids": [1, "a'b"],
            "n": "o'reilly; drop table t; --",
            "d": dt.date(2024, 1, 2),
            "ts": dt.datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        },
    )
    assert sql == (
        "select * from t where id in (1, 'a''b') and name = 'o''reilly; drop table t; --' "
        "and d >= DATE '2024-01-02' and ts < TIMESTAMPTZ '2024-01-02T03:04:00+00:00' "
        "and x::int > 0"
    )
    assert query.literal([]) == "(SELECT NULL WHERE FALSE)"
    assert query.literal(Decimal("1.5")) == "1.5"
    with pytest.raises(KeyError):
        query.bind("select :missing", {})
    with pytest.raises(ValueError, match="not used"):
        query.bind("select 1", {"typo": 1})
    with pytest.raises(TypeError):
        query.literal(object())
    with pytest.raises(ValueError):
        query.literal(float("nan"))


def test_bound_literals_run_in_duckdb() -> None:
    tricky = ["a'b", "back\\slash", "ünï", "--", "", "x' or '1'='1", "tab\there"]
    with duckdb.connect() as con:
        con.execute("create table t (v varchar)")
        con.executemany("insert into t values (?)", [(v,) for v in [*tricky, "other"]])
        sql = query.bind("select v from t where v in :vals order by v", {"vals": tricky})
        assert [r[0] for r in con.execute(sql).fetchall()] == sorted(tricky)
        empty = query.bind("select count(*) from t where v in :e", {"e": []})
        not_in = query.bind("select count(*) from t where v not in :e", {"e": []})
        assert con.execute(empty).fetchone() == (0,)
        assert con.execute(not_in).fetchone() == (len(tricky) + 1,)


# --- validate(): pass/fail semantics, batches ----------------------------------------


def test_whole_table_batch(events_db: Path) -> None:
    outcomes = validate(
        events_db,
        "example_events", suites_dir=SUITES,
        table="core.events",
        expectation_parameters=WINDOW,
        run_id="run-table",
    )
    assert [o.check_name for o in outcomes] == [
        s.check_name for s in suites.check_specs("example_events", SUITES)
    ]
    got = _by_check(outcomes)
    assert {name for name, o in got.items() if not o.success} == {
        "event_id_unique",
        "applicant_id_present",
        "stage_is_known",
        "occurred_at_in_window",
        "campaign_id_format",
    }
    assert got["has_rows"].observed_value == 16
    assert got["applicant_id_present"].element_count == 16
    assert got["applicant_id_present"].unexpected_count == 1
    assert got["applicant_id_present"].unexpected_percent == pytest.approx(100 / 16)
    assert got["event_id_unique"].unexpected_count == 2
    assert got["campaign_id_format"].unexpected_count == 1
    assert got["campaign_id_format"].severity == "warn"
    assert not got["campaign_id_format"].blocking_failure
    assert got["stage_is_known"].blocking_failure
    assert got["stage_is_known"].columns == ("stage",)
    assert got["no_repeated_stage_record"].columns == (
        "applicant_id",
        "campaign_id",
        "stage",
        "occurred_at",
    )
    assert all(o.run_id == "run-table" and o.batch == "core.events" for o in outcomes)
    assert all(o.error is None for o in outcomes)


def test_query_batch_validates_only_the_selected_rows(events_db: Path) -> None:
    sql = "select * from core.events where file_id in :file_ids"
    clean = validate(
        events_db,
        "example_events", suites_dir=SUITES,
        query=sql,
        query_params={"file_ids": [1]},
        expectation_parameters=WINDOW,
    )
    assert all(o.success for o in clean), [o for o in clean if not o.success]
    assert _by_check(clean)["has_rows"].observed_value == 10
    assert {o.batch for o in clean} == {"query"}

    dirty = _by_check(
        validate(
            events_db,
            "example_events", suites_dir=SUITES,
            query=sql,
            query_params={"file_ids": [2]},
            expectation_parameters=WINDOW,
        )
    )
    assert dirty["has_rows"].observed_value == 6
    assert not dirty["event_id_unique"].success
    assert not dirty["occurred_at_in_window"].success
    assert dirty["occurred_at_in_window"].unexpected_count == 1

    nothing = _by_check(
        validate(
            events_db,
            "example_events", suites_dir=SUITES,
            query=sql,
            query_params={"file_ids": []},
            expectation_parameters=WINDOW,
        )
    )
    assert nothing["has_rows"].success is False
    assert nothing["has_rows"].observed_value == 0


def test_expectation_parameters_change_the_verdict(events_db: Path) -> None:
    narrow = {**WINDOW, "earliest_event_time": dt.datetime(2024, 1, 1, 5, tzinfo=UTC)}
    got = _by_check(
        validate(
            events_db,
            "example_events", suites_dir=SUITES,
            query=("select * from core.events where file_id = :f"),
            query_params={"f": 1},
            expectation_parameters=narrow,
        )
    )
    assert got["occurred_at_in_window"].success is False
    assert got["occurred_at_in_window"].unexpected_count == 5


def test_in_memory_suite_and_unevaluable_checks(events_db: Path) -> None:
    """A check that errors is a failure carrying only the exception class.

    The database error here quotes the offending value ("Could not convert string
    'SENTINEL-ID-42 stage' to INT32"), so the message must not be kept.
    """
    import great_expectations as gx

    def meta(name: str) -> dict:
        return {"check_name": name, "severity": "error", "description": f"{name} check"}

    suite = gx.ExpectationSuite(
        name="adhoc",
        expectations=[
            gx.expectations.UnexpectedRowsExpectation(
                unexpected_rows_query="select * from {batch} where cast(stage as integer) > 0",
                meta=meta("cast_fails"),
            ),
            gx.expectations.ExpectColumnValuesToMatchRegex(
                column="stage", regex="^s", meta=meta("regex_unsupported")
            ),
            gx.expectations.ExpectColumnValuesToNotBeNull(
                column="no_such_column", meta=meta("missing_column")
            ),
            gx.expectations.ExpectColumnMaxToBeBetween(
                column="file_id", max_value=5, meta=meta("max_file")
            ),
            gx.expectations.ExpectColumnDistinctValuesToBeInSet(
                column="stage", value_set=["sift"], meta=meta("distinct_stages")
            ),
            # GX compares DuckDB columns with SQLAlchemy's generic type names ("String")
            gx.expectations.ExpectColumnValuesToBeOfType(
                column="stage", type_="String", meta=meta("stage_type")
            ),
        ],
    )
    got = _by_check(validate(events_db, suite, table="core.events"))
    for name in ("cast_fails", "regex_unsupported", "missing_column"):
        assert got[name].success is False
        assert got[name].error, name
        assert re.fullmatch(r"[A-Za-z]+( \([A-Za-z]+\))?", got[name].error), got[name].error
    assert got["cast_fails"].error == "MetricResolutionError (ConversionException)"
    assert got["max_file"].success and got["max_file"].observed_value == 2
    assert got["distinct_stages"].success is False
    assert got["distinct_stages"].observed_value is None  # a list of values: dropped
    assert got["stage_type"].success and got["stage_type"].observed_value == "String"
    assert SENTINEL not in json.dumps([o.as_dict() for o in got.values()], default=str)
    # the caller's object is not mutated by being added to GX's context
    assert suite.id is None


def test_one_of_table_or_query(events_db: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        validate(events_db, "example_events", suites_dir=SUITES)
    with pytest.raises(ValueError, match="exactly one"):
        validate(events_db, "example_events", suites_dir=SUITES, table="core.events", query="select 1 as x")
    with pytest.raises(FileNotFoundError):
        validate(events_db.with_name("absent.duckdb"), "example_events", suites_dir=SUITES, table="core.events")


# --- privacy, file handling, no network ----------------------------------------------


def test_no_row_value_in_outcomes_or_history(events_db: Path) -> None:
    outcomes = validate(
        events_db,
        "example_events", suites_dir=SUITES,
        table="core.events",
        expectation_parameters=WINDOW,
        run_id="r-privacy",
    )
    assert any(not o.success for o in outcomes)
    text = json.dumps([dataclasses.asdict(o) for o in outcomes], default=str)
    assert SENTINEL not in text and "sentinel" not in text.lower()

    with duckdb.connect(str(events_db)) as con:
        assert history.record_outcomes(con, outcomes, asset_key="core/events") == 9
        stored = con.execute(
            "select to_json(list(v)) from quality.validation_results v"
        ).fetchone()[0]
    assert "r-privacy" in stored and "event_id_unique" in stored
    assert SENTINEL not in stored


def test_history_rows_and_retry_replaces(events_db: Path) -> None:
    outcomes = validate(
        events_db, "example_events", suites_dir=SUITES, table="core.events", expectation_parameters=WINDOW, run_id="r1"
    )
    with duckdb.connect(str(events_db)) as con:
        history.record_outcomes(con, outcomes, asset_key="core/events")
        history.record_outcomes(con, outcomes, asset_key="core/events")  # a retried step
        con.execute("begin transaction")  # inside the caller's transaction: theirs rules
        history.record_outcomes(con, outcomes, asset_key="core/events_again")
        con.execute("rollback")
        rows = con.execute(
            "select check_name, severity, success, observed_value, element_count, "
            "unexpected_count, columns, validated_at "
            "from quality.validation_results where run_id = 'r1' order by check_name"
        ).fetchall()
        columns = [
            c[0]
            for c in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'quality' and table_name = 'validation_results' "
                "order by ordinal_position"
            ).fetchall()
        ]
    assert columns[:13] == [
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
    ]
    assert len(rows) == 9
    by_name = {r[0]: r for r in rows}
    assert by_name["has_rows"][3] == "16"
    assert by_name["event_id_unique"][2:6] == (False, None, 16, 2)
    assert by_name["no_repeated_stage_record"][6] == "applicant_id,campaign_id,stage,occurred_at"
    assert by_name["has_rows"][7].tzinfo is not None


def test_file_is_released_and_busy_file_is_reported(events_db: Path) -> None:
    validate(events_db, "example_events", suites_dir=SUITES, table="core.events", expectation_parameters=WINDOW)
    # the file is free again: a read-write connection in this same process opens
    with duckdb.connect(str(events_db)) as con:
        con.execute("create table core.after as select 1 as x")
        # while this process holds a read-write connection, a read-only open must fail
        with pytest.raises(DatabaseBusyError, match="Close this process's own"):
            validate(
                events_db, "example_events", suites_dir=SUITES, table="core.events", expectation_parameters=WINDOW
            )


def test_no_network_and_no_files_written(
    events_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address)
            raise OSError("network blocked by test")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    before = sorted(p.name for p in events_db.parent.iterdir())
    outcomes = validate(
        events_db, "example_events", suites_dir=SUITES, table="core.events", expectation_parameters=WINDOW
    )
    assert len(outcomes) == 9
    assert attempts == []
    assert list(workdir.iterdir()) == []  # no gx/ folder, no uncommitted/ results
    assert sorted(p.name for p in events_db.parent.iterdir()) == before
