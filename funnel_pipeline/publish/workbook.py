"""The publication's files, laid out as UK government statistics are released in
spreadsheets (Analysis Function, "Releasing statistics in spreadsheets"), so a force can
publish them as they are.

Why these choices: an HR team publishes this workbook on the force's website, where it
is read by the public and by screen readers, and re-used by analysts. So, as the
guidance asks: a cover sheet (title, what it holds, period, source, date, contact), a
table of contents and the notes before the tables; one table per sheet starting in
row 1 of its own text; plain-English headers naming their notes; no blank cells (GSS
shorthand [c], [x], [z] instead, explained on the cover and in the notes); percentages
as numbers formatted as percentages; the partial year marked provisional. The CSV files
hold the same figures for re-use, and a notes file beside them explains them.

Every text that came from configuration or input (titles, labels, entry routes) is
written as a text cell and spreadsheet-escaped (`inert.cell`), never as a formula, link
or image; the workbook has no links at all. Pure formatting: the rows come from the
published (suppressed) tables only, read by `export_publication`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from funnel_pipeline import inert, vocabulary, warehouse
from funnel_pipeline.charts.labels import Labels
from funnel_pipeline.funnel_config import FunnelConfig
from funnel_pipeline.publish.publication import (
    ENTRY_ROUTE,
    LEAVERS,
    MEASURES,
    NOT_APPLICABLE,
    NOT_AVAILABLE,
    PUBLISHED_TABLES,
    RATES,
    SUPPRESSED,
    TOTAL_GROUP,
    rule_of,
)
from funnel_pipeline.settings import Settings

EXPORT_BASENAME = "annual_publication"
COUNT_FORMAT = "#,##0"
#: points per line of 11-point text, and characters of it per unit of column width:
#: wrapped cells get a row height for their lines (LibreOffice does not fit it itself)
LINE_HEIGHT = 15
BODY_POINTS = 11
#: the cover's one column: within the printable width of a portrait A4 page at 11 points
#: (wider, and LibreOffice prints the cover cut off at the right edge)
COVER_WIDTH = 72
CHARACTERS_PER_WIDTH = 1.15
PERCENT_FORMAT = "0.0%"
ENTRY_ROUTE_LABEL = "Entry route"


@dataclass(frozen=True)
class Period:
    """What the published tables cover: years and financial years, the provisional ones."""

    years: tuple[int, ...]
    provisional_year: int | None
    financial_years: tuple[str, ...]
    provisional_financial_year: str | None

    @classmethod
    def of(cls, recruitment: list[dict], leavers: list[dict]) -> Period:
        years = tuple(sorted({r["year"] for r in recruitment}))
        fys = tuple(sorted({r["financial_year"] for r in leavers}))
        return cls(years, next((r["year"] for r in recruitment if r["provisional"]), None),
                   fys, next((r["financial_year"] for r in leavers if r["provisional"]), None))

    def span(self, values: tuple, word: str) -> str:
        if not values:
            return f"no {word}"
        return f"{word} {values[0]}" if len(values) == 1 else f"{word}s {values[0]} to {values[-1]}"


class _Words:
    """Every name and sentence of the publication, from the force's configuration."""

    def __init__(self, config: FunnelConfig, period: Period) -> None:
        self.config, self.period = config, period
        self.labels = Labels(config, medium="text")
        self.rule = rule_of(config)
        self.publication = config.publication

    def characteristic(self, name: str) -> str:
        return ENTRY_ROUTE_LABEL if name == ENTRY_ROUTE else self.labels.characteristic_label(name)

    def group(self, characteristic: str, group: str) -> str:
        if group == TOTAL_GROUP:
            return TOTAL_GROUP
        if characteristic == ENTRY_ROUTE:  # delivered text, in full (one line)
            return inert.shorten(group, inert.MAX_KEY_LENGTH)
        return self.labels.group_label(characteristic, group)

    def stage(self, stage) -> str:
        return self.labels.stage_label(stage.name)

    @property
    def headers(self) -> dict[str, str]:
        return {
            "applicants": "Applicants [note 1]",
            "sifted": "Sifted [note 3]",
            "progressed_to_assessment": "Progressed from sift [note 3]",
            "appointed": "Appointed [note 4]",
            "failed_at_final_stage": "Failed at final stage [note 4]",
            "sift_pass_rate": "Sift pass rate (%) [note 5]",
            "appointment_rate": "Appointment rate (%) [note 5]",
        }

    def status(self, provisional: bool) -> str:
        return "Provisional" if provisional else "Final"

    def suppression(self) -> str:
        t = self.rule.threshold
        text = (f"Counts from 1 to {t - 1} are shown as {SUPPRESSED} (confidential). Some "
                f"larger counts are shown as {SUPPRESSED} too, wherever the published totals, "
                "the other groups, the other counts of the same row or the leavers would "
                f"otherwise let a reader work out a hidden count or show that it is below {t}; "
                "where there is a choice, the count holding the fewest people is hidden. "
                "Zero is shown: it identifies no one.") if t > 1 else \
            "No count is suppressed."
        if self.rule.rounding_base:
            text += (f" Every other count is rounded to the nearest multiple of "
                     f"{self.rule.rounding_base}, so totals may differ from the sum of their "
                     "parts, and rates are calculated from the rounded counts.")
        return text

    def notes(self) -> list[tuple[str, str]]:
        """(note number, text) of the Notes sheet and the notes file, in order."""
        c = self.config
        first, sift, final = c.first_stage, c.sift_stage, c.final_stage
        after_sift = c.stages[sift.order] if sift.order < len(c.stages) else None
        p = self.period
        provisional = []
        if p.provisional_year is not None:
            provisional.append(f"{p.provisional_year} is provisional: the data were extracted "
                               "before the year ended, and many of its applications had not yet "
                               "reached the later stages, so its counts and rates (appointment "
                               "rates above all) will rise when the tables are next produced.")
        if p.provisional_financial_year is not None:
            provisional.append(f"The financial year {p.provisional_financial_year} is "
                               "provisional for the same reason.")
        texts = [
            ("Every figure counts applications: a person who applied to two campaigns is "
             "counted twice. An application is counted once it has an outcome (passed, "
             f"failed or withdrawn) at the {self.stage(first)} stage. Groups are as the "
             "applicant recorded them; Not stated means none was given, or the answer could "
             "not be matched to a group."),
            (f"Year is the calendar year of the application (the date of its "
             f"{self.stage(first)} outcome, in UTC). Financial years run from 1 April to 31 "
             "March. " + " ".join(provisional)),
            (f"Sifted: applications with an outcome at the {self.stage(sift)} stage. "
             f"Progressed from sift: those whose {self.stage(sift)} outcome is passed"
             + (f", who move on to {self.stage(after_sift)}." if after_sift else ".")),
            (f"Appointed: applications whose outcome at the final stage ({self.stage(final)}) "
             f"is passed. Failed at final stage: those whose {self.stage(final)} outcome is "
             "failed. Records that arrive out of order are counted at their own stage, so "
             "appointed can exceed progressed from sift."),
            ("Sift pass rate = progressed from sift ÷ sifted; appointment rate = appointed ÷ "
             f"applicants; shown as percentages. {SUPPRESSED} where either count is "
             f"{SUPPRESSED}; {NOT_APPLICABLE} (not applicable) where there is no one to divide "
             "by."),
            self.suppression(),
            ("The Total row of each year counts every application (or leaver) of that year "
             "whatever the group, so it is the same in every table. Entry route is the "
             "recruitment route of the campaign; Unknown means the campaign's route was not "
             "supplied. A route is listed only in the years it has applications (or leavers)."),
            ("Leavers: recruits (appointed applications) who left the force, counted in the "
             "financial year of their leaving, with the groups and entry route of their "
             "application. A recruit is counted once, at the first leaving. "
             f"{NOT_AVAILABLE} (not available) where no leavers records have been supplied."),
        ]
        extra = []
        for char in c.characteristics:
            if char.kind == "derived":
                base = c.characteristic(char.derived_from)
                members: dict[str, list[str]] = defaultdict(list)
                for base_group, group in char.mapping.items():
                    members[group].append(self.group(base.name, base_group))
                combined = "; ".join(f"{self.group(char.name, g)} = {', '.join(members[g])}"
                                     for g in char.groups if g in members)
                extra.append(f"{self.characteristic(char.name)} combines the "
                             f"{self.characteristic(base.name)} groups: {combined}.")
            elif char.kind == "age":
                extra.append(f"{self.characteristic(char.name)}: age in completed years on the "
                             "date of the application.")
        if extra:
            texts.append(" ".join(extra))
        return [(f"note {n}", text) for n, text in enumerate(texts, start=1)]

    def shorthand(self) -> list[str]:
        return [f"{SUPPRESSED} = confidential: suppressed so that no one can be identified (note 6).",
                f"{NOT_AVAILABLE} = not available (note 8).",
                f"{NOT_APPLICABLE} = not applicable: a rate with no one to divide by (note 5)."]

    def description(self) -> str:
        return ("Annual recruitment publication: applications and their progress through "
                "recruitment, by protected characteristic and year of application, and leavers "
                "by financial year. Small counts are suppressed to protect individuals.")

    def files(self, files: dict[str, Path]) -> list[str]:
        return [(f"{files['csv'].name}: applications and outcomes, one row per "
                 "characteristic, group and year (rates in per cent)."),
                (f"{files['leavers_csv'].name}: leavers, one row per characteristic, group and "
                 "financial year."),
                f"{files['xlsx'].name}: the same tables as a workbook, with these notes.",
                f"{files['notes'].name}: these notes."]

    def coverage(self) -> str:
        p = self.period
        text = f"Applications made in the calendar {p.span(p.years, 'year')}"
        if p.provisional_year is not None:
            text += f" ({p.provisional_year} provisional)"
        if p.financial_years:
            text += f". Leavers in the financial {p.span(p.financial_years, 'year')}"
            if p.provisional_financial_year is not None:
                text += f" ({p.provisional_financial_year} provisional)"
        else:
            text += f". Leavers: not available {NOT_AVAILABLE}"
        return text + "."

    def recruitment_title(self, number: int, characteristic: str) -> str:
        return (f"Table {number}: Applications and outcomes by "
                f"{_in_sentence(self.characteristic(characteristic))}, calendar "
                f"{self.period.span(self.period.years, 'year')}")

    def leavers_title(self, number: int) -> str:
        span = self.period.span(self.period.financial_years, "year")
        return f"Table {number}: Leavers by characteristic and group, financial {span}"


def _in_sentence(label: str) -> str:
    """A label inside a sentence: 'Sex' → 'sex', but 'LGBT+' stays."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


# --- CSV and notes file ---------------------------------------------------------------------


def _percent(rate: object) -> str:
    """A published rate as a CSV percentage (1 decimal), or its shorthand."""
    if rate in (SUPPRESSED, NOT_APPLICABLE):
        return str(rate)
    return f"{float(rate) * 100:.1f}"


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([inert.cell(h) for h in header])
        for row in rows:
            writer.writerow([inert.cell(v) for v in row])
    tmp.replace(path)


def _recruitment_csv(words: _Words, rows: list[dict]) -> tuple[list[str], list[list[object]]]:
    headers = words.headers
    header = ["Characteristic", "Group", "Year", "Status",
              *(headers[m].split(" [")[0] for m in (*MEASURES, *RATES))]
    body = [[words.characteristic(r["characteristic"]),
             words.group(r["characteristic"], r["group_name"]), r["year"],
             words.status(r["provisional"]), *(r[m] for m in MEASURES),
             *(_percent(r[rate]) for rate in RATES)] for r in rows]
    return header, body


def _leavers_csv(words: _Words, rows: list[dict]) -> tuple[list[str], list[list[object]]]:
    header = ["Characteristic", "Group", "Financial year", "Status", "Leavers"]
    if not rows:
        return header, [["All", TOTAL_GROUP, NOT_AVAILABLE, NOT_AVAILABLE, NOT_AVAILABLE]]
    return header, [[words.characteristic(r["characteristic"]),
                     words.group(r["characteristic"], r["group_name"]), r["financial_year"],
                     words.status(r["provisional"]), r[LEAVERS]] for r in rows]


def _notes_text(words: _Words, produced: dt.date, files: dict[str, Path]) -> str:
    p = words.publication
    lines = [inert.shorten(p.title, 500), "", words.description(), "",
             f"Period covered: {words.coverage()}",
             f"Source: {inert.shorten(p.source, 500)}",
             f"Date produced: {produced:%-d %B %Y}",
             f"Contact: {inert.shorten(p.contact, 500)}", "", "Files:",
             *(f"  {line}" for line in words.files(files)), "",
             "Shorthand used in the tables:", *(f"  {s}" for s in words.shorthand()), "",
             "Notes:"]
    lines += [f"  [{number}] {inert.shorten(text, 2000)}" for number, text in words.notes()]
    return "\n".join(lines) + "\n"


# --- workbook ----------------------------------------------------------------------------


class _Sheet:
    """One worksheet written top-down: text lines, then at most one table."""

    def __init__(self, workbook, title: str) -> None:
        from openpyxl.styles import Font

        self.ws = workbook.create_sheet(title=title)
        self.ws.page_setup.orientation = "landscape"
        self.ws.page_setup.paperSize = self.ws.PAPERSIZE_A4  # a UK publication
        self.ws.page_setup.fitToWidth = 1
        self.ws.page_setup.fitToHeight = 0
        self.ws.sheet_properties.pageSetUpPr.fitToPage = True
        self.row = 0
        self.bold = Font(bold=True)
        self.heading = Font(bold=True, size=14)

    def text(self, value: str, *, font=None, wrap: bool = False) -> None:
        self.row += 1
        cell = self.ws.cell(row=self.row, column=1)
        _text_cell(cell, value)
        if font is not None:
            cell.font = font
        if wrap:
            self.wrap(cell)

    def wrap(self, cell) -> None:
        """Wrap a cell's text and make its row tall enough for the lines (in its font:
        bold and larger text fit fewer characters to a line, and taller lines)."""
        from openpyxl.styles import Alignment

        cell.alignment = Alignment(wrap_text=True, vertical="top",
                                   horizontal=cell.alignment.horizontal)
        width = self.ws.column_dimensions[cell.column_letter].width or 10
        scale = (cell.font.sz or BODY_POINTS) / BODY_POINTS
        per_line = width * CHARACTERS_PER_WIDTH * (0.8 if cell.font.b else 1.0) / scale
        lines = max(1, math.ceil(len(str(cell.value)) / per_line))
        current = self.ws.row_dimensions[cell.row].height or LINE_HEIGHT
        self.ws.row_dimensions[cell.row].height = max(current, lines * LINE_HEIGHT * scale)

    def table(self, name: str, header: list[str], rows: list[list[object]],
              formats: list[str | None], widths: list[int]) -> None:
        """A marked-up table (header row + rows); numbers typed, shorthand right-aligned."""
        from openpyxl.styles import Alignment
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.table import Table, TableStyleInfo

        self.row += 1
        top = self.row
        for j, width in enumerate(widths, start=1):
            self.ws.column_dimensions[get_column_letter(j)].width = width
        for j, value in enumerate(header, start=1):
            cell = self.ws.cell(row=top, column=j)
            _text_cell(cell, value)
            cell.font = self.bold
            self.wrap(cell)
        for values in rows:
            self.row += 1
            for j, value in enumerate(values, start=1):
                cell = self.ws.cell(row=self.row, column=j)
                cell.alignment = Alignment(vertical="top")
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    _text_cell(cell, "" if value is None else str(value))
                    if formats[j - 1] is not None:  # shorthand in a number column
                        cell.alignment = Alignment(horizontal="right", vertical="top")
                    elif len(str(value)) > widths[j - 1]:
                        self.wrap(cell)
                else:
                    cell.value = value
                    if formats[j - 1] is not None:
                        cell.number_format = formats[j - 1]
        ref = f"A{top}:{get_column_letter(len(header))}{self.row}"
        table = Table(displayName=name, ref=ref)
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=False)
        self.ws.add_table(table)
        self.ws.freeze_panes = f"A{top + 1}"


def _text_cell(cell, value: str) -> None:
    """A text cell that no spreadsheet program reads as a formula (escaped, typed 's')."""
    cell.value = inert.cell(value)
    cell.data_type = "s"


def _number(value: object) -> object:
    """A published count or rate (text in the table) as a number; shorthand stays text."""
    if value in (SUPPRESSED, NOT_APPLICABLE, NOT_AVAILABLE) or value is None:
        return value
    text = str(value)
    return float(text) if "." in text else int(text)


def _cover(book, words: _Words, produced: dt.date, files: dict[str, Path]) -> None:
    sheet = _Sheet(book, "Cover_sheet")
    p = words.publication
    sheet.ws.column_dimensions["A"].width = COVER_WIDTH
    sheet.ws.page_setup.orientation = "portrait"
    sheet.text(p.title, font=sheet.heading, wrap=True)
    sheet.text(words.description(), wrap=True)
    for heading, lines in (
            ("Period covered", [words.coverage()]),
            ("Source", [p.source]),
            ("Date produced", [f"{produced:%-d %B %Y}"]),
            ("Contact", [p.contact]),
            ("Shorthand used in the tables", words.shorthand()),
            ("Notes and contents", [("The Contents sheet lists the tables; the Notes sheet "
                                     "explains what is counted and how small counts are "
                                     "protected.")]),
            ("Files", words.files(files))):
        sheet.text(heading, font=sheet.bold, wrap=True)
        for line in lines:
            sheet.text(line, wrap=True)


def _contents(book, entries: list[tuple[str, str]]) -> None:
    sheet = _Sheet(book, "Contents")
    sheet.text("Table of contents", font=sheet.heading)
    sheet.text("This worksheet contains one table.")
    sheet.table("contents", ["Sheet name", "Table title"], [list(e) for e in entries],
                [None, None], [16, 100])


def _notes_sheet(book, words: _Words) -> None:
    sheet = _Sheet(book, "Notes")
    sheet.text("Notes", font=sheet.heading)
    sheet.text("This worksheet contains one table. Column headings of the tables refer to "
               "these notes.")
    sheet.table("notes", ["Note number", "Note text"], [list(n) for n in words.notes()],
                [None, None], [14, 120])


def _intro(sheet: _Sheet, words: _Words, title: str, provisional: str | None) -> None:
    sheet.text(title, font=sheet.heading)
    sheet.text("This worksheet contains one table. Column headings refer to notes on the "
               "Notes sheet.")
    marks = [f"{SUPPRESSED} = confidential (note 6)", f"{NOT_APPLICABLE} = not applicable",
             f"{NOT_AVAILABLE} = not available"]
    line = "Shorthand: " + "; ".join(marks) + "."
    if provisional:
        line = f"Figures for {provisional} are provisional (note 2). " + line
    sheet.text(line)
    sheet.text(f"Source: {words.publication.source}")


def _recruitment_sheet(book, words: _Words, number: int, characteristic: str,
                       rows: list[dict]) -> str:
    sheet = _Sheet(book, f"Table_{number}")
    title = words.recruitment_title(number, characteristic)
    p = words.period
    _intro(sheet, words, title, str(p.provisional_year) if p.provisional_year else None)
    headers = words.headers
    header = ["Year [note 2]", "Status [note 2]", f"{words.characteristic(characteristic)}",
              *(headers[m] for m in (*MEASURES, *RATES))]
    body = [[r["year"], words.status(r["provisional"]),
             words.group(characteristic, r["group_name"]),
             *(_number(r[m]) for m in (*MEASURES, *RATES))] for r in rows]
    formats = [None, None, None, *([COUNT_FORMAT] * len(MEASURES)),
               *([PERCENT_FORMAT] * len(RATES))]
    widths = [10, 12, 30, *([14] * len(MEASURES)), *([14] * len(RATES))]
    sheet.table(f"table_{number}", header, body, formats, widths)
    return title


def _leavers_sheet(book, words: _Words, number: int, rows: list[dict]) -> str:
    sheet = _Sheet(book, f"Table_{number}")
    title = words.leavers_title(number)
    p = words.period
    _intro(sheet, words, title, p.provisional_financial_year)
    if not rows:
        sheet.table(f"table_{number}", ["Characteristic", "Group", "Leavers [note 8]"],
                    [["All", TOTAL_GROUP, NOT_AVAILABLE]], [None, None, COUNT_FORMAT],
                    [30, 30, 16])
        return title
    fys = p.financial_years
    cells: dict[tuple[str, str], dict[str, object]] = defaultdict(dict)
    for r in rows:  # groups in table order (a route new in a later year too), Total last
        cells[(r["characteristic"], r["group_name"])][r["financial_year"]] = r[LEAVERS]
    order = list(dict.fromkeys(c for c, _ in cells))
    cells = dict(sorted(cells.items(), key=lambda item: (
        order.index(item[0][0]), item[0][1] == TOTAL_GROUP)))
    header = ["Characteristic", "Group",
              *(f"{fy} (provisional) [note 2]" if fy == p.provisional_financial_year
                else f"{fy} [note 8]" for fy in fys)]
    body = [[words.characteristic(c), words.group(c, g),
             *(_number(values.get(fy, "0")) for fy in fys)]
            for (c, g), values in cells.items()]
    sheet.table(f"table_{number}", header, body, [None, None, *([COUNT_FORMAT] * len(fys))],
                [30, 30, *([16] * len(fys))])
    return title


def _workbook(path: Path, words: _Words, recruitment: list[dict], leavers: list[dict],
              produced: dt.date, files: dict[str, Path]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    book.properties.title = inert.shorten(words.publication.title, 200)
    book.properties.creator = "funnel-pipeline"
    _cover(book, words, produced, files)
    contents_at = len(book.sheetnames)
    _notes_sheet(book, words)
    entries = [("Notes", "Notes on what is counted and how small counts are protected")]
    by_characteristic: dict[str, list[dict]] = defaultdict(list)
    for r in recruitment:
        by_characteristic[r["characteristic"]].append(r)
    number = 0
    for number, (characteristic, rows) in enumerate(by_characteristic.items(), start=1):
        title = _recruitment_sheet(book, words, number, characteristic, rows)
        entries.append((f"Table_{number}", title.split(": ", 1)[1]))
    title = _leavers_sheet(book, words, number + 1, leavers)
    entries.append((f"Table_{number + 1}", title.split(": ", 1)[1]))
    _contents(book, entries)
    book.move_sheet("Contents", offset=contents_at - book.sheetnames.index("Contents"))
    tmp = path.with_name(path.name + ".tmp")
    book.save(tmp)
    tmp.replace(path)


def write_exports(folder: Path, config: FunnelConfig, recruitment: list[dict],
                  leavers: list[dict], produced: dt.date | None = None) -> dict[str, Path]:
    """The published rows → folder/annual_publication.{xlsx,csv}, the leavers CSV and the
    notes file beside them. `produced` is the date on the cover (default: today, UTC)."""
    folder.mkdir(parents=True, exist_ok=True)
    produced = produced or dt.datetime.now(dt.UTC).date()
    files = {"xlsx": folder / f"{EXPORT_BASENAME}.xlsx",
             "csv": folder / f"{EXPORT_BASENAME}.csv",
             "leavers_csv": folder / f"{EXPORT_BASENAME}_leavers.csv",
             "notes": folder / f"{EXPORT_BASENAME}_notes.txt"}
    words = _Words(config, Period.of(recruitment, leavers))
    _write_csv(files["csv"], *_recruitment_csv(words, recruitment))
    _write_csv(files["leavers_csv"], *_leavers_csv(words, leavers))
    tmp = files["notes"].with_name(files["notes"].name + ".tmp")
    tmp.write_text(_notes_text(words, produced, files), encoding="utf-8")
    tmp.replace(files["notes"])
    _workbook(files["xlsx"], words, recruitment, leavers, produced, files)
    return files


def export_publication(settings: Settings) -> dict[str, Path]:
    """The published tables → reports_dir/exports/ (workbook, CSV files, notes)."""
    with warehouse.open_warehouse(settings, read_only=True) as con:
        config = vocabulary.current_config(con)
        tables = {}
        for table in PUBLISHED_TABLES:
            cur = con.execute(f"SELECT * FROM marts.{table}")
            names = [d[0] for d in cur.description]
            tables[table] = [dict(zip(names, r)) for r in cur.fetchall()]
    return write_exports(Path(settings.reports_dir) / "exports", config,
                         tables["publication"], tables["publication_leavers"])
