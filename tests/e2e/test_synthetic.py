"""The synthetic landing-folder generator (funnel_pipeline.synthetic).

Most checks read the generated files with DuckDB and a few lines of SQL of their own (or
the oracle's independent reading of a configuration); they do not use the pipeline, so
they hold whatever the pipeline does. The checks of the planted gaps (pass rates and
retention) are what a demo shows, so they go through `pipeline.run_all` and the marts, at
the demo size (5,000 applicants) and for several seeds; for configured funnels the
oracle must also agree with those marts.
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest
from conftest import read_table
from scipy.stats import fisher_exact
from table_compare import assert_tables_match

from funnel_pipeline import pipeline, synthetic
from funnel_pipeline.funnel_config import ConfigError
from funnel_pipeline.settings import Settings
from funnel_pipeline.synthetic import (
    DIRTY_KINDS,
    INTERVENTION_START,
    OPTIONAL_DIRTY_KINDS,
    PLANTED_DISPARITIES,
    generate_landing,
)

EVENT_COLUMNS = ["event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"]
APPLICANT_COLUMNS = ["applicant_id", "sex", "ethnicity", "disability", "sexual_orientation"]

# The contract's vocabulary (CONTRACT.md section 2), spelled out here on purpose.
STAGE_SQL = """CASE
    WHEN lower(trim(stage)) IN ('application', 'apply', 'applied') THEN 1
    WHEN lower(trim(stage)) IN ('sift', 'paper sift', 'application sift', 'shortlisting') THEN 2
    WHEN lower(trim(stage)) IN ('assessment', 'search', 'online assessment', 'assessment centre',
                                'assessment center', 'oac') THEN 3
    WHEN lower(trim(stage)) IN ('vetting', 'vetting check', 'security vetting') THEN 4
    WHEN lower(trim(stage)) IN ('appointment', 'appointed', 'offer', 'appointment offer') THEN 5
END"""
OUTCOME_SQL = """CASE
    WHEN lower(trim(outcome)) IN ('passed', 'pass', 'successful', 'success') THEN 'passed'
    WHEN lower(trim(outcome)) IN ('failed', 'fail', 'unsuccessful') THEN 'failed'
    WHEN lower(trim(outcome)) IN ('withdrawn', 'withdrew', 'withdraw', 'withdrawal') THEN 'withdrawn'
END"""
NOT_STATED = "('', 'prefer not to say', 'not stated', 'unknown')"
GROUP_SQL = {
    "sex": """CASE WHEN lower(trim(sex)) IN ('male', 'm', 'man') THEN 'Male'
                   WHEN lower(trim(sex)) IN ('female', 'f', 'woman') THEN 'Female'
                   WHEN sex IS NULL OR lower(trim(sex)) IN {ns} THEN 'Not stated' END""",
    "ethnicity": """CASE WHEN regexp_matches(lower(trim(ethnicity)), '^white($|[^a-z])') THEN 'White'
                   WHEN regexp_matches(lower(trim(ethnicity)), '^asian($|[^a-z])') THEN 'Asian'
                   WHEN regexp_matches(lower(trim(ethnicity)), '^black($|[^a-z])') THEN 'Black'
                   WHEN regexp_matches(lower(trim(ethnicity)), '^mixed($|[^a-z])') THEN 'Mixed'
                   WHEN regexp_matches(lower(trim(ethnicity)), '^other ethnic group($|[^a-z])')
                        OR lower(trim(ethnicity)) IN ('arab', 'other') THEN 'Other'
                   WHEN ethnicity IS NULL OR lower(trim(ethnicity)) IN {ns} THEN 'Not stated' END""",
    "disability": """CASE WHEN lower(trim(disability)) = 'yes' THEN 'Yes'
                   WHEN lower(trim(disability)) = 'no' THEN 'No'
                   WHEN disability IS NULL OR lower(trim(disability)) IN {ns} THEN 'Not stated' END""",
    "sexual_orientation": """CASE
                   WHEN lower(trim(sexual_orientation)) IN ('heterosexual', 'straight') THEN 'Heterosexual'
                   WHEN lower(trim(sexual_orientation)) IN ('gay or lesbian', 'gay', 'lesbian',
                        'gay man', 'gay woman') THEN 'Gay or Lesbian'
                   WHEN lower(trim(sexual_orientation)) = 'bisexual' THEN 'Bisexual'
                   WHEN lower(trim(sexual_orientation)) = 'other' THEN 'Other'
                   WHEN sexual_orientation IS NULL OR lower(trim(sexual_orientation)) IN {ns}
                        THEN 'Not stated' END""",
}
REFERENCE = {"sex": "Male", "ethnicity": "White", "ethnic_minority": "No", "disability": "No"}


# --- helpers ---------------------------------------------------------------------------------


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")  # row_number() OVER () then follows file order
    con.execute("SET enable_progress_bar = false")
    return con


def _reader(path: Path) -> str:
    if path.suffix == ".parquet":
        return f"read_parquet('{path}')"
    return (f"read_csv('{path}', header = true, all_varchar = true, delim = ',', "
            "quote = '\"', escape = '\"')")


def _event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith("events") and p.name != "events_garbage.csv")


def load(folder: Path, *, applicants: bool = True) -> duckdb.DuckDBPyConnection:
    """Tables `ev` (every delivered event row) and `ap` (applicant rows, with order; the
    default funnel's columns, so `applicants=False` for a configured one)."""
    con = _connect()
    parts = [
        f"SELECT '{p.name}' AS file, row_number() OVER () AS rn, "
        + ", ".join(f"{c}::VARCHAR AS {c}" for c in EVENT_COLUMNS) + f" FROM {_reader(p)}"
        for p in _event_files(folder)
    ]
    con.execute("CREATE TABLE ev AS " + " UNION ALL ".join(parts))
    if not applicants:
        return con
    parts = [
        f"SELECT '{p.name}' AS file, row_number() OVER () AS rn, "
        + ", ".join(f"{c}::VARCHAR AS {c}" for c in APPLICANT_COLUMNS) + f" FROM {_reader(p)}"
        for p in sorted(folder.glob("applicants*"))
    ]
    con.execute("CREATE TABLE ap AS " + " UNION ALL ".join(parts))
    return con


def build_funnel(con: duckdb.DuckDBPyConnection) -> None:
    """Contract sections 3-4, simply: `outcomes` per funnel application and stage."""
    con.execute(f"""
        CREATE TABLE classified AS
        SELECT *, {STAGE_SQL} AS st, {OUTCOME_SQL} AS oc,
               try_cast(occurred_at AS TIMESTAMPTZ) AS ts
        FROM ev""")
    con.execute("""
        CREATE TABLE accepted AS
        SELECT DISTINCT event_id, applicant_id, campaign_id, st, oc, ts FROM classified
        WHERE nullif(trim(event_id), '') IS NOT NULL AND nullif(trim(applicant_id), '') IS NOT NULL
          AND nullif(trim(campaign_id), '') IS NOT NULL AND st IS NOT NULL AND oc IS NOT NULL
          AND ts IS NOT NULL
          AND event_id NOT IN (
              SELECT event_id FROM ev GROUP BY event_id
              HAVING count(DISTINCT (applicant_id, campaign_id, stage, outcome, occurred_at)) > 1)""")
    con.execute("""
        CREATE TABLE outcomes AS
        SELECT applicant_id, campaign_id, st, arg_max(oc, (ts, event_id)) AS oc,
               max(ts) AS ts
        FROM accepted
        WHERE (applicant_id, campaign_id) IN (SELECT (applicant_id, campaign_id) FROM accepted WHERE st = 1)
        GROUP BY ALL""")
    groups = ", ".join(f"{sql.format(ns=NOT_STATED)} AS {name}" for name, sql in GROUP_SQL.items())
    con.execute(f"""
        CREATE TABLE people AS
        SELECT applicant_id, {groups} FROM ap
        QUALIFY row_number() OVER (PARTITION BY applicant_id ORDER BY file DESC, rn DESC) = 1""")
    con.execute("""
        CREATE TABLE decided AS
        SELECT o.*, coalesce(p.sex, 'Not stated') AS sex,
               coalesce(p.ethnicity, 'Not stated') AS ethnicity,
               coalesce(p.disability, 'Not stated') AS disability,
               CASE WHEN p.ethnicity = 'White' THEN 'No'
                    WHEN p.ethnicity IN ('Asian', 'Black', 'Mixed', 'Other') THEN 'Yes'
                    ELSE 'Not stated' END AS ethnic_minority
        FROM outcomes o LEFT JOIN people p USING (applicant_id)""")


def pass_counts(con, characteristic: str, group: str, stage: int, extra: str = "true"):
    return con.execute(f"""
        SELECT count(*) FILTER (oc = 'passed'), count(*) FROM decided
        WHERE {characteristic} = ? AND st = ? AND {extra}""", [group, stage]).fetchone()


def adverse_impact(con, characteristic: str, group: str, stage: int):
    gp, gn = pass_counts(con, characteristic, group, stage)
    rp, rn = pass_counts(con, characteristic, REFERENCE[characteristic], stage)
    ratio = (gp / gn) / (rp / rn)
    p_value = fisher_exact([[gp, gn - gp], [rp, rn - rp]])[1]
    return ratio, p_value


STAGE_ORDER = {"application": 1, "sift": 2, "assessment": 3, "vetting": 4, "appointment": 5}


def _columns(con, sql: str) -> list[str]:
    return [d[0] for d in con.execute(sql).description]


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo: 5,000 applicants, default seed, CSV, dirty, optional files."""
    folder = tmp_path_factory.mktemp("demo")
    summary = generate_landing(folder, applicants=5000)
    con = load(folder)
    build_funnel(con)
    return folder, summary, con


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_csv")
    return folder, generate_landing(folder, applicants=1500, seed=7, fmt="csv")


@pytest.fixture(scope="module")
def small_parquet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_parquet")
    return folder, generate_landing(folder, applicants=1500, seed=7, fmt="parquet")


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(small_csv, tmp_path):
    folder, summary = small_csv
    again = generate_landing(tmp_path / "again", applicants=1500, seed=7, fmt="csv", threads=1)
    assert _digest(folder) == _digest(tmp_path / "again")
    assert again.planted == summary.planted and again.events == summary.events


def test_parquet_rows_are_deterministic(small_parquet, tmp_path):
    folder, _ = small_parquet
    generate_landing(tmp_path / "again", applicants=1500, seed=7, fmt="parquet", threads=1)
    con = _connect()
    for path in sorted(folder.glob("*.parquet")):
        first = con.execute(f"SELECT * FROM '{path}'").fetchall()
        second = con.execute(f"SELECT * FROM '{tmp_path / 'again' / path.name}'").fetchall()
        assert first == second, path.name


def test_another_seed_gives_other_data(small_csv, tmp_path):
    folder, _ = small_csv
    generate_landing(tmp_path / "other", applicants=1500, seed=8, fmt="csv")
    a, b = _digest(folder), _digest(tmp_path / "other")
    assert a["events_2022_1.csv"] != b["events_2022_1.csv"]
    assert a["campaigns.csv"] == b["campaigns.csv"]  # the force itself does not change


# --- shape -------------------------------------------------------------------------------------


def test_required_columns_present(small_csv, small_parquet):
    con = _connect()
    for folder, _ in (small_csv, small_parquet):
        for path in _event_files(folder):
            cols = {c.strip().lower().lstrip("\ufeff")
                    for c in _columns(con, f"SELECT * FROM {_reader(path)} LIMIT 0")}
            assert set(EVENT_COLUMNS) <= cols, path.name
        for path in sorted(folder.glob("applicants*")):
            cols = [c.lower() for c in _columns(con, f"SELECT * FROM {_reader(path)} LIMIT 0")]
            assert cols == APPLICANT_COLUMNS + ["age_band"], path.name
        expected = {
            "campaigns.csv": ["campaign_id", "entry_route", "title", "opened_on", "closed_on"],
            "population.csv": ["characteristic", "group_name", "population_share", "area", "source"],
            "interventions.csv": ["intervention_id", "name", "started_on", "ended_on", "stage",
                                  "campaign_id"],
        }
        for name, columns in expected.items():
            assert _columns(con, f"SELECT * FROM {_reader(folder / name)} LIMIT 0") == columns


def test_summary_counts_match_files(small_csv):
    folder, summary = small_csv
    con = load(folder)
    assert con.execute("SELECT count(*) FROM ev").fetchone()[0] == summary.event_rows_written
    assert con.execute("SELECT count(*) FROM ev WHERE file NOT LIKE '%resend%'").fetchone()[0] \
        == summary.events
    assert con.execute("SELECT count(*) FROM ap").fetchone()[0] == summary.applicant_rows
    assert sorted(p.name for p in folder.iterdir()) == summary.files
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # temp folder removed


def test_realistic_mix_and_ids(demo):
    _, summary, con = demo
    share = dict(con.execute("""
        SELECT 'male', avg((sex = 'Male')::INT) FROM people UNION ALL
        SELECT 'minority', avg((ethnicity IN ('Asian', 'Black', 'Mixed', 'Other'))::INT) FROM people
        UNION ALL SELECT 'disabled', avg((disability = 'Yes')::INT) FROM people UNION ALL
        SELECT 'lgb', avg((sexual_orientation IN ('Gay or Lesbian', 'Bisexual', 'Other'))::INT)
        FROM people""").fetchall())
    assert 0.55 < share["male"] < 0.65
    assert 0.14 < share["minority"] < 0.21
    assert 0.06 < share["disabled"] < 0.10
    assert 0.04 < share["lgb"] < 0.09
    # pseudonymous ids only
    assert con.execute("SELECT count(*) FROM ap WHERE NOT regexp_matches(applicant_id, "
                       "'^P[0-9]{8}$')").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM ap WHERE applicant_id LIKE '%@%'").fetchone()[0] == 0
    # several campaigns and every entry route; stage-by-stage attrition
    assert con.execute("SELECT count(DISTINCT campaign_id) FROM outcomes").fetchone()[0] == 9
    per_stage = dict(con.execute("SELECT st, count(*) FROM outcomes GROUP BY st").fetchall())
    assert per_stage[1] > per_stage[2] > per_stage[3] > per_stage[4] > per_stage[5] > 0
    assert 2.5 < summary.events / summary.applications < 3.5


def test_spelling_and_format_variety(demo):
    folder, _, con = demo
    stages = {r[0] for r in con.execute("SELECT DISTINCT stage FROM ev").fetchall()}
    assert {" SIFT", "SEARCH", "Online Assessment", "application"} <= stages
    outcomes = {r[0] for r in con.execute("SELECT DISTINCT outcome FROM ev").fetchall()}
    assert {"PASSED", "successful", "withdrew", "failed"} <= outcomes
    kinds = dict(con.execute(r"""
        SELECT CASE WHEN regexp_matches(occurred_at, '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$') THEN 'z'
                    WHEN regexp_matches(occurred_at, '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[01]:00$') THEN 'offset'
                    WHEN regexp_matches(occurred_at, '^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$') THEN 'space'
                    WHEN regexp_matches(occurred_at, '^\d{4}-\d\d-\d\d$') THEN 'date'
                    ELSE 'other' END, count(*)
        FROM ev GROUP BY 1""").fetchall())
    assert all(kinds.get(k, 0) > 100 for k in ("z", "offset", "space", "date"))
    assert kinds.get("other", 0) <= 10  # only the planted bad timestamps and blanks
    assert con.execute("SELECT count(*) FROM ev WHERE occurred_at LIKE '%+01:00'").fetchone()[0] > 0
    ethnicity = {r[0] for r in con.execute("SELECT DISTINCT ethnicity FROM ap").fetchall()}
    assert {"Asian or Asian British: Indian", "Black, Black British, Caribbean or African: African",
            "Mixed or Multiple ethnic groups: White and Asian",
            "White: English, Welsh, Scottish, Northern Irish or British",
            "Other ethnic group: Arab", "White", "Prefer not to say", None} <= ethnicity
    orientation = {r[0] for r in con.execute("SELECT DISTINCT sexual_orientation FROM ap").fetchall()}
    assert {"Straight", "Gay man", "Heterosexual", "Bisexual"} <= orientation
    sex = {r[0] for r in con.execute("SELECT DISTINCT sex FROM ap").fetchall()}
    assert {"F", "M", "Woman", "Male", "Female"} <= sex
    # a UTF-8 BOM + CRLF file with upper-cased, reordered headers; quoted campaign ids
    boms = [p for p in folder.glob("events*.csv") if p.read_bytes().startswith(b"\xef\xbb\xbf")]
    assert len(boms) == 1
    first_line = boms[0].read_bytes().split(b"\n")[0]
    assert first_line == b"\xef\xbb\xbfOCCURRED_AT,OUTCOME,STAGE,CAMPAIGN_ID,APPLICANT_ID,EVENT_ID\r"
    assert b'"2022-Police Now, Detective-3"' in (folder / "events_2022_1.csv").read_bytes()
    assert (folder / "applicants_01.csv").read_bytes().count(b"\r\n") > 1000


def test_timestamps_and_durations_are_realistic(demo):
    _, _, con = demo
    years = con.execute("SELECT min(ts), max(ts) FROM accepted").fetchone()
    cutoff = con.execute(f"SELECT TIMESTAMPTZ '{synthetic.DATA_CUTOFF}+00'").fetchone()[0]
    assert years[0].year == 2022 and years[1] <= cutoff
    gaps = con.execute("""
        SELECT b.st, quantile_cont(epoch(b.ts - a.ts) / 86400, 0.5), min(epoch(b.ts - a.ts) / 86400)
        FROM outcomes a JOIN outcomes b USING (applicant_id, campaign_id)
        WHERE b.st = a.st + 1 AND a.oc = 'passed' GROUP BY b.st ORDER BY b.st""").fetchall()
    for stage, median, shortest in gaps:
        assert 3 <= median <= 90, (stage, median)
        assert shortest >= 0, stage
    # planted duration gap: vetting takes ethnic-minority applicants ~1.5x as long
    medians = dict(con.execute("""
        SELECT b.ethnic_minority, quantile_cont(epoch(b.ts - a.ts) / 86400, 0.5)
        FROM decided a JOIN decided b USING (applicant_id, campaign_id)
        WHERE a.st = 3 AND a.oc = 'passed' AND b.st = 4 GROUP BY 1""").fetchall())
    assert 1.2 < medians["Yes"] / medians["No"] < 2.0, medians
    # the latest campaign is still running: some applications pend at later stages
    pending = con.execute("""
        SELECT count(*) FROM outcomes a WHERE a.st = 4 AND a.oc = 'passed'
          AND NOT EXISTS (SELECT 1 FROM outcomes b WHERE b.applicant_id = a.applicant_id
                          AND b.campaign_id = a.campaign_id AND b.st = 5)""").fetchone()[0]
    assert pending > 0


# --- bad input ---------------------------------------------------------------------------------


def test_every_dirty_kind_is_planted(demo):
    _, summary, _ = demo
    for kind in DIRTY_KINDS + OPTIONAL_DIRTY_KINDS + ("redelivered_applicant",):
        assert summary.planted.get(kind, 0) >= 1, kind
    assert summary.planted["blank_required"] == 6
    assert summary.planted["conflicting_duplicate"] == 3


def test_dirty_rows_are_in_the_files(demo):
    folder, summary, con = demo

    def count(sql: str) -> int:
        return con.execute(sql).fetchone()[0]

    # 1. blank required fields: one row per column
    for column in EVENT_COLUMNS:
        assert count(f"SELECT count(*) FROM ev WHERE nullif(trim({column}), '') IS NULL "
                     "AND file NOT LIKE '%resend%'") >= 1, column
    # 2. unknown stage / outcome
    assert count("SELECT count(*) FROM ev WHERE stage = 'interview'") >= 1
    assert count("SELECT count(*) FROM classified WHERE st IS NULL AND trim(stage) <> ''") >= 3
    assert count("SELECT count(*) FROM classified WHERE oc IS NULL AND trim(outcome) <> ''") >= 3
    # 3. unparseable timestamps
    assert count("SELECT count(*) FROM ev WHERE occurred_at IN ('31/02/2021', 'yesterday')") >= 2
    assert count("SELECT count(*) FROM classified WHERE ts IS NULL AND occurred_at <> ''") >= 4
    # 4. conflicting duplicate ids
    assert count("""SELECT count(*) FROM (SELECT event_id FROM ev GROUP BY event_id
                    HAVING count(DISTINCT (stage, outcome, occurred_at)) > 1)""") \
        == summary.planted["conflicting_duplicate"]
    # an identical re-delivered file under another name
    resend = [p for p in folder.iterdir() if "resend" in p.name]
    assert len(resend) == 1
    assert resend[0].read_bytes() == (folder / resend[0].name.replace("_resend", "")).read_bytes()
    # orphan events: applications with events but no application event
    assert count("""SELECT count(*) FROM (SELECT applicant_id, campaign_id FROM accepted
                    GROUP BY ALL HAVING count(*) FILTER (st = 1) = 0)""") \
        == summary.planted["orphan_application"]
    # events of people with no applicants row
    assert count("""SELECT count(DISTINCT applicant_id) FROM accepted
                    WHERE applicant_id NOT IN (SELECT applicant_id FROM ap)""") \
        == summary.planted["no_applicant_row"]
    # out of sequence: a vetting outcome without a pass at assessment
    assert count("""SELECT count(*) FROM outcomes v WHERE v.st = 4 AND NOT EXISTS (
                    SELECT 1 FROM outcomes a WHERE a.applicant_id = v.applicant_id
                    AND a.campaign_id = v.campaign_id AND a.st = 3 AND a.oc = 'passed')""") \
        >= summary.planted["out_of_sequence"]
    # a superseding vetting appeal: fail, then a later pass
    assert count("""SELECT count(*) FROM (SELECT applicant_id, campaign_id FROM accepted WHERE st = 4
                    GROUP BY ALL HAVING arg_min(oc, ts) = 'failed' AND arg_max(oc, ts) = 'passed')""") \
        == summary.planted["superseding_appeal"]
    # unrecognised characteristic values, one per characteristic
    for name, sql in GROUP_SQL.items():
        assert count(f"SELECT count(*) FROM ap WHERE ({sql.format(ns=NOT_STATED)}) IS NULL") >= 1, name
    # re-delivered applicants: in both files, with other values
    assert count("""SELECT count(*) FROM ap a JOIN ap b USING (applicant_id)
                    WHERE a.file = 'applicants_01.csv' AND b.file = 'applicants_02.csv'
                    AND (a.ethnicity, a.disability, a.sexual_orientation)
                        IS DISTINCT FROM (b.ethnicity, b.disability, b.sexual_orientation)""") \
        == summary.planted["redelivered_applicant"]
    assert count("""SELECT count(*) FROM (SELECT applicant_id FROM ap GROUP BY applicant_id, file
                    HAVING count(*) > 1)""") == summary.planted["applicant_repeated_in_file"]
    # a garbage file that is not an events file
    garbage = _columns(_connect(), f"SELECT * FROM {_reader(folder / 'events_garbage.csv')}")
    assert not set(EVENT_COLUMNS) & {c.lower() for c in garbage}


def test_optional_files(demo):
    folder, _, _ = demo
    con = _connect()
    campaigns = con.execute(f"SELECT * FROM {_reader(folder / 'campaigns.csv')}").fetchall()
    listed = {r[0] for r in campaigns if r[1]}
    assert {r[1] for r in campaigns if r[1]} == {"PCDA", "DHEP", "Police Now", "Transferee"}
    assert "2025-DHEP-9" not in {r[0] for r in campaigns}  # route Unknown
    assert "2022-Police Now, Detective-3" in listed
    assert [r for r in campaigns if not r[1]]  # the planted bad row (blank entry_route)
    shares = con.execute(f"""
        SELECT characteristic, sum(try_cast(population_share AS DOUBLE)), count(*)
        FROM {_reader(folder / 'population.csv')}
        WHERE group_name NOT IN ('Gypsy or Irish Traveller') GROUP BY 1""").fetchall()
    assert {r[0] for r in shares} == {"sex", "ethnicity", "ethnic_minority", "disability",
                                      "sexual_orientation", "lgbt_plus"}
    for characteristic, total, _ in shares:
        assert abs(total - 1) < 1e-9, characteristic
    assert "synthetic" in con.execute(
        f"SELECT any_value(source) FROM {_reader(folder / 'population.csv')}").fetchone()[0]
    rows = con.execute(f"SELECT * FROM {_reader(folder / 'interventions.csv')} ORDER BY 1").fetchall()
    assert rows[0][:6] == ("INT-1", "Positive action assessment coaching", INTERVENTION_START,
                           None, "assessment", None)
    assert rows[1][3] is not None and rows[1][5] == "2023-DHEP-6"  # campaign-limited, with end
    assert rows[2][2] == "TBC"  # the planted bad row


def test_clean_folder_has_no_bad_input(tmp_path):
    summary = generate_landing(tmp_path, applicants=1500, seed=3, dirty=False)
    assert not any(k in summary.planted for k in DIRTY_KINDS + OPTIONAL_DIRTY_KINDS)
    names = {p.name for p in tmp_path.iterdir()}
    assert "events_garbage.csv" not in names and not [n for n in names if "resend" in n]
    con = load(tmp_path)
    build_funnel(con)
    assert con.execute("SELECT count(*) FROM classified WHERE st IS NULL OR oc IS NULL "
                       "OR ts IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT count(*) - count(DISTINCT event_id) FROM ev").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM accepted").fetchone()[0] == summary.events
    for name, sql in GROUP_SQL.items():
        assert con.execute(f"SELECT count(*) FROM ap WHERE ({sql.format(ns=NOT_STATED)}) IS NULL"
                           ).fetchone()[0] == 0, name


# --- planted disparities and the intervention -------------------------------------------------


@pytest.mark.parametrize("characteristic, group, stage", PLANTED_DISPARITIES)
def test_planted_disparity_is_flaggable_at_demo_size(demo, characteristic, group, stage):
    _, _, con = demo
    ratio, p_value = adverse_impact(con, characteristic, group, STAGE_ORDER[stage])
    assert ratio < 0.8 and p_value < 0.05, (ratio, p_value)


def test_subthreshold_and_unplanted_groups_are_not_flagged(demo):
    _, _, con = demo
    ratio, _ = adverse_impact(con, "sex", "Female", 3)
    assert 0.8 < ratio < 1.0  # women do a bit worse at assessment, not enough to flag
    for characteristic, group, stage in [("ethnicity", "Black", 2), ("ethnicity", "Asian", 4),
                                         ("disability", "Yes", 3), ("sex", "Female", 2)]:
        ratio, p_value = adverse_impact(con, characteristic, group, stage)
        assert not (ratio < 0.8 and p_value < 0.05), (characteristic, group, stage)


def test_intervention_halves_the_assessment_gap(tmp_path):
    # a bigger folder, so the before/after difference is measured precisely
    generate_landing(tmp_path, applicants=40000, seed=11, dirty=False, optional_files=False)
    con = load(tmp_path)
    build_funnel(con)
    after = f"ts >= TIMESTAMPTZ '{INTERVENTION_START} 00:00:00+00'"

    def rate(group: str, window: str) -> float:
        passed, decided = pass_counts(con, "ethnic_minority", group, 3, window)
        return passed / decided

    before_gap = 1 - rate("Yes", f"NOT ({after})") / rate("No", f"NOT ({after})")
    after_gap = 1 - rate("Yes", after) / rate("No", after)
    assert 0.3 < before_gap < 0.5, before_gap
    assert 0.3 < after_gap / before_gap < 0.7, (before_gap, after_gap)
    assert abs(rate("No", after) - rate("No", f"NOT ({after})")) < 0.03  # White rate flat


# --- formats -----------------------------------------------------------------------------------


def _normalised_events(folder: Path, *, resend: bool = True) -> list[tuple]:
    con = load(folder)
    return con.execute(
        "SELECT " + ", ".join(f"coalesce({c}, '')" for c in EVENT_COLUMNS)
        + f" FROM ev WHERE {str(resend).lower()} OR file NOT LIKE '%resend%' ORDER BY ALL"
    ).fetchall()


def test_parquet_and_csv_agree(small_csv, small_parquet):
    (csv_folder, csv_summary), (pq_folder, pq_summary) = small_csv, small_parquet
    assert _normalised_events(csv_folder) == _normalised_events(pq_folder)
    con_csv, con_pq = load(csv_folder), load(pq_folder)
    applicants = ("SELECT " + ", ".join(f"coalesce({c}, '')" for c in APPLICANT_COLUMNS)
                  + " FROM ap ORDER BY ALL")
    assert con_csv.execute(applicants).fetchall() == con_pq.execute(applicants).fetchall()
    assert csv_summary.events == pq_summary.events and csv_summary.planted == pq_summary.planted
    assert {p.stem for p in _event_files(csv_folder)} == {p.stem for p in _event_files(pq_folder)}
    assert all(p.suffix == ".parquet" for p in _event_files(pq_folder))


def test_both_mixes_formats(small_csv, tmp_path):
    csv_folder, _ = small_csv
    summary = generate_landing(tmp_path, applicants=1500, seed=7, fmt="both", events_per_file=1000)
    suffixes = {p.suffix for p in _event_files(tmp_path)}
    assert suffixes == {".csv", ".parquet"}
    assert {p.name for p in tmp_path.glob("applicants*")} == {"applicants_01.csv",
                                                                "applicants_02.parquet"}
    # other file boundaries (and so another re-sent file), the same rows
    assert _normalised_events(csv_folder, resend=False) == _normalised_events(tmp_path, resend=False)
    assert summary.events == sum(v for k, v in summary.rows_by_file.items()
                                 if k.startswith("events_") and "resend" not in k)


def test_events_per_file_splits(tmp_path):
    summary = generate_landing(tmp_path, applicants=2000, seed=5, dirty=False,
                               optional_files=False, events_per_file=1500)
    sizes = {k: v for k, v in summary.rows_by_file.items() if k.startswith("events_")}
    assert len(sizes) > 4 and max(sizes.values()) == 1500
    assert "events_2022_2.csv" in sizes
    assert sum(sizes.values()) == summary.events


# --- API edges and the command line ------------------------------------------------------------


def test_overwrite_false_refuses_a_used_folder(tmp_path):
    (tmp_path / "events_old.csv").write_text("x\n")
    (tmp_path / "notes.txt").write_text("keep me\n")
    with pytest.raises(FileExistsError):
        generate_landing(tmp_path, applicants=50, overwrite=False)
    generate_landing(tmp_path, applicants=50)
    assert not (tmp_path / "events_old.csv").exists()
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_landing(tmp_path, fmt="xlsx")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        generate_landing(tmp_path, applicants=0)


def test_tiny_folder_still_works(tmp_path):
    summary = generate_landing(tmp_path, applicants=3, seed=1)
    assert summary.applicants == 3 and summary.events > 0


def test_main_cli(tmp_path, capsys):
    code = synthetic.main(["--target", str(tmp_path / "bench"), "--applicants", "800",
                           "--seed", "9", "--format", "parquet", "--clean"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["applicants"] == 800 and out["fmt"] == "parquet" and out["dirty"] is False
    assert (tmp_path / "bench" / "applicants_01.parquet").exists()
    assert all(n.endswith(".parquet") for n in out["files"] if n.startswith("events"))


# --- leavers (CONTRACT.md section 9) ----------------------------------------------------------


def _leavers(folder: Path) -> list[tuple]:
    return _connect().execute(
        f"SELECT applicant_id, left_on, reason FROM {_reader(folder / 'leavers_01.csv')}"
    ).fetchall()


def test_leavers_file_shape(demo):
    folder, summary, con = demo
    assert _columns(con, f"SELECT * FROM {_reader(folder / 'leavers_01.csv')} LIMIT 0") == [
        "applicant_id", "left_on", "reason"]
    con.execute(f"CREATE OR REPLACE TABLE lv AS SELECT * FROM {_reader(folder / 'leavers_01.csv')}")
    kinds = dict(con.execute(r"""
        SELECT CASE WHEN regexp_matches(left_on, '^\d{4}-\d\d-\d\d$') THEN 'date'
                    WHEN regexp_matches(left_on, '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\dZ?$') THEN 'time'
                    ELSE 'other' END, count(*) FROM lv GROUP BY 1""").fetchall())
    assert kinds["date"] > 20 and kinds["time"] > 20
    # recruits: passed at appointment; a leaving is 7 days to 3 years after the start
    gaps = con.execute("""
        SELECT min(epoch(try_cast(lv.left_on AS TIMESTAMPTZ) - o.ts) / 86400),
               max(epoch(try_cast(lv.left_on AS TIMESTAMPTZ) - o.ts) / 86400), count(*)
        FROM lv JOIN outcomes o ON o.applicant_id = lv.applicant_id AND o.st = 5
             AND o.oc = 'passed'
        WHERE coalesce(lv.reason, '') NOT LIKE '%(corrected)'""").fetchone()
    assert 0 < gaps[0] and gaps[1] < 3 * 366 and gaps[2] >= summary.leavers
    recruits = con.execute("SELECT count(*) FROM outcomes WHERE st = 5 AND oc = 'passed'").fetchone()[0]
    assert 0.1 < summary.leavers / recruits < 0.5
    # people who never became a recruit (valid rows that belong to none)
    assert con.execute("""SELECT count(*) FROM lv WHERE applicant_id NOT IN (
                          SELECT applicant_id FROM outcomes WHERE st = 5 AND oc = 'passed')
                          AND nullif(trim(applicant_id), '') IS NOT NULL""").fetchone()[0] \
        == summary.planted["leavers_no_recruit"] == synthetic.LEAVERS_NO_RECRUIT
    # the dirty rows: a blank id, a blank date, unparseable dates, a conflicting copy
    assert con.execute("SELECT count(*) FROM lv WHERE nullif(trim(applicant_id), '') IS NULL "
                       "OR left_on IS NULL").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM lv WHERE left_on IS NOT NULL AND "
                       "try_cast(left_on AS TIMESTAMPTZ) IS NULL").fetchone()[0] == 2
    assert con.execute("""SELECT count(*) FROM (SELECT applicant_id, left_on FROM lv
                          GROUP BY ALL HAVING count(DISTINCT reason) > 1)""").fetchone()[0] == 1
    assert con.execute("""SELECT count(*) FROM (SELECT applicant_id, left_on, reason FROM lv
                          GROUP BY ALL HAVING count(*) > 1)""").fetchone()[0] == 1


def test_clean_leavers_have_no_bad_rows(tmp_path):
    summary = generate_landing(tmp_path, applicants=1500, seed=3, dirty=False)
    rows = _leavers(tmp_path)
    assert len(rows) == summary.leavers + summary.planted["leavers_no_recruit"]
    assert all(r[0] and r[1] for r in rows)
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    assert not any(k.startswith("leavers_") and k != "leavers_no_recruit" for k in summary.planted)
    no_optional = generate_landing(tmp_path / "bare", applicants=200, optional_files=False)
    assert "leavers_01.csv" not in no_optional.files


# --- configured funnels (CONTRACT.md section 8) -------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
CUSTOM = REPO / "tests" / "fixtures" / "funnel.custom.toml"
TEN_STAGES = REPO / "benchmarks" / "funnel.ten_stages.toml"
PASS_KEYS = ["characteristic", "group_name", "stage"]
RETENTION_KEYS = ["characteristic", "group_name"]
SEEDS = (1, 2, 3)


def _oracle_config(path: Path | None):
    import oracle

    return oracle.load_config(path)


def _read_any(path: Path) -> list[dict]:
    """Rows of a landing file as text, whatever the format (header as delivered)."""
    con = _connect()
    cur = con.execute(f"SELECT * FROM {_reader(path)}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def custom_small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("custom_small")
    return folder, generate_landing(folder, applicants=2000, seed=5, config=CUSTOM)


def test_configured_applicants_use_the_configured_columns_and_spellings(custom_small):
    folder, _ = custom_small
    config = _oracle_config(CUSTOM)
    first, second = _read_any(folder / "applicants_01.csv"), _read_any(folder / "applicants_02.csv")
    assert list(first[0]) == ["applicant_id", "sex", "date_of_birth", "ethnicity", "disability",
                              "religion"]
    assert [c.lower() for c in second[0]] == list(first[0]) and list(second[0]) != list(first[0])
    rows = [{k.lower(): v for k, v in r.items()} for r in first + second]
    unrecognised: dict[str, int] = {}
    values: dict[str, set] = {}
    for ch in config.characteristics:
        if ch.kind != "delivered":
            continue
        for r in rows:
            _, ok = ch.match(r[ch.column], config.not_stated)
            values.setdefault(ch.name, set()).add(r[ch.column])
            unrecognised[ch.name] = unrecognised.get(ch.name, 0) + (not ok)
    # every value is recognised but the one planted per column (dirty)
    assert unrecognised == {"sex": 1, "ethnicity": 1, "disability": 1, "religion": 1}
    # odd case and space, synonyms, prefixes with a longer label, not stated and blanks
    assert {"Female", "female", "F", "Woman", "Male  "} <= values["sex"]
    assert {"Asian or Asian British: Indian", "White: Irish", "white", None,
            "Prefer not to say", "Not disclosed"} <= values["ethnicity"]
    assert {"None", "Islam", "Christian: Catholic"} <= values["religion"]
    # dates of birth: YYYY-MM-DD, a few blank or not stated, one malformed (dirty)
    dob = [r["date_of_birth"] for r in rows]
    assert sum(d is None for d in dob) > 5 and "Prefer not to say" in dob and "31/02/1990" in dob
    parsed = [d for d in dob if d and re.fullmatch(r"\d{4}-\d\d-\d\d", d)]
    assert len(parsed) > 0.95 * len(dob)


def test_configured_events_follow_the_configured_stages(custom_small):
    folder, _ = custom_small
    config = _oracle_config(CUSTOM)
    con = load(folder, applicants=False)
    counts = con.execute("SELECT stage, outcome, count(*) FROM ev GROUP BY ALL").fetchall()
    per_stage: dict[str, int] = {}
    unknown_stages, unknown_outcomes = set(), set()
    for stage, outcome, n in counts:
        canonical = config.stage(stage)
        if canonical is None:
            unknown_stages.add(stage)
        elif config.outcome(outcome) is None:
            unknown_outcomes.add(outcome)
        else:
            per_stage[canonical] = per_stage.get(canonical, 0) + n
    # the planted unknown stages avoid the funnel's own (`interview` is a stage here)
    assert len(unknown_stages - {None, ""}) == 3 and "interview" not in unknown_stages
    assert len(unknown_outcomes - {None, "", "  "}) == 3
    reached = [per_stage[s] for s in config.stages]
    assert all(a > b > 0 for a, b in pairwise(reached)), reached
    spelled = {r[0] for r in con.execute("SELECT DISTINCT stage FROM ev").fetchall()}
    assert {"final interview", "JRFT", " INTERVIEW", "Application Form"} & spelled
    assert any(s and s != s.strip() for s in spelled)  # stray spaces
    assert {"not suitable", "Not suitable"} & {r[0] for r in con.execute(
        "SELECT DISTINCT outcome FROM ev").fetchall()}
    # the data cut-off leaves applications pending: fewer final outcomes than passes before
    build_funnel_stages(con, config)
    assert con.execute("""SELECT count(*) FROM cf a WHERE a.st = 6 AND a.oc = 'passed'
                          AND NOT EXISTS (SELECT 1 FROM cf b WHERE b.applicant_id = a.applicant_id
                          AND b.campaign_id = a.campaign_id AND b.st = 7)""").fetchone()[0] > 0


def build_funnel_stages(con: duckdb.DuckDBPyConnection, config) -> None:
    """`cf`: the latest accepted outcome per application and configured stage (order)."""
    spellings = [(k, config.stage_order(v)) for k, v in config.stage_spellings.items()]
    outcomes = list(config.outcome_spellings.items())
    con.execute("CREATE OR REPLACE TABLE st_map(spelling VARCHAR, st INTEGER)")
    con.executemany("INSERT INTO st_map VALUES (?, ?)", spellings)
    con.execute("CREATE OR REPLACE TABLE oc_map(spelling VARCHAR, oc VARCHAR)")
    con.executemany("INSERT INTO oc_map VALUES (?, ?)", outcomes)
    con.execute("""
        CREATE OR REPLACE TABLE cf AS
        SELECT applicant_id, campaign_id, st, arg_max(oc, (ts, event_id)) AS oc
        FROM (SELECT e.*, s.st, o.oc, try_cast(e.occurred_at AS TIMESTAMPTZ) AS ts
              FROM ev e JOIN st_map s ON s.spelling = lower(trim(e.stage))
              JOIN oc_map o ON o.spelling = lower(trim(e.outcome)))
        WHERE ts IS NOT NULL GROUP BY ALL""")


def test_configured_folder_is_deterministic(custom_small, tmp_path):
    folder, _ = custom_small
    generate_landing(tmp_path / "again", applicants=2000, seed=5, config=CUSTOM, threads=1)
    assert _digest(folder) == _digest(tmp_path / "again")
    generate_landing(tmp_path / "other", applicants=2000, seed=6, config=CUSTOM)
    assert _digest(folder)["events_2023_1.csv"] != _digest(tmp_path / "other")["events_2023_1.csv"]


def test_configured_dirty_and_clean(custom_small, tmp_path):
    import oracle

    _, summary = custom_small
    for kind in DIRTY_KINDS + OPTIONAL_DIRTY_KINDS + ("redelivered_applicant", "leavers_no_recruit"):
        assert summary.planted.get(kind, 0) >= 1, kind
    # one unrecognised value per applicants column (4 delivered + the date of birth)
    assert summary.planted["unrecognised_characteristic"] == 5
    clean = generate_landing(tmp_path, applicants=1500, seed=3, dirty=False, config=TEN_STAGES,
                             fmt="parquet")
    assert not any(k in clean.planted for k in DIRTY_KINDS + OPTIONAL_DIRTY_KINDS)
    expected = oracle.compute_all(tmp_path, TEN_STAGES)
    assert expected["rejected_events"] == [] and expected["failed_files"] == []
    assert expected["rejected_leavers"] == []
    assert expected["accepted_event_count"] == clean.events


def test_configured_optional_files_fit_the_config(custom_small):
    folder, _ = custom_small
    config = _oracle_config(CUSTOM)
    groups = {c.name: set(c.groups) for c in config.characteristics}
    shares: dict[str, float] = {}
    for row in _read_any(folder / "population.csv"):
        if row["group_name"] == "Unlisted group":  # the planted bad row
            continue
        assert row["group_name"] in groups[row["characteristic"]], row
        shares[row["characteristic"]] = shares.get(row["characteristic"], 0) + float(
            row["population_share"])
    assert set(shares) == set(groups)  # delivered, age bands and derived ones
    assert all(abs(total - 1) < 1e-9 for total in shares.values()), shares
    interventions = _read_any(folder / "interventions.csv")
    assert {r["stage"] for r in interventions if r["started_on"] != "TBC"} == {"interview", None}
    assert all(r["stage"] is None or config.stage(r["stage"]) for r in interventions)
    campaigns = {r["campaign_id"] for r in _read_any(folder / "campaigns.csv")}
    assert {r["campaign_id"] for r in interventions} - {None} <= campaigns


def test_planted_gaps_follow_the_config():
    assert synthetic.planted_disparities() == PLANTED_DISPARITIES
    assert synthetic.planted_disparities(synthetic.load_config(None)) == PLANTED_DISPARITIES
    assert synthetic.planted_retention_gap() == ("sex", "Female")
    assert synthetic.planted_disparities(CUSTOM) == [("sex", "Female", "interview"),
                                                     ("age_band", "Under 25", "sift")]
    assert synthetic.planted_disparities(TEN_STAGES) == [("sex", "Female", "fitness"),
                                                         ("age_band", "Under 25", "sift")]
    assert synthetic.planted_retention_gap(TEN_STAGES) == ("sex", "Female")


# The demo through the pipeline: every planted gap flagged, for several seeds and formats.
DEMO_RUNS = [(None, seed, "csv") for seed in SEEDS] + [
    (CUSTOM, 1, "csv"), (CUSTOM, 2, "parquet"), (CUSTOM, 3, "csv"),
    (TEN_STAGES, 1, "both"), (TEN_STAGES, 2, "csv"), (TEN_STAGES, 3, "csv")]


def _settings(folder: Path, work: Path, config: Path | None) -> Settings:
    return Settings(landing_dir=folder, duckdb_path=work / "funnel.duckdb",
                    reports_dir=work / "reports", duckdb_memory_limit="1GB",
                    config_path=str(config or ""), landing_settle_seconds=0)


@pytest.fixture(scope="module", params=DEMO_RUNS,
                ids=[f"{c.stem if c else 'default'}-{s}-{f}" for c, s, f in DEMO_RUNS])
def demo_run(request, tmp_path_factory):
    config, seed, fmt = request.param
    work = tmp_path_factory.mktemp("demo_run")
    summary = generate_landing(work / "landing", applicants=5000, seed=seed, fmt=fmt,
                               config=config)
    settings = _settings(work / "landing", work, config)
    pipeline.run_all(settings)
    return config, summary, settings


def test_demo_planted_disparities_are_flagged(demo_run):
    config, summary, settings = demo_run
    rows = {(r["characteristic"], r["group_name"], r["stage"]): r
            for r in read_table(settings, "marts.stage_pass_rates")}
    assert summary.planted_disparities == synthetic.planted_disparities(config)
    assert len(summary.planted_disparities) == (4 if config is None else 2)
    for key in summary.planted_disparities:
        row = rows[tuple(key)]
        assert row["flagged"] and row["adverse_impact_ratio"] < 0.8, (key, row)


def test_demo_retention_gap_is_flagged(demo_run):
    _, summary, settings = demo_run
    retention = {(r["characteristic"], r["group_name"]): r
                 for r in read_table(settings, "marts.retention")}
    row = retention[tuple(summary.retention_gap)]
    assert row["flagged"] and row["retention_ratio"] < 0.95, row
    assert row["leavers"] > 20
    flows = read_table(settings, "marts.workforce_flows")
    assert {r["flow"] for r in flows} == {"hires", "leavers"}
    assert {r["entry_route"] for r in flows} >= {"All routes", "PCDA", "DHEP"}
    assert len({r["financial_year"] for r in flows}) >= 3


def test_demo_age_bands_spread(demo_run):
    """Configured age bands are all populated; the default funnel (no age band) publishes
    none, although the demo's applicants carry dates of birth."""
    config, _, settings = demo_run
    applications = {r["group_name"]: r["entered"]
                    for r in read_table(settings, "marts.stage_pass_rates")
                    if r["characteristic"] == "age_band" and r["stage_order"] == 1}
    if config is None:
        assert applications == {}
        return
    total = sum(applications.values())
    assert all(applications[g] > 0.05 * total for g in applications if g != "Not stated")
    assert 0 < applications["Not stated"] < 0.06 * total


def test_demo_oracle_agrees(demo_run):
    import oracle

    config, _, settings = demo_run
    expected = oracle.compute_all(settings.landing_dir, config)
    assert_tables_match(read_table(settings, "marts.stage_pass_rates"),
                        expected["stage_pass_rates"], PASS_KEYS)
    assert_tables_match(read_table(settings, "marts.retention"), expected["retention"],
                        RETENTION_KEYS)


# Edge configurations: identifiers that need quoting, three stages, and a funnel with
# neither a two-group delivered characteristic nor an age band (nothing planted).
HOSTILE = '''
[[stage]]
name = "apply"
[[stage]]
name = 'panel "final" interview'
aliases = ["o'clock check"]
[[stage]]
name = "start"

[outcomes]
withdrawn = ["pending"]

[[characteristic]]
name = "sex"
column = 'Sex "as recorded"; DROP TABLE people; --'
groups = ["Male", "Female"]
synonyms = { "m'" = "Male" }

[[characteristic]]
name = "band"
born_on = "born 'on'"
bands = [ { group = "Young 'uns", below = 30 }, { group = "Older" } ]

[[characteristic]]
name = "faith"
groups = ["O'Brien group", "None"]
prefixes = { "o'brien" = "O'Brien group" }
'''
BARE = '''
[[stage]]
name = "apply"
[[stage]]
name = "hired"

[[characteristic]]
name = "team"
groups = ["Only one"]
'''


@pytest.mark.parametrize("text, planted, gap", [
    # the youngest band is the reference group here, so the age gap goes to the next
    (HOSTILE, [("sex", "Female", 'panel "final" interview'), ("band", "Older", "start")],
     ("sex", "Female")),
    (BARE, [], None),
], ids=["hostile", "bare"])
def test_edge_configs_run_through_the_pipeline(tmp_path, text, planted, gap):
    import oracle

    path = tmp_path / "funnel.toml"
    path.write_text(text)
    assert synthetic.planted_disparities(path) == planted
    assert synthetic.planted_retention_gap(path) == gap
    summary = generate_landing(tmp_path / "landing", applicants=1500, seed=4, config=path)
    header = (tmp_path / "landing" / "applicants_01.csv").read_text().splitlines()[0]
    if text is HOSTILE:
        assert header == ('applicant_id,"Sex ""as recorded""; DROP TABLE people; --",'
                          "born 'on',faith")
        # the planted unknown outcomes avoid the funnel's own ("pending" is an alias here)
        assert summary.planted["unknown_outcome"] == 3
    settings = _settings(tmp_path / "landing", tmp_path, path)
    pipeline.run_all(settings)
    expected = oracle.compute_all(tmp_path / "landing", path)
    assert_tables_match(read_table(settings, "marts.stage_pass_rates"),
                        expected["stage_pass_rates"], PASS_KEYS)
    assert_tables_match(read_table(settings, "marts.retention"), expected["retention"],
                        RETENTION_KEYS)


def test_main_cli_with_a_config(tmp_path, capsys):
    assert synthetic.main(["--target", str(tmp_path), "--applicants", "300", "--seed", "2",
                           "--config", str(TEN_STAGES), "--clean"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"] == str(TEN_STAGES) and out["dirty"] is False
    assert out["planted_disparities"] == [["sex", "Female", "fitness"],
                                          ["age_band", "Under 25", "sift"]]
    header = (tmp_path / "applicants_01.csv").read_text().splitlines()[0]
    assert header == ("applicant_id,sex,Date of Birth,ethnicity,disability,Religion or Belief,"
                      "sexual_orientation")


def test_bad_config_raises_before_writing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[stage]]\nname = 'only one'\n")
    with pytest.raises(ConfigError):
        generate_landing(tmp_path / "landing", applicants=10, config=bad)
    assert not (tmp_path / "landing").exists()
