"""The annual recruitment publication: counts by characteristic, group and year, and
leavers by financial year, with disclosure control (docs/CONTRACT.md section 7, issue
17; definitions in docs/PUBLICATION.md).

Flow, all inside the warehouse until the last step:
  core.applications → staging.publication_counts        (sql/publish/annual_publication.sql)
  marts.workforce_flows → staging.publication_leaver_counts (publication_leaver_counts.sql)
      (both unsuppressed, never exported)
  → disclosure control of both tables at once (disclosure.py, `suppressed_rows`)
  → staging.publication, staging.publication_leavers → validated (expectations/
    mart_publication*.json) → marts.publication, marts.publication_leavers (swapped in
    only when the checks pass)
  → exports/ (workbook.py `export_publication`: the workbook, two CSV files and their
    notes; only the two published tables are read)

Why one disclosure problem for both tables: a leaver is a recruit, and every recruit is
counted in `appointed`, so each group's leavers over all years are at most its appointed
over all years; a reader can use that, so the suppression must allow for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from funnel_pipeline import marts, vocabulary, warehouse
from funnel_pipeline.funnel_config import NOT_STATED, FunnelConfig
from funnel_pipeline.publish.disclosure import Limit, Relation, Rule, suppress
from funnel_pipeline.settings import Settings

#: GSS shorthand (Analysis Function, "Using symbols and shorthand in tables")
SUPPRESSED = "[c]"  # confidential
NOT_AVAILABLE = "[x]"
NOT_APPLICABLE = "[z]"
TOTAL_GROUP = "Total"
#: the campaign's entry route (docs/CONTRACT.md section 6), published like a characteristic
ENTRY_ROUTE = "entry_route"

MEASURES: tuple[str, ...] = (
    "applicants",
    "sifted",
    "progressed_to_assessment",
    "appointed",
    "failed_at_final_stage",
)
#: facts within one row a reader knows: (smaller, larger) with sum(smaller) ≤ sum(larger)
ROW_LIMITS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("sifted",), ("applicants",)),
    (("progressed_to_assessment",), ("sifted",)),
    (("appointed", "failed_at_final_stage"), ("applicants",)),
)
#: rate column → (numerator, denominator)
RATES: dict[str, tuple[str, str]] = {
    "sift_pass_rate": ("progressed_to_assessment", "sifted"),
    "appointment_rate": ("appointed", "applicants"),
}
#: a leaver is a recruit: leavers over all years ≤ appointed over all years, per group
RECRUITS_MEASURE = "appointed"
LEAVERS = "leavers"
COLUMNS: tuple[str, ...] = ("characteristic", "group_name", "year", *MEASURES, *RATES,
                            "provisional")
LEAVER_COLUMNS: tuple[str, ...] = ("characteristic", "group_name", "financial_year", LEAVERS,
                                   "provisional")
RATE_DECIMALS = 4


@dataclass(frozen=True)
class CountRow:
    """One row of an unsuppressed table: a group in a year (or financial year)."""

    characteristic: str
    group_name: str
    period: int | str
    counts: dict[str, int]
    provisional: bool = False


def rule_of(config: FunnelConfig) -> Rule:
    """The disclosure rule of the configuration's [publication] table."""
    return Rule(config.publication.threshold, config.publication.rounding_base)


def _cell(table: str, row: CountRow, measure: str) -> tuple:
    """Cell identity: a table's Total row is one cell shared by every characteristic."""
    if row.group_name == TOTAL_GROUP:
        return (table, "*", TOTAL_GROUP, row.period, measure)
    return (table, row.characteristic, row.group_name, row.period, measure)


def _group_relations(table: str, rows: list[CountRow], measures: tuple[str, ...],
                     config: FunnelConfig) -> list[Relation]:
    """Groups add up to the Total; a derived group is the sum of its base groups."""
    by_key: dict[tuple, CountRow] = {(r.characteristic, r.group_name, r.period): r for r in rows}
    periods = sorted({r.period for r in rows}, key=str)
    groups: dict[tuple, list[CountRow]] = defaultdict(list)
    for r in rows:
        if r.group_name != TOTAL_GROUP:
            groups[(r.characteristic, r.period)].append(r)
    derived = [c for c in config.characteristics if c.kind == "derived"]
    out: list[Relation] = []
    for (characteristic, period), members in groups.items():
        total = by_key[(characteristic, TOTAL_GROUP, period)]
        for m in measures:
            out.append(Relation(_cell(table, total, m),
                                tuple(_cell(table, g, m) for g in members)))
    for char in derived:
        for period in periods:
            by_group: dict[str, list[str]] = defaultdict(list)
            for base_group, group in {**char.mapping, NOT_STATED: NOT_STATED}.items():
                by_group[group].append(base_group)
            for group, base_groups in by_group.items():
                whole = by_key.get((char.name, group, period))
                parts = [by_key.get((char.derived_from, g, period)) for g in base_groups]
                if whole is None or None in parts:
                    continue
                for m in measures:
                    out.append(Relation(_cell(table, whole, m),
                                        tuple(_cell(table, p, m) for p in parts)))
    return out


def facts(recruitment: list[CountRow], leavers: list[CountRow], config: FunnelConfig
          ) -> tuple[list[Relation], list[Limit]]:
    """Everything a reader of the published tables knows that links their counts."""
    relations = (_group_relations("recruitment", recruitment, MEASURES, config)
                 + _group_relations(LEAVERS, leavers, (LEAVERS,), config))
    limits: list[Limit] = []
    for r in recruitment:
        for smaller, larger in ROW_LIMITS:
            limits.append(Limit(tuple(_cell("recruitment", r, m) for m in smaller),
                                tuple(_cell("recruitment", r, m) for m in larger)))
    recruited: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for r in recruitment:
        recruited[(r.characteristic, r.group_name)].append(_cell("recruitment", r, RECRUITS_MEASURE))
    left: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for r in leavers:
        left[(r.characteristic, r.group_name)].append(_cell(LEAVERS, r, LEAVERS))
    for key, cells in left.items():
        # a route with leavers but no applications in the published years: no such fact
        if key in recruited:
            limits.append(Limit(tuple(dict.fromkeys(cells)), tuple(dict.fromkeys(recruited[key]))))
    return relations, limits


def _display_count(cell: tuple, value: int, hidden: set, rule: Rule) -> str:
    return SUPPRESSED if cell in hidden else str(rule.shown(value))


def suppressed_rows(recruitment: list[CountRow], leavers: list[CountRow], rule: Rule,
                    config: FunnelConfig) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Display rows of both tables: counts as text (rounded when the rule rounds), hidden
    ones as [c]; a rate is [c] with either of its counts, [z] with no denominator, and
    is computed from the shown counts (so it tells nothing the counts do not)."""
    counts = {_cell("recruitment", r, m): r.counts[m] for r in recruitment for m in MEASURES}
    counts |= {_cell(LEAVERS, r, LEAVERS): r.counts[LEAVERS] for r in leavers}
    relations, limits = facts(recruitment, leavers, config)
    hidden = suppress(counts, relations, limits, rule)
    shown = []
    for r in recruitment:
        display: dict[str, object] = {"characteristic": r.characteristic,
                                      "group_name": r.group_name, "year": r.period}
        for m in MEASURES:
            display[m] = _display_count(_cell("recruitment", r, m), r.counts[m], hidden, rule)
        for rate, (num, den) in RATES.items():
            if SUPPRESSED in (display[num], display[den]):
                display[rate] = SUPPRESSED
            elif int(display[den]) == 0:
                display[rate] = NOT_APPLICABLE
            else:
                display[rate] = f"{int(display[num]) / int(display[den]):.{RATE_DECIMALS}f}"
        display["provisional"] = r.provisional
        shown.append(display)
    shown_leavers = [
        {"characteristic": r.characteristic, "group_name": r.group_name,
         "financial_year": r.period,
         LEAVERS: _display_count(_cell(LEAVERS, r, LEAVERS), r.counts[LEAVERS], hidden, rule),
         "provisional": r.provisional}
        for r in leavers]
    return shown, shown_leavers


# --- build --------------------------------------------------------------------------------


def _read_counts(con: duckdb.DuckDBPyConnection) -> tuple[list[CountRow], list[CountRow]]:
    recruitment = [
        CountRow(c, g, y, dict(zip(MEASURES, values)), p) for c, g, y, *values, p in con.execute(
            "SELECT characteristic, group_name, year, " + ", ".join(MEASURES) + ", provisional"
            " FROM staging.publication_counts"
            " ORDER BY characteristic_position, year, group_position").fetchall()]
    leavers = [
        CountRow(c, g, y, {LEAVERS: n}, p) for c, g, y, n, p in con.execute(
            f"SELECT characteristic, group_name, financial_year, {LEAVERS}, provisional"
            " FROM staging.publication_leaver_counts"
            " ORDER BY characteristic_position, financial_year, group_position").fetchall()]
    return recruitment, leavers


def _write(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
           types: dict[str, str], rows: list[dict[str, object]]) -> None:
    spec = ", ".join(f"{c} {types.get(c, 'VARCHAR')}" for c in columns)
    con.execute(f"CREATE OR REPLACE TABLE staging.{warehouse.identifier(table)} ({spec})")
    if rows:
        marks = ", ".join("?" for _ in columns)
        con.executemany(f"INSERT INTO staging.{table} VALUES ({marks})",
                        [[row[c] for c in columns] for row in rows])


PUBLISHED_TABLES: tuple[str, ...] = ("publication", "publication_leavers")


def build_publication_staging_with(con: duckdb.DuckDBPyConnection) -> int:
    """Unsuppressed counts → staging.publication and staging.publication_leavers (not yet
    published). Returns the rows of the recruitment table."""
    config = vocabulary.current_config(con)
    rule = rule_of(config)
    params = {**marts.parameters(), "all_routes": marts.ALL_ROUTES,
              "suppression_threshold": rule.threshold, "rounding_base": rule.rounding_base}
    warehouse.run_sql_file(con, "publish/annual_publication.sql", params)
    warehouse.run_sql_file(con, "publish/publication_leaver_counts.sql", params)
    recruitment, leavers = _read_counts(con)
    shown, shown_leavers = suppressed_rows(recruitment, leavers, rule, config)
    _write(con, "publication", COLUMNS, {"year": "INTEGER", "provisional": "BOOLEAN"}, shown)
    _write(con, "publication_leavers", LEAVER_COLUMNS, {"provisional": "BOOLEAN"}, shown_leavers)
    return len(shown)


def build_publication(settings: Settings, gate: Callable[[], bool] | None = None) -> int | None:
    """Build the publication in staging and publish it; its rows, or None when refused.

    Without `gate`: build and publish in one transaction (run_all). With `gate` (the
    Dagster asset): commit staging, then `gate()` validates it (expectations/
    mart_publication*.json: no small count shown, none recoverable, shown counts equal
    the counts) and the published tables are replaced only if it returns True.
    """
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        rows = build_publication_staging_with(con)
        if gate is None:
            warehouse.swap_in(con, PUBLISHED_TABLES)
            return rows
    if not gate():
        return None
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.swap_in(con, PUBLISHED_TABLES)
    return rows
