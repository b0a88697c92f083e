"""The annual recruitment publication: counts by characteristic, group and year with
disclosure control (docs/CONTRACT.md section 7; definitions in docs/PUBLICATION.md).

Flow, all inside the warehouse until the last step:
  core.applications → staging.publication_counts   (sql/publish/annual_publication.sql; unsuppressed)
  → suppression (disclosure.py)  → staging.publication → validated (expectations/
    mart_publication.json) → marts.publication (swapped in only when the checks pass)
  → exports/annual_publication.csv + .xlsx           (only marts.publication is read)
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from funnel_pipeline import inert, marts, vocabulary, warehouse
from funnel_pipeline.funnel_config import NOT_STATED, FunnelConfig
from funnel_pipeline.publish.disclosure import Relation, suppress
from funnel_pipeline.settings import Settings

SUPPRESSED = "[c]"
TOTAL_GROUP = "Total"
MEASURES: tuple[str, ...] = (
    "applicants",
    "sifted",
    "progressed_to_assessment",
    "appointed",
    "failed_at_final_stage",
)
#: (outer, inner): every application counted in inner is counted in outer
NESTED_MEASURES: tuple[tuple[str, str], ...] = (
    ("applicants", "sifted"),
    ("sifted", "progressed_to_assessment"),
    ("applicants", "appointed"),
    ("applicants", "failed_at_final_stage"),
)
#: rate column → (numerator, denominator)
RATES: dict[str, tuple[str, str]] = {
    "sift_pass_rate": ("progressed_to_assessment", "sifted"),
    "appointment_rate": ("appointed", "applicants"),
}
COLUMNS: tuple[str, ...] = ("characteristic", "group_name", "year", *MEASURES, *RATES)
RATE_DECIMALS = 4
EXPORT_BASENAME = "annual_publication"


@dataclass(frozen=True)
class CountRow:
    characteristic: str
    group_name: str
    year: int
    counts: dict[str, int]


def _cell(row_group: tuple[str, str], year: int, measure: str) -> tuple:
    """Cell identity: the Total row is one cell shared by every characteristic."""
    characteristic, group = row_group
    if group == TOTAL_GROUP:
        return ("*", TOTAL_GROUP, year, measure)
    return (characteristic, group, year, measure)


def relations(rows: list[CountRow], config: FunnelConfig) -> list[Relation]:
    """The linear relations a reader can form from the published table."""
    groups: dict[str, set[str]] = defaultdict(set)
    years = sorted({r.year for r in rows})
    for r in rows:
        if r.group_name != TOTAL_GROUP:
            groups[r.characteristic].add(r.group_name)
    derived = [c for c in config.characteristics if c.kind == "derived"]
    out: list[Relation] = []
    for year in years:
        for measure in MEASURES:
            # each characteristic's groups add up to the (shared) total
            for characteristic, names in groups.items():
                out.append(Relation(
                    _cell((characteristic, TOTAL_GROUP), year, measure),
                    tuple(_cell((characteristic, g), year, measure) for g in sorted(names))))
            # derived characteristics: the same people under two names (Not stated too)
            for char in derived:
                by_derived: dict[str, list[str]] = defaultdict(list)
                for base_group, derived_group in {**char.mapping, NOT_STATED: NOT_STATED}.items():
                    by_derived[derived_group].append(base_group)
                for derived_group, base_groups in by_derived.items():
                    out.append(Relation(
                        _cell((char.name, derived_group), year, measure),
                        tuple(_cell((char.derived_from, g), year, measure) for g in base_groups)))
    return out


def suppressed_rows(rows: list[CountRow], threshold: int, config: FunnelConfig
                    ) -> list[dict[str, object]]:
    """Display rows: counts as text, suppressed ones as [c]; rates hidden with them."""
    counts = {_cell((r.characteristic, r.group_name), r.year, m): r.counts[m]
              for r in rows for m in MEASURES}
    nested = [(_cell((r.characteristic, r.group_name), r.year, a),
               _cell((r.characteristic, r.group_name), r.year, b))
              for r in rows for a, b in NESTED_MEASURES]
    hidden = suppress(counts, relations(rows, config), nested, threshold)
    out = []
    for r in rows:
        cells = {m: _cell((r.characteristic, r.group_name), r.year, m) for m in MEASURES}
        display: dict[str, object] = {
            "characteristic": r.characteristic, "group_name": r.group_name, "year": r.year}
        for m in MEASURES:
            display[m] = SUPPRESSED if cells[m] in hidden else str(r.counts[m])
        for rate, (num, den) in RATES.items():
            if cells[num] in hidden or cells[den] in hidden:
                display[rate] = SUPPRESSED
            elif r.counts[den] == 0:
                display[rate] = None
            else:
                display[rate] = f"{r.counts[num] / r.counts[den]:.{RATE_DECIMALS}f}"
        out.append(display)
    return out


def _read_counts(con: duckdb.DuckDBPyConnection) -> list[CountRow]:
    rows = con.execute(
        "SELECT characteristic, group_name, year, " + ", ".join(MEASURES)
        + " FROM staging.publication_counts"
        " ORDER BY characteristic_position, year, group_position").fetchall()
    return [CountRow(c, g, y, dict(zip(MEASURES, values))) for c, g, y, *values in rows]


def build_publication_staging_with(con: duckdb.DuckDBPyConnection) -> int:
    """staging.publication_counts → staging.publication (not yet published). Returns rows."""
    config = vocabulary.current_config(con)
    warehouse.run_sql_file(con, "publish/annual_publication.sql", marts.parameters())
    display = suppressed_rows(_read_counts(con), config.publication.threshold, config)
    columns = ", ".join(
        f"{c} VARCHAR" if c not in ("year",) else f"{c} INTEGER" for c in COLUMNS)
    con.execute(f"CREATE OR REPLACE TABLE staging.publication ({columns})")
    if display:
        marks = ", ".join("?" for _ in COLUMNS)
        con.executemany(f"INSERT INTO staging.publication VALUES ({marks})",
                        [[row[c] for c in COLUMNS] for row in display])
    return len(display)


def build_publication(settings: Settings, gate: Callable[[], bool] | None = None) -> int | None:
    """Build the publication in staging and publish it; its rows, or None when refused.

    Without `gate`: build and publish in one transaction (run_all). With `gate` (the
    Dagster asset): commit staging, then `gate()` validates it (expectations/
    mart_publication.json: no small count shown, shown counts equal the counts) and
    marts.publication is replaced only if it returns True, as for the marts.
    """
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        rows = build_publication_staging_with(con)
        if gate is None:
            warehouse.swap_in(con, ("publication",))
            return rows
    if not gate():
        return None
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.swap_in(con, ("publication",))
    return rows


# --- export ----------------------------------------------------------------------------

def _typed(column: str, value: object) -> object:
    """Spreadsheet cell value: counts as integers, rates as floats, the rest as text."""
    if value is None or value == SUPPRESSED:
        return value
    if column in MEASURES:
        return int(value)
    if column in RATES:
        return float(value)
    return value


def export_publication(settings: Settings) -> dict[str, Path]:
    """marts.publication → reports_dir/exports/annual_publication.{csv,xlsx}."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    with warehouse.open_warehouse(settings, read_only=True) as con:
        threshold = vocabulary.current_config(con).publication.threshold
        cur = con.execute("SELECT * FROM marts.publication")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
    out_dir = Path(settings.reports_dir) / "exports"
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{EXPORT_BASENAME}.csv"
    xlsx_path = out_dir / f"{EXPORT_BASENAME}.xlsx"

    tmp = csv_path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["" if row[c] is None else inert.cell(row[c]) for c in COLUMNS])
    tmp.replace(csv_path)

    workbook = Workbook()
    workbook.remove(workbook.active)
    by_characteristic: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_characteristic[row["characteristic"]].append(row)
    sheet_columns = [c for c in COLUMNS if c != "characteristic"]
    for characteristic, sheet_rows in by_characteristic.items():
        sheet = workbook.create_sheet(title=characteristic[:31])
        sheet.append(sheet_columns)
        for row in sheet_rows:
            sheet.append([None] * len(sheet_columns))
            for index, column in enumerate(sheet_columns, start=1):
                cell = sheet.cell(row=sheet.max_row, column=index)
                value = _typed(column, row[column])
                cell.value = value
                if isinstance(value, str):
                    # openpyxl turns text starting with '=' into a formula: force text
                    cell.data_type = "s"
        for index, column in enumerate(sheet_columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(12, len(column) + 2)
        sheet.freeze_panes = "A2"
    notes = workbook.create_sheet(title="notes")
    for line in _notes(threshold):
        notes.append([line])
        notes.cell(row=notes.max_row, column=1).data_type = "s"
    tmp = xlsx_path.with_suffix(".xlsx.tmp")
    workbook.save(tmp)
    tmp.replace(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


def _notes(threshold: int) -> list[str]:
    return [
        "Annual recruitment publication (counts of applications; see docs/PUBLICATION.md).",
        (f"[c] = suppressed: a count from 1 to {threshold - 1}, or a count hidden so that a "
         "suppressed count cannot be worked out from totals or from another stage's count."),
        "Rates are hidden ([c]) wherever one of their counts is suppressed; blank = no denominator.",
        "year = calendar year (UTC) of the application-stage outcome.",
    ]
