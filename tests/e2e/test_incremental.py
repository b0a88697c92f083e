"""Idempotence and incrementality: the nightly path equals a rebuild from the landing folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from conftest import FIXTURES, materialize_all, read_table

pytestmark = pytest.mark.starts_first(minutes=3)

#: tables whose content must not depend on how many runs built them
STABLE_TABLES = {
    "raw.landing_files": "file_name",
    "raw.event_rows": "file_id, row_number",
    "raw.applicant_rows": "file_id, row_number",
    "quality.rejected_rows": "file_id, row_number",
    "core.events": "event_id",
    "core.applicants": "applicant_id",
    "core.stage_outcomes": "applicant_id, campaign_id, stage_order",
    "core.applications": "applicant_id, campaign_id",
    "marts.stage_pass_rates": "characteristic, group_name, stage_order",
}
#: bookkeeping columns that legitimately differ between runs (modified_ns: when that copy
#: of the landing folder was written)
VOLATILE = {"discovered_at", "run_id", "processed_at", "rejected_at", "file_id", "modified_ns"}


def snapshot(settings) -> dict[str, list[tuple]]:
    out = {}
    for table, order in STABLE_TABLES.items():
        rows = read_table(settings, table, order_by=order)
        out[table] = [tuple(v for k, v in r.items() if k not in VOLATILE) for r in rows]
    return out


def test_materialise_twice_changes_nothing(dagster_home, make_settings):
    settings = make_settings(FIXTURES / "dirty-landing")
    instance = dg.DagsterInstance.get()
    assert materialize_all(settings, instance, charts=False).success
    first = snapshot(settings)
    assert materialize_all(settings, instance, charts=False).success
    assert snapshot(settings) == first
    assert all(first[t] for t in STABLE_TABLES), "every table should hold rows"


def test_new_file_loads_alone_and_matches_a_rebuild(dagster_home, make_settings, tmp_path: Path):
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES / "dirty-landing", landing)
    held_back = landing / "events_2023_c.parquet"
    later = tmp_path / "events_2023_c.parquet"
    shutil.move(held_back, later)

    nightly = make_settings(landing, name="nightly")
    instance = dg.DagsterInstance.get()
    assert materialize_all(nightly, instance, charts=False).success
    before = read_table(nightly, "marts.stage_pass_rates", order_by="characteristic, group_name, stage_order")
    loaded_before = {f["file_name"]: f["file_id"] for f in read_table(nightly, "raw.landing_files")}

    shutil.move(later, held_back)
    assert materialize_all(nightly, instance, charts=False).success
    files = read_table(nightly, "raw.landing_files", order_by="file_id")
    new = [f for f in files if f["file_name"] not in loaded_before]
    assert [f["file_name"] for f in new] == ["events_2023_c.parquet"]
    assert all(f["file_id"] == loaded_before[f["file_name"]] for f in files if f["file_name"] in loaded_before)
    after = read_table(nightly, "marts.stage_pass_rates", order_by="characteristic, group_name, stage_order")
    assert after != before

    rebuild = make_settings(landing, name="rebuild")
    assert materialize_all(rebuild, instance, charts=False).success
    assert snapshot(nightly) == snapshot(rebuild)
