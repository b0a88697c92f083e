"""The v1.2 oracle (tests/oracle.py) against the contract's v1.2 examples and edge cases.

The pipeline's v1.2 tests will trust tests/oracle.py, so it is checked here first:

* it reproduces every independently computed table of ``force-landing.expected/``
  (custom configuration) and ``optional-landing.v12.expected/`` (default) at 1e-9;
* the default configuration file gives exactly what no configuration gives;
* the statistics it writes out from the contract's formulas agree with ``statsmodels``
  on the edge cases (ties, leaving on the start day, exactly 365 days, nobody observed
  730 days, no leavers; one stratum, a = 0, reference rate 1, pooled odds ratio 0 or
  infinite);
* configuration rules (matching, age bands, outcome aliases, bad files) behave as
  section 8 says;
* it runs on generated configurations and landing folders (tests/generators.py) and the
  tables are internally consistent.

Fast and without Dagster: nothing here runs the pipeline.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.contingency_tables import StratifiedTable

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:  # works with or without tests/__init__.py
    sys.path.insert(0, str(TESTS_DIR))

import generators
import oracle
from table_compare import assert_same_order, assert_tables_match, load_expected_csv

FIXTURES = TESTS_DIR / "fixtures"
DEFAULT_TOML = FIXTURES / "funnel.default.toml"
CUSTOM_TOML = FIXTURES / "funnel.custom.toml"

PASS_RATE_KEYS = ["characteristic", "group_name", "stage"]
#: Row keys of every table in the v1.2 expected folders.
TABLE_KEYS: dict[str, list[str]] = {
    "stage_pass_rates": PASS_RATE_KEYS,
    "stage_pass_rates_by_campaign": ["campaign_id", *PASS_RATE_KEYS],
    "stage_pass_rates_by_entry_route": ["entry_route", *PASS_RATE_KEYS],
    "stage_pass_rates_by_year": ["application_year", *PASS_RATE_KEYS],
    "intersectional_stage_pass_rates": PASS_RATE_KEYS,
    "pooled_stage_pass_rates": PASS_RATE_KEYS,
    "drop_out_points": [
        "source_table",
        "campaign_id",
        "entry_route",
        "application_year",
        *PASS_RATE_KEYS,
    ],
    "stage_durations": PASS_RATE_KEYS,
    "representation": ["characteristic", "group_name"],
    "intervention_effects": ["intervention_id", "stage", "characteristic", "group_name"],
    "retention": ["characteristic", "group_name"],
    "workforce_flows": ["financial_year", "entry_route", "flow", "characteristic", "group_name"],
}
#: (landing folder, configuration, expected folder)
EXAMPLES = {
    "force": ("force-landing", CUSTOM_TOML, "force-landing.expected"),
    "optional": ("optional-landing", None, "optional-landing.v12.expected"),
}


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    """The oracle's tables for each example, computed once for the module."""
    return {
        name: oracle.compute_all(FIXTURES / landing, config)
        for name, (landing, config, _) in EXAMPLES.items()
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- the contract's examples -----------------------------------------------------------


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_expected_folder_is_complete(example: str) -> None:
    """Guard: the parametrised test below covers every expected CSV there is."""
    expected_dir = FIXTURES / EXAMPLES[example][2]
    assert {p.stem for p in expected_dir.glob("*.csv")} == set(TABLE_KEYS)


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example_tables(results: dict, example: str, table: str) -> None:
    """Every row and column of every expected table, at 1e-9."""
    expected = load_expected_csv(FIXTURES / EXAMPLES[example][2] / f"{table}.csv")
    assert_tables_match(results[example][table], expected, TABLE_KEYS[table])


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_example_drop_out_points_order(results: dict, example: str) -> None:
    expected = load_expected_csv(FIXTURES / EXAMPLES[example][2] / "drop_out_points.csv")
    assert_same_order(results[example]["drop_out_points"], expected, TABLE_KEYS["drop_out_points"])


def test_force_landing_leavers_rejections(results: dict) -> None:
    """Blank id, unparseable date, and both copies of the conflicting row are rejected."""
    reasons = sorted(r["reason"].split(":")[0] for r in results["force"]["rejected_leavers"])
    assert reasons == [
        "conflicting duplicate leavers key",
        "conflicting duplicate leavers key",
        "missing required field",
        "unparseable left_on",
    ]


def test_dirty_landing_v11_columns_unchanged() -> None:
    """v1.2's stricter wording changes nothing in the v1.1 sample's stage_pass_rates."""
    expected = load_expected_csv(FIXTURES / "dirty-landing.expected_stage_pass_rates.csv")
    actual = [
        {k: r[k] for k in expected[0]}
        for r in oracle.compute_all(FIXTURES / "dirty-landing")["stage_pass_rates"]
    ]
    assert_tables_match(actual, expected, PASS_RATE_KEYS)


# --- the default configuration ---------------------------------------------------------


def test_default_file_is_the_builtin_default() -> None:
    assert oracle.load_config(DEFAULT_TOML) == oracle.DEFAULT_CONFIG


@pytest.mark.parametrize("landing", ["optional-landing", "dirty-landing"])
def test_default_file_gives_the_same_tables(landing: str) -> None:
    assert oracle.compute_all(FIXTURES / landing, DEFAULT_TOML) == oracle.compute_all(
        FIXTURES / landing
    )


def test_sift_stage_defaults_to_the_second_stage(tmp_path: Path) -> None:
    assert oracle.DEFAULT_CONFIG.sift_stage == "sift"
    assert oracle.load_config(CUSTOM_TOML).sift_stage == "sift"
    path = _write(
        tmp_path / "f.toml",
        '[[stage]]\nname = "apply"\n[[stage]]\nname = "test"\naliases = ["exam"]\n'
        '[[stage]]\nname = "hire"\n',
    )
    assert oracle.load_config(path).sift_stage == "test"
    with_sift = path.read_text() + '[publication]\nsift_stage = "Exam"\n'
    assert oracle.load_config(_write(tmp_path / "g.toml", with_sift)).sift_stage == "test"


# --- section 8: matching ---------------------------------------------------------------


@pytest.fixture(scope="module")
def custom() -> oracle.Config:
    return oracle.load_config(CUSTOM_TOML)


@pytest.mark.parametrize(
    ("value", "group", "recognised"),
    [
        ("White", "White", True),
        ("  wHITE ", "White", True),  # a group name, trimmed, any case
        ("white: irish", "White", True),  # prefix followed by a non-letter
        ("White-British", "White", True),
        ("white1", "White", True),  # a digit is not a letter a-z
        ("Whitehall", oracle.NOT_STATED, False),  # prefix followed by a letter
        ("Other ethnic group: Arab", "Other", True),
        ("Other", "Other", True),  # the group name itself
        ("ARAB", "Other", True),  # a synonym
        ("Not disclosed", oracle.NOT_STATED, True),  # the custom not-stated spelling
        ("", oracle.NOT_STATED, True),
        (None, oracle.NOT_STATED, True),
        ("Martian", oracle.NOT_STATED, False),
    ],
)
def test_delivered_matching(custom: oracle.Config, value, group: str, recognised: bool) -> None:
    ethnicity = next(c for c in custom.characteristics if c.name == "ethnicity")
    assert ethnicity.match(value, custom.not_stated) == (group, recognised)


def test_not_stated_spellings_are_configured(custom: oracle.Config) -> None:
    sex = next(c for c in oracle.DEFAULT_CONFIG.characteristics if c.name == "sex")
    assert sex.match("not disclosed", oracle.DEFAULT_CONFIG.not_stated) == (
        oracle.NOT_STATED,
        False,
    )
    assert sex.match("not disclosed", custom.not_stated) == (oracle.NOT_STATED, True)


def test_longest_prefix_wins(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "f.toml",
        '[[stage]]\nname = "a"\n[[stage]]\nname = "b"\n'
        '[[characteristic]]\nname = "faith"\ncolumn = " Religion "\ngroups = ["Christian", "Other"]\n'
        'prefixes = { christian = "Christian", "christian other" = "Other" }\n',
    )
    faith = oracle.load_config(path).characteristics[0]
    assert faith.column == "Religion"
    assert faith.match("Christian - Church of England", frozenset()) == ("Christian", True)
    assert faith.match("christian other: Gnostic", frozenset()) == ("Other", True)
    assert faith.match("christian otherwise", frozenset()) == ("Christian", True)
    assert faith.match("christianity", frozenset()) == (oracle.NOT_STATED, False)


def test_outcome_aliases(custom: oracle.Config, tmp_path: Path) -> None:
    """A key replaces that outcome's aliases, omitted keys keep theirs, names always match."""
    assert custom.outcome("Not Suitable") == "failed"
    assert custom.outcome("success") == "passed" and custom.outcome("withdrew") == "withdrawn"
    path = _write(
        tmp_path / "f.toml",
        '[[stage]]\nname = "a"\n[[stage]]\nname = "b"\n[outcomes]\nfailed = []\n',
    )
    only_names = oracle.load_config(path)
    assert only_names.outcome(" FAILED ") == "failed" and only_names.outcome("fail") is None
    assert custom.stage("JRFT") == "fitness" and custom.stage("application sift") is None


# --- section 8: age bands --------------------------------------------------------------


#: (date of birth as delivered, first-stage date, age band of funnel.custom.toml, whether
#: the value is recognised); tests/e2e/test_configuration_runs.py runs them through the pipeline
AGE_CASES = [
    ("2000-06-15", date(2025, 6, 15), "25 to 34", True),  # birthday on the day counts
    ("2000-06-15", date(2025, 6, 14), "Under 25", True),
    ("2000-02-29", date(2025, 2, 28), "Under 25", True),  # non-leap: from 1 March
    ("2000-02-29", date(2025, 3, 1), "25 to 34", True),
    ("1990-02-29", date(2025, 3, 1), oracle.NOT_STATED, False),  # no such date
    ("1996-02-29", date(2020, 2, 29), "Under 25", True),  # 24 on a leap birthday
    ("1995-02-29", date(2020, 2, 29), oracle.NOT_STATED, False),
    ("1990-01-01", date(2025, 1, 1), "35 and over", True),
    ("2020-01-02", date(2020, 1, 1), oracle.NOT_STATED, False),  # born after applying
    ("2020-01-01", date(2020, 1, 1), "Under 25", True),  # born on the day: age 0
    ("", date(2020, 1, 1), oracle.NOT_STATED, True),
    (None, date(2020, 1, 1), oracle.NOT_STATED, True),
    (" Unknown ", date(2020, 1, 1), oracle.NOT_STATED, True),
    ("not disclosed", date(2020, 1, 1), oracle.NOT_STATED, True),
    ("02/03/1991", date(2020, 1, 1), oracle.NOT_STATED, False),
    ("1991-3-2", date(2020, 1, 1), oracle.NOT_STATED, False),
    ("1991-03-02T00:00:00Z", date(2020, 1, 1), oracle.NOT_STATED, False),
    (" 1991-03-02 ", date(2020, 1, 1), "25 to 34", True),  # trimmed
]


@pytest.mark.parametrize(("born", "applied", "group", "recognised"), AGE_CASES)
def test_age_band(custom: oracle.Config, born, applied: date, group: str, recognised: bool) -> None:
    age = next(c for c in custom.characteristics if c.kind == "age")
    assert age.age_band(born, applied, custom.not_stated) == (group, recognised)


def test_age_is_a_property_of_the_application(tmp_path: Path) -> None:
    """One person, two applications either side of a birthday: two bands (UTC dates)."""
    landing = tmp_path / "landing"
    _write(landing / "applicants.csv", "applicant_id,date_of_birth\nA,2000-06-15\n")
    _write(
        landing / "events.csv",
        "event_id,applicant_id,campaign_id,stage,outcome,occurred_at\n"
        "1,A,C1,application,passed,2025-06-14T23:30:00-01:00\n"  # 15 June 00:30 UTC
        "2,A,C2,application,passed,2025-06-14T23:30:00+01:00\n",  # 14 June 22:30 UTC
    )
    config = oracle.load_config(CUSTOM_TOML)
    apps = oracle.build_applications(
        oracle.load_events(landing, config).accepted,
        oracle.load_applicants(landing),
        {},
        config,
    )
    assert {a.campaign_id: a.groups["age_band"] for a in apps} == {
        "C1": "25 to 34",
        "C2": "Under 25",
    }


# --- section 8: bad configurations -----------------------------------------------------

_STAGES = '[[stage]]\nname = "a"\n[[stage]]\nname = "b"\n'
_SEX = '[[characteristic]]\nname = "sex"\ngroups = ["Male", "Female"]\n'


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 1\n" + _STAGES, "colour"),
        ('[[stage]]\nname = "a"\n', "stage"),
        (_STAGES + '[[stage]]\nname = "c"\naliases = ["A"]\n', "stage[2].aliases"),
        (_STAGES + '[[stage]]\nname = "c"\nalias = ["x"]\n', "stage[2].alias"),
        (_STAGES + '[outcomes]\npassed = ["fail"]\n', "outcomes.failed"),
        (_STAGES + '[outcomes]\nsucceeded = ["ok"]\n', "outcomes.succeeded"),
        (_STAGES + '[not_stated]\nwords = ["n/k"]\n', "not_stated.words"),
        (_STAGES + _SEX + 'groups2 = ["x"]\n', "characteristic[0].groups2"),
        (_STAGES + _SEX.replace('"Female"]', '"Female", "male"]'), "characteristic[0].groups"),
        (_STAGES + _SEX.replace('"Female"]', '"Not stated"]'), "characteristic[0].groups"),
        (_STAGES + _SEX.replace('"Female"]', '"All"]'), "characteristic[0].groups"),
        (_STAGES + _SEX.replace('"sex"', '"all"'), "characteristic[0].name"),
        (_STAGES + _SEX.replace('"sex"', '"sex x age"'), "characteristic[0].name"),
        (_STAGES + _SEX + _SEX, "characteristic[1].name"),
        (_STAGES + _SEX + 'reference_group = "Woman"\n', "characteristic[0].reference_group"),
        (_STAGES + _SEX + 'synonyms = { w = "Woman" }\n', "characteristic[0].synonyms.w"),
        (_STAGES + _SEX + 'intersectional = "yes"\n', "characteristic[0].intersectional"),
        (
            _STAGES
            + _SEX
            + '[[characteristic]]\nname = "m"\nderived_from = "sex"\ngroups = ["Y", "N"]\n'
            'map = { Male = "Y" }\n',
            "characteristic[1].map",
        ),
        (
            _STAGES
            + _SEX
            + '[[characteristic]]\nname = "m"\nderived_from = "sex"\ngroups = ["Y", "N"]\n'
            'map = { Male = "Y", Female = "Maybe" }\n',
            "characteristic[1].map.Female",
        ),
        (
            _STAGES
            + _SEX
            + '[[characteristic]]\nname = "m"\nderived_from = "sex"\ngroups = ["Y"]\n'
            'map = { Male = "Y", Female = "Y" }\n'
            '[[characteristic]]\nname = "n"\nderived_from = "m"\ngroups = ["Z"]\n'
            'map = { Y = "Z" }\n',
            "characteristic[2].derived_from",
        ),
        (
            _STAGES + '[[characteristic]]\nname = "m"\nderived_from = "sex"\ngroups = ["Y"]\n'
            'map = { Male = "Y" }\n',
            "characteristic[0].derived_from",
        ),
        (
            _STAGES + '[[characteristic]]\nname = "age"\nborn_on = "dob"\n'
            'bands = [{ group = "Young", below = 30 }, { group = "Mid", below = 30 }, '
            '{ group = "Old" }]\n',
            "characteristic[0].bands[1].below",
        ),
        (
            _STAGES + '[[characteristic]]\nname = "age"\nborn_on = "dob"\n'
            'bands = [{ group = "Young", below = 30 }, { group = "Old", below = 60 }]\n',
            "characteristic[0].bands[1].below",
        ),
        (_STAGES + '[publication]\nsift_stage = "interview"\n', "publication.sift_stage"),
    ],
)
def test_bad_configuration(tmp_path: Path, text: str, key: str) -> None:
    """Every bad configuration of section 8 is refused, naming the file and the key."""
    path = _write(tmp_path / "bad.toml", text)
    with pytest.raises(oracle.ConfigError) as info:
        oracle.load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: ")


# --- section 9: recruits, leaving, Kaplan-Meier, log-rank -------------------------------


def _statsmodels_km(durations: list[float], statuses: list[int], t: float) -> float:
    """S(t) read off statsmodels' product-limit estimate (1 before the first leaving)."""
    sf = SurvfuncRight(np.asarray(durations, dtype=float), np.asarray(statuses))
    i = int(np.searchsorted(sf.surv_times, t, side="right")) - 1
    return 1.0 if i < 0 else float(sf.surv_prob[i])


@pytest.mark.parametrize(
    ("durations", "statuses"),
    [
        ([10, 10, 10, 400, 500, 500], [1, 1, 0, 1, 0, 1]),  # ties, leaving and censored
        ([0, 0, 100, 400, 800], [1, 0, 1, 0, 0]),  # leaving on the start day
        ([365, 365, 365, 800], [1, 1, 0, 0]),  # leaving at exactly 365 days counts
        ([730, 731, 200], [1, 0, 1]),  # and at exactly 730
        ([400, 800, 900], [0, 0, 0]),  # nobody leaves
    ],
)
def test_kaplan_meier_agrees_with_statsmodels(durations: list, statuses: list) -> None:
    """Where someone was observed t days; before that the contract's S(t) is NULL."""
    for t in (365.0, 730.0):
        got = oracle.km_at(durations, statuses, t)
        if max(durations) < t:
            assert got is None
        else:
            assert got == pytest.approx(_statsmodels_km(durations, statuses, t), abs=1e-12)


def test_kaplan_meier_null_and_one() -> None:
    assert oracle.km_at([100.0, 500.0], [1, 0], 730) is None  # nobody observed 730 days
    assert oracle.km_at([365.0], [1], 365) == 0.0  # observed exactly 365 days: not NULL
    assert oracle.km_at([500.0, 800.0], [0, 0], 365) == 1.0  # no leaving at or before t


def _recruits(groups_durations: list[tuple[str, float, int]]) -> list[oracle.Recruit]:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    out = []
    for i, (group, days, status) in enumerate(groups_durations):
        app = oracle.Application(f"P{i}", "C1", "PCDA", {"sex": group})
        r = oracle.Recruit(app, start, start if status else None, float(days))
        out.append(r)
    return out


@pytest.fixture
def sex_only(tmp_path: Path) -> oracle.Config:
    return oracle.load_config(_write(tmp_path / "sex.toml", _STAGES + _SEX))


def _retention_row(rows: list[dict], group: str) -> dict:
    return next(r for r in rows if r["characteristic"] == "sex" and r["group_name"] == group)


def test_retention_log_rank_agrees_with_statsmodels(sex_only: oracle.Config) -> None:
    """A group with no leavers against a reference that has some: ratio and survdiff p."""
    data = [("Female", d, 0) for d in (400, 500, 800)] + [
        ("Male", d, s) for d, s in ((50, 1), (50, 1), (366, 0), (700, 1), (800, 0))
    ]
    rows = oracle.retention(_recruits(data), sex_only)
    female = _retention_row(rows, "Female")
    _chi2, p = survdiff(
        np.array([d for _, d, _ in data], dtype=float),
        np.array([s for _, _, s in data]),
        np.array([g == "Male" for g, _, _ in data]),
    )
    assert female["leavers"] == 0 and female["retention_12_months"] == 1.0
    assert female["retention_ratio"] == pytest.approx(1 / (1 - 2 / 5), abs=1e-12)
    assert female["logrank_p_value"] == pytest.approx(float(p), abs=1e-12)
    assert female["flagged"] is False  # ratio above 1
    male = _retention_row(rows, "Male")
    assert male["reference_group"] == "Male" and male["retention_ratio"] is None
    assert male["retention_24_months"] == pytest.approx(0.6 * (1 - 1 / 2), abs=1e-12)


def test_retention_nulls(sex_only: oracle.Config) -> None:
    """No leaver in either group → no test; nobody observed 365 days → no ratio."""
    rows = oracle.retention(
        _recruits([("Female", 400, 0), ("Male", 500, 0), ("Not stated", 30, 1)]), sex_only
    )
    female = _retention_row(rows, "Female")
    assert female["retention_ratio"] == 1.0 and female["logrank_p_value"] is None
    not_stated = _retention_row(rows, "Not stated")
    assert not_stated["retention_12_months"] is None and not_stated["retention_ratio"] is None
    everyone = next(r for r in rows if r["characteristic"] == "all")
    assert everyone["recruits"] == 3 and everyone["reference_group"] is None


def test_retention_without_variance_has_no_test(sex_only: oracle.Config) -> None:
    """Nobody of the other group at risk at the one leaving: survdiff's matrix is singular."""
    rows = oracle.retention(_recruits([("Female", 400, 0), ("Male", 500, 1)]), sex_only)
    female = _retention_row(rows, "Female")
    assert female["retention_ratio"] == 1.0 and female["logrank_p_value"] is None


def test_recruits_and_their_leaving(tmp_path: Path) -> None:
    """Section 9's assignment rules on a small folder, end to end through the loaders."""
    config = oracle.load_config(_write(tmp_path / "two.toml", _STAGES + _SEX))
    landing = tmp_path / "landing"
    events = [
        # person, campaign, first-stage time, final pass time
        ("A", "C1", "2020-01-01", "2020-01-01T10:00:00Z"),
        ("A", "C2", "2021-12-01", "2022-01-01T00:00:00Z"),
        ("B", "C1", "2020-02-01", "2020-03-01T00:00:00Z"),
        ("B", "C2", "2020-08-01", "2020-09-01T00:00:00Z"),
        ("C", "C1", "2020-01-01", "2020-05-01T00:00:00Z"),
        ("C", "C2", "2020-01-01", "2020-05-01T00:00:00Z"),
        ("D", "C1", "2020-01-01", "2020-06-01T12:00:00Z"),
        ("E", "C1", "2020-01-01", "2020-06-01T00:00:00Z"),
    ]
    lines = ["event_id,applicant_id,campaign_id,stage,outcome,occurred_at"]
    for i, (p, c, applied, hired) in enumerate(events):
        lines += [f"{i}a,{p},{c},a,passed,{applied}", f"{i}b,{p},{c},b,passed,{hired}"]
    lines.append("Xa,F,C1,a,passed,2020-01-01")  # F never recruited
    _write(landing / "events.csv", "\n".join(lines) + "\n")
    _write(
        landing / "leavers.csv",
        "applicant_id,left_on,reason\n"
        "A,2021-06-01,Resigned\n"  # A's first recruit (latest start on or before)
        "A,2019-06-01,Before any start\n"  # belongs to none
        "C,2021-01-01,Resigned\n"  # same-start tie: the greatest campaign_id (C2)
        "D,2020-06-01T12:00:00Z,Left on the start day\n"  # duration 0
        "D,2021-06-01,Left again\n"  # later than D's leaving: not its leaving
        "E,2021-01-01,Resigned\n"
        "E,2021-01-01,Dismissed\n"  # conflict: neither copy counts
        " A ,2021-06-01 ,Resigned\n"  # identical copy once trimmed
        "F,2022-01-01,Never recruited\n",
    )
    loaded = oracle.load_events(landing, config)
    leavers = oracle.load_leavers(landing)
    accepted_leavers = [v["leaver"] for v in leavers.accepted.values()]
    as_of = oracle.as_of_time(loaded.accepted, accepted_leavers)
    assert as_of == datetime(2022, 1, 1, tzinfo=UTC)  # A's second start, F's leavers row
    apps = oracle.build_applications(loaded.accepted, {}, {}, config)
    recruits = oracle.build_recruits(apps, accepted_leavers, as_of, config)
    expected = {  # (status, duration in days)
        ("A", "C1"): (1, 517 - 10 / 24),  # 2020-01-01 10:00 to 2021-06-01
        ("A", "C2"): (0, 0.0),  # starts at the as-of time
        ("B", "C1"): (0, 184.0),  # censored at B's next recruit
        ("B", "C2"): (0, 487.0),  # censored at the as-of time
        ("C", "C1"): (0, 0.0),  # ended by the same-instant next recruit
        ("C", "C2"): (1, 245.0),
        ("D", "C1"): (1, 0.0),
        ("E", "C1"): (0, 579.0),
    }
    got = {(r.app.applicant_id, r.app.campaign_id): r for r in recruits}
    assert {k: r.status for k, r in got.items()} == {k: v[0] for k, v in expected.items()}
    for k, (_status, days) in expected.items():
        assert got[k].duration_days == pytest.approx(days, abs=1e-9), k
    assert [r["reason"] for r in leavers.rejected] == ["conflicting duplicate leavers key"] * 2
    flows = oracle.workforce_flows(recruits, config)
    leaving_counts = {
        r["financial_year"]: r["total"]
        for r in flows
        if r["flow"] == "leavers" and r["entry_route"] == "All routes" and r["group_name"] == "Male"
    }
    assert leaving_counts == {"2020/21": 2, "2021/22": 1}  # D and C; A


def test_financial_year() -> None:
    assert oracle.financial_year(datetime(2022, 3, 31, 23, 59, tzinfo=UTC)) == "2021/22"
    assert oracle.financial_year(datetime(2022, 4, 1, tzinfo=UTC)) == "2022/23"
    assert oracle.financial_year(datetime(1999, 4, 1, tzinfo=UTC)) == "1999/00"


# --- section 10: pooled pass rates and the rate-ratio interval ---------------------------


def _statsmodels_pooled(strata: list[oracle.Stratum]) -> tuple[float, float, float]:
    """(pooled risk ratio, CMH p without correction, Breslow-Day p), NaN/inf as given."""
    table = StratifiedTable([np.array([[s.a, s.n1 - s.a], [s.c, s.n2 - s.c]]) for s in strata])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (
            float(table.riskratio_pooled),
            float(table.test_null_odds(correction=False).pvalue),
            float(table.test_equal_odds(adjust=False).pvalue),
        )


@pytest.mark.parametrize(
    "strata",
    [
        [(3, 10, 6, 10), (5, 20, 12, 25), (1, 4, 7, 9)],  # ordinary
        [(3, 10, 6, 10)],  # a single stratum: no homogeneity test
        [(0, 10, 6, 10), (0, 5, 3, 8)],  # a = 0 everywhere: ratio 0, odds ratio 0
        [(4, 10, 10, 10), (2, 6, 8, 8)],  # reference rate 1: odds ratio 0
        [(10, 10, 6, 10), (5, 5, 3, 8)],  # the group always passes: odds ratio infinite
        [(2, 10, 0, 10), (1, 5, 0, 8)],  # the reference never passes: no ratio
    ],
)
def test_mantel_haenszel_agrees_with_statsmodels(strata: list[tuple[int, int, int, int]]) -> None:
    st = [oracle.Stratum(*s) for s in strata]
    got = oracle.mantel_haenszel(st)
    ratio, cmh, bd = _statsmodels_pooled(st)
    if all(s.c == 0 for s in st):
        assert got["pooled_rate_ratio"] is None
    else:
        assert got["pooled_rate_ratio"] == pytest.approx(ratio, abs=1e-12)
    assert got["cmh_p_value"] == pytest.approx(cmh, abs=1e-12)
    odds_num = sum(s.a * (s.n2 - s.c) / s.total for s in st)
    odds_den = sum((s.n1 - s.a) * s.c / s.total for s in st)
    if len(st) < 2 or odds_num == 0 or odds_den == 0:
        assert got["breslow_day_p_value"] is None
    else:
        assert got["breslow_day_p_value"] == pytest.approx(bd, abs=1e-12)


def test_mantel_haenszel_without_strata() -> None:
    assert oracle.mantel_haenszel([]) == {
        "pooled_rate_ratio": None,
        "cmh_p_value": None,
        "breslow_day_p_value": None,
    }


def test_breslow_day_odds_ratio_exactly_one() -> None:
    """statsmodels gives NaN when the pooled odds ratio is exactly 1: published as NULL."""
    st = [oracle.Stratum(1, 2, 1, 2), oracle.Stratum(2, 4, 1, 2)]
    assert math.isnan(_statsmodels_pooled(st)[2])
    assert oracle.mantel_haenszel(st)["breslow_day_p_value"] is None


def _app(campaign: str, group: str, outcome: str, config: oracle.Config) -> oracle.Application:
    ev = oracle.Event(
        "e", "p", campaign, config.first_stage, outcome, datetime(2020, 1, 1, tzinfo=UTC)
    )
    return oracle.Application("p", campaign, "Unknown", {"sex": group}, {config.first_stage: ev})


def test_pooled_strata_selection(sex_only: oracle.Config) -> None:
    """Only campaigns with both groups decided and 0 < a + c < N are strata."""
    plan = {
        "K1": [("Female", "passed"), ("Female", "failed"), ("Male", "passed"), ("Male", "failed")],
        "K2": [("Female", "passed"), ("Male", "passed")],  # a + c = N
        "K3": [("Female", "failed"), ("Male", "withdrawn")],  # a + c = 0
        "K4": [("Male", "passed"), ("Male", "failed")],  # no Female
        "K5": [("Female", "passed"), ("Male", "failed"), ("Male", "passed")],
    }
    apps = [_app(k, g, o, sex_only) for k, rows in plan.items() for g, o in rows]
    apps.append(_app("K1", "Not stated", "passed", sex_only))
    rows = oracle.pooled_stage_pass_rates(apps, sex_only)
    female = next(r for r in rows if r["group_name"] == "Female" and r["stage_order"] == 1)
    assert {r["group_name"] for r in rows} == {"Female"}  # no reference, no Not stated
    assert (female["strata"], female["decided"], female["passed"]) == (2, 3, 2)
    assert (female["reference_decided"], female["reference_passed"]) == (4, 2)
    later = next(r for r in rows if r["stage_order"] == 2)
    assert later["strata"] == 0 and later["pooled_rate_ratio"] is None
    assert later["cmh_p_value"] is None and later["flagged"] is False


@pytest.mark.parametrize(("a", "n1", "c", "n2"), [(3, 10, 6, 10), (10, 10, 10, 10), (4, 9, 7, 7)])
def test_air_interval(a: int, n1: int, c: int, n2: int) -> None:
    lo, hi = oracle.air_interval(a, n1, c, n2)
    r = (a / n1) / (c / n2)
    half = oracle.Z95 * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    assert lo == pytest.approx(r * math.exp(-half), rel=1e-12) and lo <= r <= hi
    assert hi == pytest.approx(r * math.exp(half), rel=1e-12)


def test_air_interval_when_the_group_never_passes() -> None:
    """a = 0: a + 0.5, n₁ + 1, c + 0.5, n₂ + 1 everywhere, r included."""
    lo, hi = oracle.air_interval(0, 10, 5, 10)
    r = (0.5 / 11) / (5.5 / 11)
    half = oracle.Z95 * math.sqrt(1 / 0.5 - 1 / 11 + 1 / 5.5 - 1 / 11)
    assert (lo, hi) == pytest.approx((r * math.exp(-half), r * math.exp(half)), rel=1e-12)


# --- generated configurations and landing folders --------------------------------------


def _check_invariants(tables: dict, config: oracle.Config) -> None:
    """entered = passed + failed + withdrawn + pending; the groups of a dimension sum to all."""
    counts = ("entered", "passed", "failed", "withdrawn", "pending")
    for name in oracle.PASS_RATE_TABLES:
        segment = [c for c in oracle.SEGMENT_COLUMNS if c in (tables[name][:1] or [{}])[0]]
        sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(counts))
        totals: dict[tuple, list[int]] = {}
        for r in tables[name]:
            assert r["entered"] == r["passed"] + r["failed"] + r["withdrawn"] + r["pending"]
            assert r["stage"] == config.stages[r["stage_order"] - 1]
            assert r["stage_order"] > 1 or r["pending"] == 0
            where = (*(r[c] for c in segment), r["stage"])
            if r["characteristic"] == "all":
                totals[where] = [r[c] for c in counts]
            else:
                acc = sums[(*where, r["characteristic"])]
                for i, c in enumerate(counts):
                    acc[i] += r[c]
        if name != "intersectional_stage_pass_rates":
            for key, acc in sums.items():
                assert acc == totals[key[:-1]], (name, key)
        else:  # no all rows: every pair sums to stage_pass_rates' all
            spr_all = {
                r["stage"]: [r[c] for c in counts]
                for r in tables["stage_pass_rates"]
                if r["characteristic"] == "all"
            }
            for key, acc in sums.items():
                assert acc == spr_all[key[0]], (name, key)
    recruits = {r["characteristic"]: 0 for r in tables["retention"]}
    for r in tables["retention"]:
        recruits[r["characteristic"]] += r["recruits"]
    assert len(set(recruits.values())) <= 1
    for r in tables["workforce_flows"]:
        assert 0 <= r["group_count"] <= r["stated"] <= r["total"]


@pytest.mark.parametrize("seed", range(20))
def test_generated_cases(tmp_path: Path, seed: int) -> None:
    """The oracle runs on generated (configuration, landing) pairs; the tables add up."""
    config_path, landing = generators.write_case(tmp_path, seed)
    config = oracle.load_config(config_path)  # every generated configuration is valid
    assert 2 <= len(config.stages) <= 10 and 1 <= len(config.characteristics) <= 8
    tables = oracle.compute_all(landing, config_path)
    assert tables["stage_pass_rates"], "every generated folder has funnel applications"
    assert tables["rejected_events"] and tables["rejected_leavers"]
    _check_invariants(tables, config)


def test_generators_are_seeded(tmp_path: Path) -> None:
    """Same seed, same files; another seed, another configuration."""
    assert generators.random_config(7) == generators.random_config(7)
    assert generators.random_config(7) != generators.random_config(8)
    first = generators.write_case(tmp_path / "a", 7)[1]
    second = generators.write_case(tmp_path / "b", 7)[1]
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for n in names:
        if n.endswith(".csv"):
            assert (first / n).read_bytes() == (second / n).read_bytes(), n
