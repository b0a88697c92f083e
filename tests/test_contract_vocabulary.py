"""Tier 2: vocabulary mapping (CONTRACT.md section 2), Python and SQL sides agree."""

from __future__ import annotations

import pytest

from funnel_pipeline import contract, warehouse

CASES = [
    ("sex", "F", "Female", True), ("sex", " woman ", "Female", True), ("sex", "MAN", "Male", True),
    ("sex", "Prefer not to say", "Not stated", True), ("sex", "", "Not stated", True),
    ("sex", "nonbinary", "Not stated", False),
    ("ethnicity", "White: English, Welsh, Scottish, Northern Irish or British", "White", True),
    ("ethnicity", "Asian or Asian British: Indian", "Asian", True),
    ("ethnicity", "Black, Black British, Caribbean or African: African", "Black", True),
    ("ethnicity", "Mixed or Multiple ethnic groups: White and Asian", "Mixed", True),
    ("ethnicity", "Other ethnic group: Arab", "Other", True), ("ethnicity", "Arab", "Other", True),
    ("ethnicity", "other", "Other", True), ("ethnicity", "Whiteish", "Not stated", False),
    ("ethnicity", "Unknown", "Not stated", True),
    ("disability", "yes", "Yes", True), ("disability", "Y", "Not stated", False),
    ("sexual_orientation", "Straight", "Heterosexual", True),
    ("sexual_orientation", "gay woman", "Gay or Lesbian", True),
    ("sexual_orientation", "Bisexual", "Bisexual", True),
]


@pytest.mark.parametrize(("characteristic", "value", "group", "recognised"), CASES)
def test_python_and_sql_mapping_agree(tmp_path, characteristic, value, group, recognised):
    assert contract.canonical_group(characteristic, value) == (group, recognised)
    with warehouse.connect(tmp_path / "v.duckdb") as con:
        warehouse.ensure_schema(con)
        warehouse.run_sql_file(con, "macros.sql")
        got = con.execute("SELECT canonical_group(?, ?), group_recognised(?, ?)",
                          [characteristic, value, characteristic, value]).fetchone()
    assert got == (group, recognised)


@pytest.mark.parametrize(("spelling", "stage"), [
    (" APPLY ", "application"), ("Paper Sift", "sift"), ("SEARCH", "assessment"),
    ("assessment center", "assessment"), ("OAC", "assessment"), ("Security Vetting", "vetting"),
    ("appointment offer", "appointment"), ("interview", None)])
def test_stage_aliases(spelling, stage):
    assert contract.canonical_stage(spelling) == stage


def test_derived_groups_cover_every_base_group():
    for derived, base in (("ethnic_minority", "ethnicity"), ("lgbt_plus", "sexual_orientation")):
        assert set(contract.DERIVED_GROUPS[derived]) == set(contract.CHARACTERISTIC_BY_NAME[base].all_groups)
