"""Safety: file names, headers and values are data, never SQL; formula-like values stay
inert text in the database (exports are checked by the publication tests)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import APPLICANT_HEADER, EVENT_HEADER, read_table, with_groups, write_csv

from funnel_pipeline import pipeline

INJECTION = "'); DROP TABLE core.events; --"
FORMULAS = ["=HYPERLINK(\"http://x\")", "+SUM(1)", "-2+3", "@cmd", "=1;DROP", "\t=tab"]


def test_injection_in_every_field_header_and_file_name_loads_as_data(tmp_path: Path, make_settings):
    landing = tmp_path / "landing"
    landing.mkdir()
    odd_header = f"notes{INJECTION}\"x"
    name = f"events_{INJECTION}.csv"
    write_csv(landing / name, [*EVENT_HEADER, odd_header], [
        [INJECTION, INJECTION, INJECTION, "application", "passed", "2023-01-01", INJECTION],
        ["E2", "A2", "C1", INJECTION, INJECTION, INJECTION, INJECTION],  # rejected, kept whole
    ])
    write_csv(landing / f"applicants_{INJECTION}.csv", [*APPLICANT_HEADER, odd_header], [
        [INJECTION, INJECTION, INJECTION, INJECTION, INJECTION, INJECTION]])
    settings = make_settings(landing)
    pipeline.run_all(settings)
    pipeline.run_all(settings)  # and again: still nothing executed
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    assert files[name]["status"] == "loaded"
    assert files[name]["rows_delivered"] == 2
    (event,) = read_table(settings, "core.events")
    assert (event["event_id"], event["applicant_id"], event["campaign_id"]) == (INJECTION,) * 3
    raw = read_table(settings, "raw.event_rows", order_by="row_number")
    assert json.loads(raw[0]["extra_columns"]) == {odd_header: INJECTION}
    (rejected,) = read_table(settings, "quality.rejected_rows")
    assert rejected["reason"] == "stage not in vocabulary"
    assert json.loads(rejected["row_data"])[odd_header] == INJECTION
    (person,) = with_groups(settings, "core.applicants")
    assert person["applicant_id"] == INJECTION and person["sex"] == "Not stated"
    assert json.loads(person["attributes"])["sex"] == INJECTION
    # every table is still there and the mart counts the one application
    rows = read_table(settings, "marts.stage_pass_rates")
    assert {r["passed"] for r in rows if r["characteristic"] == "all" and r["stage"] == "application"} == {1}


def test_formula_like_values_are_kept_verbatim(tmp_path: Path, make_settings):
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing / "events_1.csv", [*EVENT_HEADER, "comment"], [
        [f"E{i}", value, value, "application", "passed", "2023-01-01", value]
        for i, value in enumerate(FORMULAS)])
    write_csv(landing / "applicants_1.csv", APPLICANT_HEADER, [
        [value, value, value, value, value] for value in FORMULAS])
    settings = make_settings(landing)
    pipeline.run_all(settings)
    raw = read_table(settings, "raw.event_rows", order_by="row_number")
    assert [r["applicant_id"] for r in raw] == FORMULAS
    assert [json.loads(r["extra_columns"])["comment"] for r in raw] == FORMULAS
    events = {e["event_id"]: e for e in read_table(settings, "core.events")}
    # ids are trimmed of white space (CONTRACT section 2), nothing else changes
    assert [events[f"E{i}"]["applicant_id"] for i in range(len(FORMULAS))] == [v.strip() for v in FORMULAS]
    applicants = with_groups(settings, "core.applicants")
    assert sorted(json.loads(a["attributes"])["sex"] for a in applicants) == sorted(FORMULAS)


def test_parquet_column_names_with_quotes_are_identifiers_not_sql(tmp_path: Path, make_settings):
    """Parquet columns are referenced by name: as quoted identifiers ("" doubled), so a
    column name holding quotes and SQL stays a name."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    landing = tmp_path / "landing"
    landing.mkdir()
    evil = 'x" , 1); DROP TABLE core.events; --'
    pq.write_table(pa.table({
        "event_id": ["E1"], "applicant_id": [INJECTION], "campaign_id": ["C1"],
        "stage": ["application"], "outcome": ["passed"], "occurred_at": ["2023-01-01"],
        evil: [INJECTION], "file_row_number": ["kept"],
    }), landing / f"events_{INJECTION}.parquet")
    settings = make_settings(landing)
    pipeline.run_all(settings)
    (raw,) = read_table(settings, "raw.event_rows")
    assert raw["row_number"] == 1
    assert json.loads(raw["extra_columns"]) == {evil: INJECTION, "file_row_number": "kept"}
    assert [e["applicant_id"] for e in read_table(settings, "core.events")] == [INJECTION]
