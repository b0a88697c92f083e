"""The section 9 and 10 statistics at their edges, through the real pipeline on a DuckDB file,
against statsmodels and formulas computed here from the rows the test writes.

The oracle meets the same edges in tests/unit/test_oracle_v12.py; this file proves the SQL
does too, without going through the oracle: each case writes a tiny landing folder (a
two-stage funnel, sex only), runs `pipeline.run_all` and reads the marts back.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import read_table, write_csv
from scipy.stats import norm
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats.contingency_tables import StratifiedTable

from funnel_pipeline import pipeline
from funnel_pipeline.settings import Settings

CONFIG = ('[[stage]]\nname = "a"\n[[stage]]\nname = "b"\n'
          '[[characteristic]]\nname = "sex"\ngroups = ["Male", "Female"]\n')
EVENTS = ["event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"]
Z = float(norm.ppf(0.975))
TOL = 1e-9


def _build(tmp_path: Path, events: list[list[object]], people: dict[str, str],
           leavers: list[list[object]] | None = None) -> Settings:
    landing = tmp_path / "landing"
    landing.mkdir()
    write_csv(landing / "events_1.csv", EVENTS, events)
    write_csv(landing / "applicants_1.csv", ["applicant_id", "sex"],
              [[p, sex] for p, sex in people.items()])
    if leavers is not None:
        write_csv(landing / "leavers_1.csv", ["applicant_id", "left_on", "reason"], leavers)
    config = tmp_path / "funnel.toml"
    config.write_text(CONFIG, encoding="utf-8")
    settings = Settings(landing_dir=landing, duckdb_path=tmp_path / "funnel.duckdb",
                        reports_dir=tmp_path / "reports", config_path=str(config),
                        duckdb_memory_limit="1GB")
    pipeline.run_all(settings)
    return settings


# --- section 10: the ratio's interval and the pooled figures ------------------------------

#: per campaign (a, n1, c, n2): Female passed/decided at stage b, then Male (the reference)
POOLED_CASES = {
    "three heterogeneous campaigns": [(3, 10, 8, 10), (5, 12, 6, 10), (9, 10, 3, 10)],
    "a single stratum": [(3, 10, 7, 10)],
    "a campaign where everyone passed": [(5, 5, 6, 6), (3, 10, 7, 10), (2, 8, 6, 9)],
    "the group never passes (a = 0, odds ratio 0)": [(0, 10, 7, 10), (0, 8, 5, 9)],
    "the group always passes (odds ratio infinite)": [(10, 10, 7, 10), (8, 8, 5, 9)],
    "the reference always passes (rate 1)": [(3, 10, 10, 10), (4, 9, 8, 8)],
    "no campaign has both groups (no stratum)": [(3, 10, 0, 0), (0, 0, 5, 10)],
}


def _pass_rate_landing(strata: list[tuple[int, int, int, int]]):
    events, people = [], {}
    for k, (a, n1, c, n2) in enumerate(strata):
        for sex, passed, decided in (("Female", a, n1), ("Male", c, n2)):
            for i in range(decided):
                person = f"{sex[0]}{k}_{i}"
                people[person] = sex
                events.append([f"E{person}a", person, f"C{k}", "a", "passed", "2023-01-02"])
                events.append([f"E{person}b", person, f"C{k}", "b",
                               "passed" if i < passed else "failed", "2023-02-02"])
    return events, people


def _ratio_interval(a: int, n1: int, c: int, n2: int) -> tuple[float, float]:
    """Section 10's log-scale interval, with the zero-passes correction when a = 0."""
    if a == 0:
        a, n1, c, n2 = a + 0.5, n1 + 1, c + 0.5, n2 + 1
    ratio = (a / n1) / (c / n2)
    half = Z * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    return ratio * math.exp(-half), ratio * math.exp(half)


@pytest.mark.parametrize("case", sorted(POOLED_CASES))
def test_pooled_and_interval_edges(tmp_path: Path, case: str) -> None:
    strata = POOLED_CASES[case]
    settings = _build(tmp_path, *_pass_rate_landing(strata))

    overall = next(r for r in read_table(settings, "marts.stage_pass_rates")
                   if (r["characteristic"], r["group_name"], r["stage"]) == ("sex", "Female", "b"))
    a, n1 = sum(s[0] for s in strata), sum(s[1] for s in strata)
    c, n2 = sum(s[2] for s in strata), sum(s[3] for s in strata)
    low, high = _ratio_interval(a, n1, c, n2)
    assert overall["air_ci_low"] == pytest.approx(low, abs=TOL, rel=TOL)
    assert overall["air_ci_high"] == pytest.approx(high, abs=TOL, rel=TOL)
    if a > 0:  # with a = 0 the interval is that of the corrected ratio, above the ratio 0
        assert overall["air_ci_low"] <= overall["adverse_impact_ratio"] <= overall["air_ci_high"]

    (pooled,) = [r for r in read_table(settings, "marts.pooled_stage_pass_rates")
                 if (r["characteristic"], r["group_name"], r["stage"]) == ("sex", "Female", "b")]
    kept = [s for s in strata if s[1] > 0 and s[3] > 0 and 0 < s[0] + s[2] < s[1] + s[3]]
    assert pooled["strata"] == len(kept)
    assert pooled["reference_group"] == "Male"
    assert (pooled["passed"], pooled["decided"]) == (sum(s[0] for s in kept), sum(s[1] for s in kept))
    assert (pooled["reference_passed"], pooled["reference_decided"]) == (
        sum(s[2] for s in kept), sum(s[3] for s in kept))
    if not kept:
        assert pooled["pooled_rate_ratio"] is None and pooled["cmh_p_value"] is None
        assert pooled["breslow_day_p_value"] is None and pooled["flagged"] is False
        return
    table = StratifiedTable([np.array([[a, n1 - a], [c, n2 - c]], dtype=float)
                             for a, n1, c, n2 in kept])
    assert pooled["pooled_rate_ratio"] == pytest.approx(table.riskratio_pooled, abs=TOL, rel=TOL)
    assert pooled["cmh_p_value"] == pytest.approx(
        table.test_null_odds(correction=False).pvalue, abs=TOL, rel=TOL)
    odds = table.oddsratio_pooled
    if len(kept) < 2 or odds == 0 or math.isinf(odds):
        assert pooled["breslow_day_p_value"] is None
    else:
        assert pooled["breslow_day_p_value"] == pytest.approx(
            table.test_equal_odds(adjust=False).pvalue, abs=TOL, rel=TOL)
    assert pooled["flagged"] is bool(pooled["pooled_rate_ratio"] < 0.8
                                     and pooled["cmh_p_value"] < 0.05)


# --- section 9: Kaplan-Meier, log-rank and financial years --------------------------------

START = datetime(2020, 1, 1, tzinfo=UTC)
#: (person, sex, start offset in days, leaving offset from the start in days or None)
RECRUITS = [
    ("M1", "Male", 0, 100), ("M2", "Male", 0, 100),     # a tie
    ("M3", "Male", 10, 0),                                # leaves on the day they start
    ("M4", "Male", 0, 365),                               # leaves exactly at 365 days
    ("M5", "Male", 0, None), ("M6", "Male", 30, 1000),
    ("F1", "Female", 400, None), ("F2", "Female", 420, None),  # never leave, and nobody
    ("F3", "Female", 310, None),                               # of them reaches 730 days
]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _km(durations: list[float], statuses: list[int], t: float) -> float | None:
    """S(t) from statsmodels' SurvfuncRight; None when nobody's duration reaches t."""
    if max(durations) < t:
        return None
    fit = SurvfuncRight(np.array(durations), np.array(statuses))
    at_or_before = [p for u, p in zip(fit.surv_times, fit.surv_prob, strict=True) if u <= t]
    return float(at_or_before[-1]) if at_or_before else 1.0


def test_kaplan_meier_and_log_rank_edges(tmp_path: Path) -> None:
    events, people, leavers = [], {}, []
    for person, sex, start_day, leave_after in RECRUITS:
        people[person] = sex
        start = START + timedelta(days=start_day)
        events.append([f"E{person}a", person, "C1", "a", "passed", _iso(start - timedelta(days=5))])
        events.append([f"E{person}b", person, "C1", "b", "passed", _iso(start)])
        if leave_after is not None:
            leavers.append([person, (start + timedelta(days=leave_after)).date().isoformat(),
                            "Resigned"])
    settings = _build(tmp_path, events, people, leavers)

    as_of = max([START + timedelta(days=s) for _, _, s, _ in RECRUITS]
                + [START + timedelta(days=s + d) for _, _, s, d in RECRUITS if d is not None])
    durations = {p: float(d) if d is not None
                 else (as_of - START - timedelta(days=s)).total_seconds() / 86400
                 for p, _, s, d in RECRUITS}
    status = {p: int(d is not None) for p, _, _, d in RECRUITS}
    by_group = {g: [p for p, sex, _, _ in RECRUITS if sex == g] for g in ("Male", "Female")}
    rows = {r["group_name"]: r for r in read_table(settings, "marts.retention")
            if r["characteristic"] == "sex"}
    for group, members in by_group.items():
        row = rows[group]
        assert (row["recruits"], row["leavers"]) == (len(members), sum(status[p] for p in members))
        for months, t in ((12, 365), (24, 730)):
            expected = _km([durations[p] for p in members], [status[p] for p in members], t)
            got = row[f"retention_{months}_months"]
            assert (got is None) == (expected is None), (group, months)
            if expected is not None:
                assert got == pytest.approx(expected, abs=TOL), (group, months)
    female = rows["Female"]
    assert female["retention_24_months"] is None  # nobody observed for 730 days
    assert female["retention_ratio"] == pytest.approx(
        female["retention_12_months"] / rows["Male"]["retention_12_months"], abs=TOL)
    everyone = [p for p, *_ in RECRUITS]
    _, p_value = survdiff(np.array([durations[p] for p in everyone]),
                          np.array([status[p] for p in everyone]),
                          np.array([people[p] == "Male" for p in everyone]))
    assert female["logrank_p_value"] == pytest.approx(float(p_value), abs=TOL)
    assert female["flagged"] is False  # the group with no leavers keeps more of its recruits


def test_financial_years_are_taken_in_utc(tmp_path: Path) -> None:
    """1 April 00:30 British Summer Time is 31 March 23:30 UTC: the financial year before."""
    events = [["EH1a", "H1", "C1", "a", "passed", "2023-03-01T09:00:00Z"],
              ["EH1b", "H1", "C1", "b", "passed", "2023-04-01T00:30:00+01:00"],
              ["EH2a", "H2", "C1", "a", "passed", "2023-03-01T09:00:00Z"],
              ["EH2b", "H2", "C1", "b", "passed", "2023-04-01T01:30:00+01:00"]]
    leavers = [["H1", "2024-04-01T00:30:00+01:00", "Resigned"],
               ["H2", "2024-04-01T01:30:00+01:00", "Resigned"]]
    settings = _build(tmp_path, events, {"H1": "Male", "H2": "Female"}, leavers)
    flows = {(r["financial_year"], r["flow"], r["group_name"]): r["group_count"]
             for r in read_table(settings, "marts.workforce_flows")
             if r["entry_route"] == "All routes" and r["characteristic"] == "sex"}
    assert flows[("2022/23", "hires", "Male")] == 1 and flows[("2023/24", "hires", "Female")] == 1
    assert flows[("2023/24", "leavers", "Male")] == 1 and flows[("2024/25", "leavers", "Female")] == 1
    assert flows[("2022/23", "hires", "Female")] == 0 and flows[("2024/25", "leavers", "Male")] == 0
