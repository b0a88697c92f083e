"""The oracle reproduces the independently computed v1.1 sample tables (tests/fixtures).

The v1.1 tables are the v1.2 ones without section 10's columns and by-year source, so
the oracle's tables are compared on the columns (and drop-out sources) the v1.1 samples
have; tests/unit/test_oracle_v12.py compares the rest. If these pass, the oracle's reading of
the contract agrees with the independent computation on every row and column at 1e-9.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:  # works with or without tests/__init__.py
    sys.path.insert(0, str(TESTS_DIR))

import oracle
from table_compare import (
    assert_same_order,
    assert_tables_match,
    load_expected_csv,
    values_equal,
)

FIXTURES = TESTS_DIR / "fixtures"
OPTIONAL_EXPECTED = FIXTURES / "optional-landing.expected"

PASS_RATE_KEYS = ["characteristic", "group_name", "stage"]
#: Row keys of every table in optional-landing.expected/.
TABLE_KEYS: dict[str, list[str]] = {
    "stage_pass_rates": PASS_RATE_KEYS,
    "stage_pass_rates_by_campaign": ["campaign_id", *PASS_RATE_KEYS],
    "stage_pass_rates_by_entry_route": ["entry_route", *PASS_RATE_KEYS],
    "intersectional_stage_pass_rates": PASS_RATE_KEYS,
    "drop_out_points": ["source_table", "campaign_id", "entry_route", *PASS_RATE_KEYS],
    "stage_durations": PASS_RATE_KEYS,
    "representation": ["characteristic", "group_name"],
    "intervention_effects": ["intervention_id", "stage", "characteristic", "group_name"],
}


@pytest.fixture(scope="module")
def dirty() -> dict:
    return oracle.compute_all(FIXTURES / "dirty-landing")


@pytest.fixture(scope="module")
def optional() -> dict:
    return oracle.compute_all(FIXTURES / "optional-landing")


def as_v11(rows: list[dict], expected: list[dict]) -> list[dict]:
    """A v1.2 table as v1.1 published it: the expected columns, no by-year source."""
    columns = list(expected[0]) if expected else []
    return [{c: r[c] for c in columns} for r in rows
            if r.get("source_table") != "stage_pass_rates_by_year"]


def test_dirty_stage_pass_rates(dirty: dict) -> None:
    expected = load_expected_csv(FIXTURES / "dirty-landing.expected_stage_pass_rates.csv")
    assert_tables_match(as_v11(dirty["stage_pass_rates"], expected), expected, PASS_RATE_KEYS)


def test_expected_folder_is_complete() -> None:
    """Guard: the parametrised test below covers every expected CSV there is."""
    assert {p.stem for p in OPTIONAL_EXPECTED.glob("*.csv")} == set(TABLE_KEYS)


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_optional_tables(optional: dict, table: str) -> None:
    expected = load_expected_csv(OPTIONAL_EXPECTED / f"{table}.csv")
    assert_tables_match(as_v11(optional[table], expected), expected, TABLE_KEYS[table])


def test_optional_drop_out_points_order(optional: dict) -> None:
    expected = load_expected_csv(OPTIONAL_EXPECTED / "drop_out_points.csv")
    assert_same_order(as_v11(optional["drop_out_points"], expected), expected,
                      TABLE_KEYS["drop_out_points"])


def test_dirty_rejections_and_dedup(dirty: dict, tmp_path: Path) -> None:
    """Every kind of bad row is rejected, the garbage file fails, re-delivery adds nothing."""
    kinds = {r["reason"].split(":")[0] for r in dirty["rejected_events"]}
    assert kinds == {
        "missing required field",
        "unknown stage",
        "unknown outcome",
        "unparseable occurred_at",
        oracle.CONFLICT_REASON,
    }
    assert all(r["row_number"] >= 1 for r in dirty["rejected_events"])
    assert [f["file"] for f in dirty["failed_files"]] == ["events_garbage.csv"]
    # The identical re-delivery (events_2021_a_resend.csv) must not add any event.
    for f in (FIXTURES / "dirty-landing").iterdir():
        if f.name != "events_2021_a_resend.csv":
            (tmp_path / f.name).write_bytes(f.read_bytes())
    without_resend = oracle.compute_all(tmp_path)
    assert without_resend["accepted_event_count"] == dirty["accepted_event_count"]
    assert without_resend["stage_pass_rates"] == dirty["stage_pass_rates"]


def test_output_types(optional: dict) -> None:
    """NULL is None and flags are real booleans in the oracle's own output."""
    for row in optional["stage_pass_rates"]:
        assert isinstance(row["flagged"], bool)
        assert row["pass_rate"] is None or isinstance(row["pass_rate"], float)


def test_table_compare_reports_differences() -> None:
    """The comparison helper itself: tolerant where it should be, strict elsewhere."""
    assert values_equal(1, 1.0) and values_equal("True", True) and values_equal(None, "")
    assert not values_equal(0.5, 0.5 + 1e-6) and not values_equal(None, 0)
    with pytest.raises(AssertionError, match="pass_rate"):
        assert_tables_match([{"k": "a", "pass_rate": 0.5}], [{"k": "a", "pass_rate": 0.6}], ["k"])
    with pytest.raises(AssertionError, match="missing"):
        assert_tables_match([], [{"k": "a", "pass_rate": 0.5}], ["k"])
