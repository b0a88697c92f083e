"""The config and core layers' steps: the funnel applied, then landed rows → typed,
canonical tables (docs/CONTRACT.md sections 2-4, 6, 8, 9).

Each step is a plain function: it opens the DuckDB file, runs its SQL file(s) in one
transaction and closes the file, so Dagster assets, the CLI and tests call the same
code. A crash rolls back that step only; every step picks up whatever its predecessors
left unprocessed (raw.landing_files.processed_at, core.dirty_keys), so the next run
completes the work.
"""

from __future__ import annotations

from dataclasses import dataclass

from funnel_pipeline import inert, vocabulary, warehouse
from funnel_pipeline.funnel_config import FunnelConfig, load_config
from funnel_pipeline.settings import Settings

#: the optional inputs of docs/CONTRACT.md sections 6 and 9, in the order they are built →
#: their key, as named in the conflicting-duplicate rejection reason
OPTIONAL_INPUTS: dict[str, str] = {
    "campaigns": "campaign_id",
    "population": "characteristic + group_name",
    "interventions": "intervention_id",
    "leavers": "applicant_id + left_on",
}
#: bound into every core SQL file that judges landed rows
LANDING_PARAMETERS = {"max_key_length": inert.MAX_KEY_LENGTH}


@dataclass(frozen=True)
class AppliedFunnel:
    """The funnel a run applied, and whether it changed (so everything is recomputed)."""

    config: FunnelConfig
    changed: bool


def apply_configuration(settings: Settings, run_id: str | None = None) -> AppliedFunnel:
    """Read and check FUNNEL_CONFIG, then (only if it is valid) create the schema and
    write the config.* tables, once per run.

    A bad file raises `ConfigError` before the database is opened, so no table changes.
    A changed file empties the core tables for recomputation in the same transaction
    (vocabulary.apply_config).
    """
    config = load_config(settings.config_path)
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.prepare(con)
        changed = vocabulary.apply_config(con, config, run_id)
    return AppliedFunnel(config, changed)


def _run(settings: Settings, sql_files: tuple[str, ...], params: dict | None = None) -> None:
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        for sql_file in sql_files:
            warehouse.run_sql_file(con, sql_file, params)


def build_events(settings: Settings) -> None:
    """raw.event_rows (unprocessed files) → core.events + quality.rejected_rows."""
    _run(settings, ("core/events.sql",), LANDING_PARAMETERS)


def build_applicants(settings: Settings) -> None:
    """raw.applicant_rows (unprocessed files) → core.applicants (the configured columns)."""
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        params = {**LANDING_PARAMETERS,
                  **vocabulary.sql_parameters(vocabulary.current_config(con))}
        warehouse.run_sql_file(con, "core/applicants.sql", params)


def build_optional(settings: Settings) -> None:
    """raw campaign / population / intervention / leaver rows (unprocessed files) → core.

    One transaction for the four: they are small and read together by the marts.
    """
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        for table, key in OPTIONAL_INPUTS.items():
            warehouse.run_sql_file(con, f"core/{table}.sql", {
                **LANDING_PARAMETERS, "kind": table,
                "conflict_reason": f"conflicting duplicate {key}"})


def build_outcomes(settings: Settings) -> None:
    """Dirty applications → core.stage_outcomes, core.applications, core.funnel_cube."""
    _run(settings, ("core/stage_outcomes.sql", "core/applications.sql"))
