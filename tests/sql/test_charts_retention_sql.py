"""sql/charts/retention_curves.sql (issue 17): the Kaplan–Meier steps of the retention
chart, month by month, against statsmodels' `SurvfuncRight` on recruits built in the test
(ties, a leaving on the start day, one exactly at 365 days, a group nobody is followed
to 730 days in, a group with no leaver), and against marts.retention on a real run.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from statsmodels.duration.survfunc import SurvfuncRight

from funnel_pipeline import core, marts, warehouse
from funnel_pipeline.charts import pages
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, ALL_GROUP, load_config
from funnel_pipeline.pipeline import run_all
from funnel_pipeline.settings import Settings

START = datetime(2022, 4, 1, tzinfo=UTC)
MONTH = 365 / 12

#: (first characteristic's group, duration in days, left?) — one recruit each
RECRUITS: list[tuple[str, float, bool]] = [
    # first group: ties at 30 days, a leaving on the start day, one exactly at 365 days,
    # censored recruits past two years
    *[("A", 0.0, True)],
    *[("A", 30.0, True)] * 3, ("A", 30.0, False),
    ("A", 200.5, True), ("A", 365.0, True), ("A", 365.0, False), ("A", 500.0, False),
    ("A", 700.0, True), ("A", 731.0, False), ("A", 800.0, False), ("A", 900.25, True),
    # second group: nobody is followed for 730 days
    ("B", 10.0, True), ("B", 100.0, False), ("B", 300.0, True), ("B", 400.0, False),
    ("B", 400.0, True), ("B", 729.9, False),
    # third group: no leaver at all
    ("C", 50.0, False), ("C", 380.0, False), ("C", 760.0, False),
]


def km_at(durations: list[float], left: list[bool], t: float) -> float:
    """S(t) from statsmodels' product-limit estimate (1 before its first time)."""
    if not any(left):
        return 1.0
    fit = SurvfuncRight(np.array(durations), np.array(left, dtype=float))
    times, probs = fit.surv_times, fit.surv_prob
    before = [p for u, p in zip(times, probs) if u <= t]
    return float(before[-1]) if before else 1.0


@pytest.fixture
def curves(tmp_path: Path) -> pd.DataFrame:
    settings = Settings(landing_dir=tmp_path / "landing", duckdb_path=tmp_path / "w.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="1GB")
    core.apply_configuration(settings)  # schema and config.* of the built-in funnel
    config = load_config(None)
    first = config.characteristics[0]
    groups = dict(zip("ABC", first.groups + (first.groups[0],)))
    # groups of the other characteristics: each one's first group (not under test)
    others = [c.groups[0] for c in config.characteristics[1:]]
    rows = [(f"P{i}", [g_name if g != "C" else "Not stated", *others],
             START + timedelta(days=i), d, left)
            for i, (g, d, left) in enumerate(RECRUITS) for g_name in [groups[g]]]
    con = duckdb.connect(str(settings.duckdb_path))
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE TABLE staging.recruits (applicant_id VARCHAR, groups VARCHAR[], "
                    "started_at TIMESTAMPTZ, duration_days DOUBLE, has_left BOOLEAN)")
        con.executemany("INSERT INTO staging.recruits VALUES (?, ?, ?, ?, ?)", rows)
        con.execute("INSERT INTO core.leavers (applicant_id, left_on_delivered, left_on, "
                    "file_id, row_number) VALUES ('P0', '2022-04-01', TIMESTAMPTZ "
                    "'2022-04-01 00:00:00+00', 1, 1)")
        # the Kaplan–Meier steps the curves (and marts.retention) read
        warehouse.run_sql_file(con, "marts/survival_steps.sql", marts.parameters())
    finally:
        con.close()
    with warehouse.open_warehouse(settings, read_only=True) as con:
        frame = pages.read_marts(con)[pages.CURVES]
    frame.attrs["groups"] = {"A": groups["A"], "B": groups["B"], "C": "Not stated"}
    frame.attrs["characteristic"] = first.name
    return frame


def test_curves_are_the_product_limit_estimate_at_every_month(curves: pd.DataFrame) -> None:
    characteristic = curves.attrs["characteristic"]
    for key, group in curves.attrs["groups"].items():
        mine = [(d, left) for g, d, left in RECRUITS if g == key]
        durations, left = [d for d, _ in mine], [lo for _, lo in mine]
        got = curves.loc[(curves["characteristic"] == characteristic)
                         & (curves["group_name"] == group)].sort_values("month")
        last = math.floor(max(durations) / MONTH + 1e-12)
        assert list(got["month"]) == list(range(last + 1)), key
        for _, row in got.iterrows():
            t = row["month"] * MONTH
            assert row["retained"] == pytest.approx(km_at(durations, left, t), abs=1e-12), (
                key, row["month"])
            assert row["at_risk"] == sum(d >= t - 1e-9 for d in durations), (key, row["month"])
        assert int(got["recruits"].iloc[0]) == len(mine)
        assert int(got["leavers"].iloc[0]) == sum(left)
    # the leaving on the start day counts at month 0; the one at exactly 365 days at month 12
    a = curves.loc[curves["group_name"] == curves.attrs["groups"]["A"]].set_index("month")
    n_a = sum(g == "A" for g, _, _ in RECRUITS)
    assert a.loc[0, "retained"] == pytest.approx(1 - 1 / n_a)
    assert a.loc[12, "retained"] < a.loc[11, "retained"]
    # nobody of B is followed to 730 days: no month 24 (the contract's S(730) is NULL)
    b = curves.loc[curves["group_name"] == curves.attrs["groups"]["B"]]
    assert b["month"].max() == 23
    # no leaver in C: retained 1 throughout
    c = curves.loc[curves["group_name"] == "Not stated"]
    assert set(c["retained"]) == {1.0}
    # everyone: the 'all' rows hold every recruit
    everyone = curves.loc[curves["characteristic"] == ALL_CHARACTERISTIC]
    assert set(everyone["group_name"]) == {ALL_GROUP}
    assert int(everyone["recruits"].iloc[0]) == len(RECRUITS)
    assert int(curves["leavers_loaded"].iloc[0]) == 1


def test_curves_agree_with_the_retention_mart_on_a_real_run(tmp_path: Path) -> None:
    """force-landing (leavers, its own funnel): month 12 and 24 are the mart's S(365) and
    S(730); recruits and leavers are the mart's; nothing identifying comes out."""
    settings = Settings(landing_dir=FIXTURES / "force-landing", duckdb_path=tmp_path / "f.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="1GB",
                        config_path=str(FIXTURES / "funnel.custom.toml"))
    run_all(settings)
    with warehouse.open_warehouse(settings, read_only=True) as con:
        marts = pages.read_marts(con)
    curves, mart = marts[pages.CURVES], marts[pages.RETENTION]
    assert set(curves.columns) == {"characteristic", "group_name", "month", "retained",
                                   "at_risk", "recruits", "leavers", "leavers_loaded",
                                   "observed_until"}
    kept = pages.retention_of(marts)
    assert kept.measurable and kept.consistent
    for _, row in mart.iterrows():
        got = curves.loc[(curves["characteristic"] == row["characteristic"])
                         & (curves["group_name"] == row["group_name"])].set_index("month")
        assert int(got["recruits"].iloc[0]) == row["recruits"]
        assert int(got["leavers"].iloc[0]) == row["leavers"]
        for month, column in ((12, "retention_12_months"), (24, "retention_24_months")):
            if pd.isna(row[column]):
                assert month not in got.index
            else:
                assert got.loc[month, "retained"] == pytest.approx(row[column], abs=1e-12)
    # a tampered mart is noticed: the page then draws no curve
    tampered = dict(marts)
    tampered[pages.RETENTION] = mart.assign(leavers=mart["leavers"] + 1)
    assert not pages.retention_of(tampered).consistent
