"""Tier 1: the Definitions load and the graph, jobs and schedules are what we expect."""

from __future__ import annotations

import dagster as dg

from funnel_pipeline.definitions import defs

CORE_KEYS = {
    "raw/landing_files", "raw/event_rows", "raw/applicant_rows",
    "core/events", "core/applicants", "core/stage_outcomes", "core/applications",
    "quality/rejected_rows", "marts/stage_pass_rates",
}


def _keys() -> set[str]:
    return {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_has_every_layer():
    assert CORE_KEYS <= _keys()
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["marts", "stage_pass_rates"])).parent_keys
    assert dg.AssetKey(["core", "applications"]) in parents


def test_asset_keys_match_duckdb_tables_and_sql_files():
    """A UI node's key names its DuckDB table and its SQL file (walkable lineage)."""
    from importlib import resources

    sql = resources.files("funnel_pipeline.sql")
    for key in ("core/events", "core/applicants", "core/stage_outcomes", "marts/stage_pass_rates"):
        assert sql.joinpath(f"{key}.sql").is_file(), key


def test_nightly_job_and_schedule():
    job = defs.resolve_job_def("nightly")
    assert job is not None
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/London"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
