"""CONTRACT.md sections 6-10: optional inputs, further marts, publication export, the
contract's examples under the built-in funnel and a force's own.

Every test runs the real steps on a real DuckDB file in tmp_path and compares with
figures computed independently: the expected CSVs of tests/fixtures, or tests/oracle.py
(pure Python + scipy/statsmodels, no DuckDB, no funnel_pipeline import) on a landing
folder written by the test itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import oracle
import pytest
from conftest import (
    APPLICANT_HEADER,
    EVENT_HEADER,
    FIXTURES,
    read_table,
    write_csv,
)
from statsmodels.stats.multitest import multipletests
from table_compare import assert_same_order, assert_tables_match, load_expected_csv
from test_oracle_v12 import TABLE_KEYS

from funnel_pipeline import pipeline
from funnel_pipeline.publish import summary

OPTIONAL_EXPECTED = FIXTURES / "optional-landing.v12.expected"
FORCE_EXPECTED = FIXTURES / "force-landing.expected"
SECTION_7 = [t for t in TABLE_KEYS if t != "stage_pass_rates"]
CAMPAIGN_HEADER = ["campaign_id", "entry_route", "title", "opened_on", "closed_on"]
POPULATION_HEADER = ["characteristic", "group_name", "population_share", "area", "source"]
INTERVENTION_HEADER = ["intervention_id", "name", "started_on", "ended_on", "stage", "campaign_id"]


def _order_by(table: str) -> str | None:
    return None if table == "drop_out_points" else ", ".join(TABLE_KEYS[table])


def _check_against(settings, expected: dict[str, list[dict]], tables) -> None:
    for table in tables:
        actual = read_table(settings, f"marts.{table}", order_by=_order_by(table))
        assert_tables_match(actual, expected[table], TABLE_KEYS[table])
        if table == "drop_out_points":
            assert_same_order(actual, expected[table], TABLE_KEYS[table])


# --- the contract's example ------------------------------------------------------------


@pytest.fixture(scope="module")
def optional_run(tmp_path_factory):
    from funnel_pipeline.settings import Settings

    tmp = tmp_path_factory.mktemp("optional")
    settings = Settings(landing_dir=FIXTURES / "optional-landing", duckdb_path=tmp / "f.duckdb",
                        reports_dir=tmp / "reports", duckdb_memory_limit="1GB")
    pipeline.run_all(settings)
    return settings


@pytest.fixture(scope="module")
def force_run(tmp_path_factory):
    """force-landing under its own funnel (tests/fixtures/funnel.custom.toml)."""
    from funnel_pipeline.settings import Settings

    tmp = tmp_path_factory.mktemp("force")
    settings = Settings(landing_dir=FIXTURES / "force-landing", duckdb_path=tmp / "f.duckdb",
                        reports_dir=tmp / "reports", duckdb_memory_limit="1GB",
                        config_path=str(FIXTURES / "funnel.custom.toml"))
    pipeline.run_all(settings)
    return settings


def _matches(settings, expected_dir: Path, table: str) -> None:
    expected = load_expected_csv(expected_dir / f"{table}.csv")
    actual = read_table(settings, f"marts.{table}")
    if expected:
        assert set(actual[0]) == set(expected[0]), "the contract's columns"
    assert_tables_match(actual, expected, TABLE_KEYS[table])
    if table == "drop_out_points":
        assert_same_order(actual, expected, TABLE_KEYS[table])


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_optional_landing_matches_expected(optional_run, table):
    """Every v1.2 table of the contract's example, built-in funnel, at 1e-9."""
    _matches(optional_run, OPTIONAL_EXPECTED, table)


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_force_landing_matches_expected_under_its_own_funnel(force_run, table):
    """Every v1.2 table of the example force (seven stages, age bands, religion), at 1e-9."""
    _matches(force_run, FORCE_EXPECTED, table)


def test_pass_rate_columns_in_the_contract_order(optional_run):
    """Section 5's columns, then section 10's interval after fisher_p_value."""
    actual = read_table(optional_run, "marts.stage_pass_rates")
    assert list(actual[0]) == [
        "characteristic", "group_name", "stage", "stage_order", "entered", "passed", "failed",
        "withdrawn", "pending", "pass_rate", "pass_rate_ci_low", "pass_rate_ci_high",
        "cumulative_pass_rate", "reference_group", "adverse_impact_ratio", "fisher_p_value",
        "air_ci_low", "air_ci_high", "flagged"]


def test_optional_rejections(optional_run):
    rejected = {(r["kind"], r["reason"]) for r in read_table(optional_run, "quality.rejected_rows")}
    assert ("campaigns", "missing required field: entry_route") in rejected
    assert ("population", "population_share cannot be parsed") in rejected
    assert ("interventions", "started_on cannot be parsed") in rejected


def test_holm_matches_statsmodels(optional_run):
    """holm_p_value = statsmodels multipletests(method='holm') per source table family."""
    holm = {}
    for table in ("stage_pass_rates", "stage_pass_rates_by_campaign",
                  "stage_pass_rates_by_entry_route", "stage_pass_rates_by_year",
                  "intersectional_stage_pass_rates"):
        rows = [r for r in read_table(optional_run, f"marts.{table}")
                if r["fisher_p_value"] is not None]
        adjusted = multipletests([r["fisher_p_value"] for r in rows], method="holm")[1]
        for r, p in zip(rows, adjusted):
            holm[(table, r.get("campaign_id"), r.get("entry_route"), r.get("application_year"),
                  r["characteristic"], r["group_name"], r["stage"])] = p
    points = read_table(optional_run, "marts.drop_out_points")
    assert points
    for r in points:
        key = (r["source_table"], r["campaign_id"], r["entry_route"], r["application_year"],
               r["characteristic"], r["group_name"], r["stage"])
        assert r["holm_p_value"] == pytest.approx(holm[key], abs=1e-12)


def test_summary_names_top_drop_out(optional_run):
    path = Path(optional_run.reports_dir) / summary.SUMMARY_NAME
    text = path.read_text(encoding="utf-8")
    assert len(text.encode()) < 8192
    top = read_table(optional_run, "marts.drop_out_points")[0]
    assert top["group_name"] in text and top["stage"].capitalize() in text
    assert "fewer passed" in text and "people" in text


def test_rebuild_is_idempotent(optional_run):
    before = {t: read_table(optional_run, f"marts.{t}", order_by=_order_by(t)) for t in TABLE_KEYS}
    rejected = len(read_table(optional_run, "quality.rejected_rows"))
    pipeline.run_all(optional_run)
    for t in TABLE_KEYS:
        assert read_table(optional_run, f"marts.{t}", order_by=_order_by(t)) == before[t]
    assert len(read_table(optional_run, "quality.rejected_rows")) == rejected


# --- a landing folder built here: edge cases -------------------------------------------

SEXES = ["Male", "F", "m", "Woman", "", "Prefer not to say"]
ETHNICITIES = ["White", "White: Irish", "Asian or Asian British: Indian", "Black", "White",
               "Arab", "white", "Asian"]


def _ts(day: int, hour: int = 9) -> str:
    return f"2021-{1 + day // 28:02d}-{1 + day % 28:02d}T{hour:02d}:00:00Z"


def build_edge_landing(folder: Path, *, route_c1: str = "PCDA") -> Path:
    """~90 people over four campaigns with planted gaps and every edge the contract names."""
    folder.mkdir(parents=True, exist_ok=True)
    applicants, events = [], []
    n_event = 0

    def ev(person: str, campaign: str, stage: str, outcome: str, at: str) -> None:
        nonlocal n_event
        n_event += 1
        events.append([f"E{n_event:05d}", person, campaign, stage, outcome, at])

    for i in range(90):
        person = f"P{i:03d}"
        if i % 17 != 5:  # a few people have no applicants row (Not stated everywhere)
            applicants.append([person, SEXES[i % 6], ETHNICITIES[i % 8],
                               "Yes" if i % 11 == 0 else "No",
                               "Bisexual" if i == 38 else  # withdraws at application: n = 0
                               "Gay man" if i % 13 == 0 else ("Straight" if i % 5 else "")])
        campaign = ["C1", "C2", "C3", "C9"][i % 4]
        female = SEXES[i % 6] in ("F", "Woman")
        asian = "Asian" in ETHNICITIES[i % 8]
        ev(person, campaign, "Apply", "passed" if i % 19 else "withdrawn", _ts(i % 20))
        if i % 19 == 0:
            continue
        sift_pass = (i % 7 != 0) if not (female or asian) else (i % 3 == 0)
        if i % 23 == 1:  # outcome exactly on an intervention window edge
            sift_at = "2021-03-01T00:00:00Z"
        elif i % 23 == 2:
            sift_at = "2021-02-28T23:59:59Z"
        elif i % 23 == 3:
            sift_at = "2021-03-01T00:30:00+01:00"  # = 2021-02-28 23:30 UTC
        else:
            sift_at = _ts(30 + i % 40, 10)
        ev(person, campaign, "paper sift", "passed" if sift_pass else "failed", sift_at)
        if i % 29 == 4:  # a tie: same occurred_at, the greatest event_id wins
            ev(person, campaign, "sift", "failed" if sift_pass else "passed", sift_at)
        if not sift_pass:
            continue
        # negative duration: the assessment outcome dated before the sift pass
        assess_at = _ts(10, 8) if i % 31 == 3 else _ts(75 + i % 30, 11)
        ev(person, campaign, "SEARCH", "pass" if i % 4 else "fail", assess_at)
        if i % 4 == 0:
            continue
        if i % 9 == 0:
            continue  # pending at vetting
        ev(person, campaign, "vetting check", "withdrew" if i % 10 == 1 else "passed", _ts(110 + i % 20))
        if i % 10 == 1:
            continue
        ev(person, campaign, "offer", "successful" if i % 6 else "failed", _ts(140 + i % 30))
    write_csv(folder / "applicants_01.csv", APPLICANT_HEADER, applicants)
    write_csv(folder / "events_01.csv", EVENT_HEADER, events)
    write_csv(folder / "events_01_resend.csv", EVENT_HEADER, events[:40])  # identical re-delivery
    write_csv(folder / "campaigns_01.csv", CAMPAIGN_HEADER, [
        ["C1", f" {route_c1} ", "Intake 1", "2021-01-01", "2021-02-01"],
        ["C2", "DHEP", "Intake 2", "2021-01-05", ""],
        ["C9", "Police Now", "Intake 9", "", ""],
        ["C7", "", "blank route", "", ""],
        ["C8", "Transferee", "bad date", "01/02/2021", ""],
    ])
    write_csv(folder / "campaigns_02.csv", CAMPAIGN_HEADER, [
        ["C2", "DHEP", "Intake 2", "2021-01-05", ""],      # identical copy: counts once
        ["C9", "Transferee", "Intake 9", "", ""],         # conflicting: C9 becomes Unknown
    ])
    write_csv(folder / "population.csv", POPULATION_HEADER, [
        ["sex", "Male", "0.49", "Area", "census"],
        ["Sex", "F", "0.51", "Area", "census"],           # alias
        ["ethnicity", "White", "0.8", "", ""],
        ["ethnicity", "Mixed", "0.03", "", ""],           # a group with no applications
        ["ethnic_minority", "yes", "0.2", "", ""],        # derived, case-insensitive
        ["disability", "Yes", "0", "", ""],               # zero share → NULL ratios
        ["lgbt_plus", "No", "1.5", "", ""],               # outside [0, 1]
        ["religion", "None", "0.3", "", ""],              # unknown characteristic
        ["sexual_orientation", "Pansexual", "0.01", "", ""],  # unknown group
    ])
    write_csv(folder / "interventions.csv", INTERVENTION_HEADER, [
        ["I1", "Sift coaching", "2021-03-01", "", "Shortlisting", ""],
        ["I2", "Mentoring (C2 only)", "2021-02-01", "2021-03-01", "", "C2"],
        ["I3", "Bad stage", "2021-02-01", "", "interview", ""],
        ["I4", "Nobody decided", "2030-01-01", "", "vetting", "C3"],
    ])
    return folder


@pytest.fixture
def edge_run(tmp_path, make_settings):
    landing = build_edge_landing(tmp_path / "landing")
    settings = make_settings(landing)
    pipeline.run_all(settings)
    return settings, oracle.compute_all(landing)


def test_edge_landing_matches_oracle(edge_run):
    settings, expected = edge_run
    assert expected["drop_out_points"], "the planted gaps must produce flagged rows"
    assert any(r["entry_route"] == "Unknown" for r in expected["stage_pass_rates_by_entry_route"])
    assert any(r["pass_rate"] is None for r in expected["stage_pass_rates_by_campaign"])
    assert any(r["n"] == 0 for r in expected["stage_durations"])
    assert any(r["fisher_p_value"] is None and r["decided_before"] + r["decided_after"] > 0
               for r in expected["intervention_effects"])
    _check_against(settings, expected, TABLE_KEYS)


def test_edge_optional_inputs(edge_run):
    settings, _ = edge_run
    routes = {r["campaign_id"]: r["entry_route"] for r in read_table(settings, "core.campaigns")}
    assert routes == {"C1": "PCDA", "C2": "DHEP"}
    reasons = {(r["kind"], r["reason"]) for r in read_table(settings, "quality.rejected_rows")}
    assert {("campaigns", "conflicting duplicate campaign_id"),
            ("campaigns", "missing required field: entry_route"),
            ("campaigns", "opened_on cannot be parsed"),
            ("population", "population_share outside [0, 1]"),
            ("population", "characteristic not in vocabulary"),
            ("population", "group_name not in vocabulary"),
            ("interventions", "stage not in vocabulary")} <= reasons
    population = {(r["characteristic"], r["group_name"]) for r in read_table(settings, "core.population")}
    assert ("sex", "Female") in population and ("ethnic_minority", "Yes") in population
    effects = read_table(settings, "marts.intervention_effects")
    assert {r["intervention_id"] for r in effects} == {"I1", "I2", "I4"}
    # I4 starts in the future: every outcome is before it, so no test
    assert all(r["decided_after"] == 0 and r["fisher_p_value"] is None
               for r in effects if r["intervention_id"] == "I4")


def test_incremental_campaign_file_changes_routes(tmp_path, make_settings):
    """A later campaigns file that conflicts turns an accepted route into Unknown."""
    landing = build_edge_landing(tmp_path / "landing")
    late = landing / "campaigns_02.csv"
    held_back = tmp_path / "campaigns_02.csv"
    shutil.move(late, held_back)
    settings = make_settings(landing)
    pipeline.run_all(settings)
    assert {r["campaign_id"] for r in read_table(settings, "core.campaigns")} == {"C1", "C2", "C9"}
    shutil.move(held_back, late)
    pipeline.run_all(settings)
    _check_against(settings, oracle.compute_all(landing), TABLE_KEYS)


# --- the publication: tests/e2e/test_publication_spreadsheet.py (workbook, CSV files, notes,
# disclosure control under both rules, formula-like input); the Dagster job:
# tests/e2e/test_further_marts_dagster.py
