"""The validated funnel → the `config.*` tables the SQL joins, once per run.

Why tables: the SQL never spells a stage, an alias, a characteristic or a group; it
joins `config.stages`, `config.group_spellings`, … (and indexes the per-stage and
per-characteristic lists of core.applications by their `stage_order` / `position`). So a
force's file changes what the SQL computes without changing the SQL.

`apply_config` also decides whether the configuration changed since the tables were
built: then every core table is emptied and every landed file marked unprocessed in the
same transaction, so the run recomputes everything from the landed rows as if every
file were new (rows the old vocabulary rejected now count) and equals a fresh run.
"""

from __future__ import annotations

from typing import Any

import duckdb

from funnel_pipeline import models
from funnel_pipeline.funnel_config import NOT_STATED, ConfigError, FunnelConfig, parse_config

#: core tables rebuilt from raw when the configuration changes (the Fisher p-value cache
#: depends on counts only and stays)
DERIVED_FROM_RAW: tuple[str, ...] = (
    "core.events", "core.applicants", "core.stage_outcomes", "core.applications",
    "core.funnel_cube", "core.campaigns", "core.population", "core.interventions",
    "core.leavers", "core.dirty_keys",
)
#: a JSON pointer no delivered column has (derived characteristics read no column)
_NO_COLUMN = "/\u0000"


def config_rows(config: FunnelConfig) -> dict[str, list[tuple]]:
    """`config.<table>` → its rows, in the column order of its model."""
    stages = [(s.order, s.name, s.label, s.order == 1, s.order == len(config.stages),
               s.name == config.publication.sift_stage) for s in config.stages]
    stage_spellings = sorted({(spelling.strip().lower(), s.order)
                              for s in config.stages for spelling in (s.name, *s.aliases)})
    outcome_spellings = sorted({(spelling.strip().lower(), outcome)
                                for outcome, aliases in config.outcomes.items()
                                for spelling in (outcome, *aliases)})
    position = {c.name: c.position for c in config.characteristics}
    characteristics, groups, spellings, prefixes, derived, bands = [], [], [], [], [], []
    for c in config.characteristics:
        characteristics.append((
            c.position, c.name, c.label, c.kind,
            c.column.strip().lower() if c.column else None,
            position[c.derived_from] if c.derived_from else None,
            c.reference_group, c.intersectional))
        groups += [(c.name, g, i, c.group_label(g)) for i, g in enumerate(c.all_groups, start=1)]
        if c.kind in ("delivered", "age"):  # blank and not-stated spellings: Not stated
            spellings += [(c.name, s, NOT_STATED) for s in ("", *config.not_stated)]
        if c.kind == "delivered":
            spellings += [(c.name, s, g) for s, g in c.spellings.items()]
            prefixes += [(c.name, p, g) for p, g in c.prefixes.items()]
        if c.kind == "derived":
            derived += [(c.name, base, g) for base, g in c.mapping.items()]
        if c.kind == "age":
            bands += [(c.name, i, b.group, b.below) for i, b in enumerate(c.bands, start=1)]
    intersections = [
        (i, f"{a.name} x {b.name}", a.position, b.position,
         f"{a.reference_group} x {b.reference_group}")
        for i, (a, b) in enumerate(config.intersections, start=1)]
    return {
        "stages": stages, "stage_spellings": stage_spellings,
        "outcome_spellings": outcome_spellings, "characteristics": characteristics,
        "groups": groups, "group_spellings": sorted(set(spellings)),
        "group_prefixes": prefixes, "derived_groups": derived, "age_bands": bands,
        "intersections": intersections,
    }


def sql_parameters(config: FunnelConfig) -> dict[str, Any]:
    """Values the core SQL binds: where each characteristic's value sits in an applicants
    row's `attributes` (a JSON pointer per position, escaped as RFC 6901 says)."""
    paths = []
    for c in config.characteristics:
        column = (c.column or "").strip().lower()
        paths.append("/" + column.replace("~", "~0").replace("/", "~1") if column else _NO_COLUMN)
    return {"attribute_paths": paths}


def applied_sha256(con: duckdb.DuckDBPyConnection) -> str | None:
    """The hash of the configuration the core tables were last built with."""
    row = con.execute("SELECT sha256 FROM config.applied ORDER BY applied_at DESC LIMIT 1"
                      ).fetchone()
    return row[0] if row else None


def apply_config(con: duckdb.DuckDBPyConnection, config: FunnelConfig,
                 run_id: str | None) -> bool:
    """Write `config.*` and record the configuration; True when it changed (and every
    core table was emptied for recomputation). Runs in the caller's transaction."""
    previous = applied_sha256(con)
    changed = previous is not None and previous != config.sha256
    if changed:
        for table in DERIVED_FROM_RAW:
            con.execute(f"DELETE FROM {table}")
        con.execute("DELETE FROM quality.rejected_rows WHERE rejected_by = 'core'")
        con.execute("DELETE FROM quality.conflicting_keys")
        con.execute("UPDATE raw.landing_files SET processed_at = NULL")
    rows_by_table = config_rows(config)
    for model in models.CONFIG_MODELS:
        table = f"config.{model.__tablename__}"
        con.execute(f"DELETE FROM {table}")
        rows = rows_by_table[model.__tablename__]
        if rows:
            marks = ", ".join("?" for _ in rows[0])
            columns = ", ".join(model.model_fields)
            con.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    con.execute("INSERT INTO config.applied (applied_at, run_id, name, sha256, recomputed, "
                "definition) VALUES (now(), ?, ?, ?, ?, ?)",
                [run_id, config.name, config.sha256, changed, config.source_text])
    return changed


def current_config(con: duckdb.DuckDBPyConnection) -> FunnelConfig:
    """The funnel the tables were last built with (config.applied), for the steps after
    the first: the file is read once per run, so a file edited mid-run cannot mix two
    funnels in one run."""
    row = con.execute("SELECT name, definition FROM config.applied "
                      "ORDER BY applied_at DESC LIMIT 1").fetchone()
    if row is None:
        raise ConfigError("no funnel configuration was applied to this database yet: "
                          "run the pipeline from its first step (config/funnel)")
    return parse_config(row[1], row[0])
