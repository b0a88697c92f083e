"""Each rule of CONTRACT.md sections 1-4, on landing folders built in the test.

Runs the real steps on a real DuckDB file; figures are checked by hand-derived values
and against the independent oracle (tests/oracle.py).
"""

from __future__ import annotations

from pathlib import Path

import oracle
import pytest
from conftest import APPLICANT_HEADER, EVENT_HEADER, read_table, with_groups, write_csv
from table_compare import assert_tables_match

from funnel_pipeline import pipeline

KEYS = ["characteristic", "group_name", "stage"]


def _all_row(settings, stage: str) -> dict:
    rows = read_table(settings, "marts.stage_pass_rates")
    return next(r for r in rows if r["characteristic"] == "all" and r["stage"] == stage)


def _run_and_check_against_oracle(settings, landing: Path) -> None:
    pipeline.run_all(settings)
    assert_tables_match(read_table(settings, "marts.stage_pass_rates"),
                        oracle.compute_all(landing)["stage_pass_rates"], keys=KEYS)


def _applicants(landing: Path) -> None:
    write_csv(landing / "applicants_01.csv", APPLICANT_HEADER, [
        ["A1", "Female", "Asian or Asian British: Indian", "No", "Straight"],
        ["A2", "M", "White: Irish", "No", "Heterosexual"],
        ["A3", "Woman", "Black", "Yes", "Gay man"],
    ])


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    _applicants(folder)
    return folder


@pytest.mark.parametrize("column", EVENT_HEADER)
@pytest.mark.parametrize("blank", ["", "   "])
def test_blank_required_field_is_rejected(landing, make_settings, column, blank):
    good = ["E1", "A1", "C1", "application", "passed", "2023-01-01"]
    bad = ["E2", "A2", "C1", "application", "passed", "2023-01-02"]
    bad[EVENT_HEADER.index(column)] = blank
    write_csv(landing / "events_1.csv", EVENT_HEADER, [good, bad])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    rejected = read_table(settings, "quality.rejected_rows")
    assert [(r["row_number"], r["reason"]) for r in rejected] == [
        (2, f"missing required field: {column}")]
    assert _all_row(settings, "application")["passed"] == 1


@pytest.mark.parametrize(("stage", "outcome", "occurred_at", "reason"), [
    ("interview", "passed", "2023-01-01", "stage not in vocabulary"),
    ("sift", "deferred", "2023-01-01", "outcome not in vocabulary"),
    ("sift", "passed", "31/02/2023", "occurred_at cannot be parsed"),
    ("sift", "passed", "2023-02-29", "occurred_at cannot be parsed"),
    ("sift", "passed", "infinity", "occurred_at cannot be parsed"),
    ("sift", "passed", "yesterday", "occurred_at cannot be parsed"),
    ("sift", "passed", "2023-1-5", "occurred_at cannot be parsed"),
])
def test_vocabulary_and_timestamp_rejections(landing, make_settings, stage, outcome, occurred_at, reason):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A1", "C1", stage, outcome, occurred_at],
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    rejected = read_table(settings, "quality.rejected_rows")
    assert [(r["file_name"], r["row_number"], r["reason"]) for r in rejected] == [
        ("events_1.csv", 2, reason)]
    # kept whole: the delivered values are all in the stored row
    assert occurred_at in rejected[0]["row_data"] and "E2" in rejected[0]["row_data"]


def test_aliases_case_and_offsets_are_accepted(landing, make_settings):
    write_csv(landing / "events_1.csv", [h.upper() for h in reversed(EVENT_HEADER)], [
        list(reversed(["E1", "A1", "C1", " APPLY ", "Success", "2023-01-01T23:30:00-01:00"])),
        list(reversed(["E2", "A1", "C1", "Paper Sift", "PASS", "2023-01-03 10:00:00"])),
        list(reversed(["E3", "A1", "C1", "SEARCH", "withdrew", "2023-01-05T00:00Z"])),
    ], bom=True, crlf=True)
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    assert read_table(settings, "quality.rejected_rows") == []
    events = {e["event_id"]: e for e in read_table(settings, "core.events")}
    assert events["E1"]["stage"] == "application"
    assert events["E1"]["occurred_at"].isoformat() == "2023-01-02T00:30:00+00:00"
    assert events["E3"]["outcome"] == "withdrawn"


def test_conflicting_duplicates_rejected_identical_counted_once(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A2", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A2", "C1", "application", "Success", "2023-01-01"],  # same meaning, other text
        ["E3", "A3", "C1", "application", "passed", "2023-01-01"],
    ])
    write_csv(landing / "events_2.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],  # identical re-delivery
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    rejected = read_table(settings, "quality.rejected_rows", order_by="row_number")
    assert [(r["row_number"], r["reason"]) for r in rejected] == [
        (2, "conflicting duplicate event_id"), (3, "conflicting duplicate event_id")]
    assert _all_row(settings, "application")["passed"] == 2  # E1 once, E3


def test_conflict_arriving_later_rejects_the_earlier_copy(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"]])
    settings = make_settings(landing)
    pipeline.run_all(settings)
    assert _all_row(settings, "application")["passed"] == 1
    write_csv(landing / "events_2.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "failed", "2023-01-01"]])
    _run_and_check_against_oracle(settings, landing)
    rejected = read_table(settings, "quality.rejected_rows", order_by="file_name")
    assert [(r["file_name"], r["reason"]) for r in rejected] == [
        ("events_1.csv", "conflicting duplicate event_id"),
        ("events_2.csv", "conflicting duplicate event_id")]
    # no application left: no group has an application, so the mart has no rows at all
    assert read_table(settings, "marts.stage_pass_rates") == []
    assert read_table(settings, "core.events") == []


def test_unreadable_files_fail_and_the_rest_loads(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"]])
    (landing / "events_binary.csv").write_bytes(b"event_id,applicant_id\n\xff\xfe\x00garbage\n")
    (landing / "events_notes.txt").write_text("not a landing file")
    (landing / "events_bad.parquet").write_bytes(b"PAR1 truncated")
    (landing / "readme.md").write_text("hello")
    settings = make_settings(landing)
    pipeline.run_all(settings)
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    assert files["events_1.csv"]["status"] == "loaded"
    for name in ("events_binary.csv", "events_notes.txt", "events_bad.parquet", "readme.md"):
        assert files[name]["status"] == "failed", name
        assert files[name]["reason"], name
    assert _all_row(settings, "application")["passed"] == 1


def test_latest_event_wins_and_ties_go_to_greatest_event_id(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A1", "C1", "sift", "passed", "2023-01-10"],
        ["E3", "A1", "C1", "vetting", "failed", "2023-02-01T10:00:00Z"],
        ["E4", "A1", "C1", "vetting", "passed", "2023-02-01T11:00:00+01:00"],  # same instant
        ["E0", "A1", "C1", "vetting", "withdrawn", "2023-01-31"],  # earlier, superseded
        ["E5", "A2", "C1", "application", "passed", "2023-01-01"],
        ["E6", "A2", "C1", "sift", "failed", "2023-01-05"],
        ["E7", "A2", "C1", "sift", "passed", "2023-01-20"],  # appeal supersedes
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    outcomes = {(o["applicant_id"], o["stage"]): o for o in read_table(settings, "core.stage_outcomes")}
    assert outcomes[("A1", "vetting")]["event_id"] == "E4"
    assert outcomes[("A1", "vetting")]["outcome"] == "passed"
    assert outcomes[("A2", "sift")]["outcome"] == "passed"


def test_orphans_counted_nowhere_until_their_application_arrives(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A2", "C1", "sift", "passed", "2023-01-05"],  # no application event yet
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    assert _all_row(settings, "sift")["passed"] == 0
    assert _all_row(settings, "application")["entered"] == 1
    apps = {a["applicant_id"]: a for a in with_groups(settings, "core.applications")}
    assert apps["A2"]["in_funnel"] is False
    write_csv(landing / "events_2.csv", EVENT_HEADER, [
        ["E3", "A2", "C1", "application", "passed", "2023-01-01"]])
    _run_and_check_against_oracle(settings, landing)
    assert _all_row(settings, "sift")["passed"] == 1


def test_out_of_sequence_outcome_counted_at_its_stage(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "A1", "C1", "vetting", "passed", "2023-02-01"],  # no sift, no assessment
        ["E3", "A2", "C1", "application", "failed", "2023-01-01"],
        ["E4", "A2", "C1", "sift", "passed", "2023-01-03"],  # failed before
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    assert _all_row(settings, "vetting")["passed"] == 1
    assert _all_row(settings, "sift")["passed"] == 1
    # A1 passed application and has no sift outcome: pending at sift, while its vetting
    # pass still counts at vetting
    assert _all_row(settings, "sift")["pending"] == 1
    apps = {a["applicant_id"]: a for a in with_groups(settings, "core.applications")}
    assert apps["A1"]["out_of_sequence_stages"] == 1 and apps["A2"]["out_of_sequence_stages"] == 1


def test_pending_and_groups_of_people_without_applicants_row(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"],
        ["E2", "NOROW", "C1", "application", "passed", "2023-01-01"],
        ["E3", "NOROW", "C2", "application", "passed", "2023-01-01"],
    ])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    rows = read_table(settings, "marts.stage_pass_rates")
    not_stated_sex = [r for r in rows if r["characteristic"] == "sex" and r["group_name"] == "Not stated"]
    assert {r["stage"]: r["pending"] for r in not_stated_sex}["sift"] == 2
    assert _all_row(settings, "sift")["pending"] == 3


def test_later_applicants_file_wins(landing, make_settings):
    write_csv(landing / "applicants_02.csv", APPLICANT_HEADER, [
        ["A1", "Male", "White", "No", "Heterosexual"]])
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"]])
    settings = make_settings(landing)
    _run_and_check_against_oracle(settings, landing)
    (person,) = [a for a in with_groups(settings, "core.applicants") if a["applicant_id"] == "A1"]
    assert (person["sex"], person["ethnicity"]) == ("Male", "White")
    # an earlier-sorting file arriving later does not win
    write_csv(landing / "applicants_00.csv", APPLICANT_HEADER, [
        ["A1", "Female", "Black", "Yes", "Bisexual"]])
    _run_and_check_against_oracle(settings, landing)
    (person,) = [a for a in with_groups(settings, "core.applicants") if a["applicant_id"] == "A1"]
    assert person["sex"] == "Male"


def test_run_all_reports_what_it_ingested(landing, make_settings):
    write_csv(landing / "events_1.csv", EVENT_HEADER, [
        ["E1", "A1", "C1", "application", "passed", "2023-01-01"]])
    summary = pipeline.run_all(make_settings(landing))
    assert (summary.files_new, summary.loaded, summary.failed) == (2, 2, 0)
    assert summary.rows_by_kind["events"] == 1
