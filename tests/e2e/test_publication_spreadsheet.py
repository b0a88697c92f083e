"""The annual publication as the HR team gets it (issues 17 and 18): the workbook read
back with openpyxl and converted by LibreOffice, the CSV files and their notes, and
disclosure control checked by an independent reader's search under both rules
(threshold 5; threshold 10 with rounding to 5).

Independent of funnel_pipeline/publish/disclosure.py: the reader's search here is its own
linear programme (dense, one cell at a time, each table's Total its own variable tied to
the others), the rounding intervals are worked out from the rounding rule itself, and the
small-table test enumerates every table a reader could think possible.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import shutil
import subprocess
import zipfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import oracle
import pytest
from conftest import EVENT_HEADER, FIXTURES, read_table, write_csv
from scipy.optimize import linprog
from test_further_marts import CAMPAIGN_HEADER, build_edge_landing

from funnel_pipeline import pipeline, synthetic
from funnel_pipeline.funnel_config import ConfigError, load_config, parse_config
from funnel_pipeline.publish import disclosure, publication
from funnel_pipeline.settings import Settings

MEASURES = ("applicants", "sifted", "progressed_to_assessment", "appointed",
            "failed_at_final_stage")
RATES = {"sift_pass_rate": ("progressed_to_assessment", "sifted"),
         "appointment_rate": ("appointed", "applicants")}
RULES = {"threshold 5": (5, None), "threshold 10, rounded to 5": (10, 5)}
EXPORTS = {"annual_publication.xlsx", "annual_publication.csv",
           "annual_publication_leavers.csv", "annual_publication_notes.txt"}
MARKERS = ("[c]", "[x]", "[z]")


def config_with(funnel: Path | None, folder: Path, **publication_keys: object) -> str:
    """A copy of a funnel file (None: the built-in one) with [publication] keys set."""
    from importlib import resources

    text = (funnel.read_text("utf-8") if funnel else
            resources.files("funnel_pipeline").joinpath("default_funnel.toml").read_text("utf-8"))
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in publication_keys.items())
    if "[publication]\n" not in text:
        text += "\n[publication]\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "funnel.toml"
    path.write_text(text.replace("[publication]\n", "[publication]\n" + extra), "utf-8")
    return str(path)


def run(folder: Path, landing: Path, config_path: str) -> Settings:
    settings = Settings(landing_dir=landing, duckdb_path=folder / "funnel.duckdb",
                        reports_dir=folder / "reports", duckdb_memory_limit="1GB",
                        config_path=config_path)
    pipeline.run_all(settings)
    return settings


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory) -> Path:
    """The demo force (synthetic.generate_landing defaults: the data issue 18 was seen on)."""
    folder = tmp_path_factory.mktemp("demo") / "landing"
    synthetic.generate_landing(folder)
    return folder


@pytest.fixture(scope="module", params=sorted(RULES))
def demo_run(request, demo_landing, tmp_path_factory) -> tuple[Settings, tuple[int, int | None]]:
    threshold, base = RULES[request.param]
    folder = tmp_path_factory.mktemp("demo_run")
    keys = {"threshold": threshold} | ({"rounding_base": base} if base else {})
    return run(folder, demo_landing, config_with(None, folder, **keys)), (threshold, base)


@pytest.fixture(scope="module", params=sorted(RULES))
def force_run(request, tmp_path_factory) -> tuple[Settings, tuple[int, int | None]]:
    """force-landing (leavers included) under its own seven-stage funnel."""
    threshold, base = RULES[request.param]
    folder = tmp_path_factory.mktemp("force_run")
    keys = {"threshold": threshold} | ({"rounding_base": base} if base else {})
    return (run(folder, FIXTURES / "force-landing",
                config_with(FIXTURES / "funnel.custom.toml", folder, **keys)), (threshold, base))


# --- the reader's search (independent of disclosure.py) ----------------------------------


def rounding_interval(shown: int, threshold: int, base: int | None) -> tuple[int, int]:
    """Every count a reader knows could be behind a shown figure: those not suppressed
    (0, or at least the threshold) that round to it (nearest multiple, halves up)."""
    if base is None:
        return shown, shown
    candidates = [v for v in range(max(0, shown - base), shown + base + 1)
                  if (v == 0 or v >= threshold) and base * math.floor(v / base + 0.5) == shown]
    assert candidates, f"{shown} cannot be shown under base {base}"
    return min(candidates), max(candidates)


class ReaderSearch:
    """Variables: every published count, each table's Total row its own variable. Facts:
    groups add up to their Total; the Totals of one year are equal; a derived group is
    the sum of its base groups; sifted ≤ applicants, progressed ≤ sifted, appointed +
    failed ≤ applicants; a group's leavers over all years ≤ its appointed over all years."""

    def __init__(self, published: list[dict], leavers: list[dict], config, threshold: int,
                 base: int | None) -> None:
        self.vars: dict[tuple, int] = {}
        self.shown: dict[tuple, str] = {}
        for r in published:
            for m in MEASURES:
                self._var(("r", r["characteristic"], r["group_name"], r["year"], m), r[m])
        for r in leavers:
            self._var(("l", r["characteristic"], r["group_name"], r["financial_year"], "n"),
                      r[publication.LEAVERS])
        self.eq: list[dict[tuple, float]] = []
        self.ub: list[dict[tuple, float]] = []
        rows = defaultdict(list)
        for key in self.vars:
            table, char, group, period, m = key
            rows[(table, char, period, m)].append(key)
        totals = defaultdict(list)
        for (table, char, period, m), keys in rows.items():
            total = (table, char, "Total", period, m)
            self.eq.append({total: 1.0, **{k: -1.0 for k in keys if k != total}})
            totals[(table, period, m)].append(total)
        for same in totals.values():
            self.eq += [{a: 1.0, b: -1.0} for a, b in itertools.pairwise(same)]
        for char in config.characteristics:
            if char.kind != "derived":
                continue
            members = defaultdict(list)
            for base_group, group in {**char.mapping, "Not stated": "Not stated"}.items():
                members[group].append(base_group)
            for (table, c, group, period, m) in list(self.vars):
                if c == char.name and group in members:
                    self.eq.append({(table, c, group, period, m): 1.0, **{
                        (table, char.derived_from, g, period, m): -1.0 for g in members[group]}})
        for (table, char, group, period, m) in list(self.vars):
            if table != "r" or m != "applicants":
                continue
            a, s, p, ap, f = (("r", char, group, period, measure) for measure in MEASURES)
            self.ub.append({s: 1.0, a: -1.0})
            self.ub.append({p: 1.0, s: -1.0})
            self.ub.append({ap: 1.0, f: 1.0, a: -1.0})
        left, recruited = defaultdict(list), defaultdict(list)
        for (table, char, group, period, m) in self.vars:
            if table == "l":
                left[(char, group)].append(("l", char, group, period, m))
            elif m == "appointed":
                recruited[(char, group)].append(("r", char, group, period, m))
        for key, cells in left.items():
            if key in recruited:
                self.ub.append({**{c: 1.0 for c in cells}, **{c: -1.0 for c in recruited[key]}})
        self.index = {k: i for i, k in enumerate(self.vars)}
        self.bounds = [(0, None) if self.shown[k] == "[c]"
                       else rounding_interval(int(self.shown[k]), threshold, base)
                       for k in self.vars]

    def _var(self, key: tuple, shown: str) -> None:
        self.vars[key] = len(self.vars)
        self.shown[key] = shown

    def _matrix(self, rows: list[dict[tuple, float]]):
        from scipy.sparse import coo_array

        entries = [(i, self.index[k], v) for i, row in enumerate(rows) for k, v in row.items()]
        i, j, v = zip(*entries)
        return coo_array((v, (i, j)), shape=(len(rows), len(self.index))).tocsr()

    def ranges(self) -> dict[tuple, tuple[float, float]]:
        """For every [c] count: the lowest and highest value consistent with everything."""
        a_eq, a_ub = self._matrix(self.eq), self._matrix(self.ub)
        out = {}
        for key, shown in self.shown.items():
            if shown != "[c]":
                continue
            ends = []
            for sign in (1.0, -1.0):
                c = np.zeros(len(self.index))
                c[self.index[key]] = sign
                res = linprog(c, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=a_eq,
                              b_eq=np.zeros(a_eq.shape[0]), bounds=self.bounds, method="highs")
                assert res.status in (0, 3), res.message  # 3: unbounded
                ends.append(math.inf if res.status == 3 else sign * res.fun)  # min, max
            out[key] = (ends[0], ends[1])
        return out


def true_counts(settings: Settings) -> dict[tuple, int]:
    counts = {}
    for r in read_table(settings, "staging.publication_counts"):
        for m in MEASURES:
            counts[("r", r["characteristic"], r["group_name"], r["year"], m)] = r[m]
    for r in read_table(settings, "staging.publication_leaver_counts"):
        counts[("l", r["characteristic"], r["group_name"], r["financial_year"], "n")] = r["leavers"]
    return counts


def assert_disclosure_safe(settings: Settings, threshold: int, base: int | None) -> dict:
    """No small count shown, every shown count the (rounded) truth, and no [c] count a
    reader can pin down or show to be small. Returns measurements for the report."""
    published = read_table(settings, "marts.publication")
    leavers = read_table(settings, "marts.publication_leavers")
    config = load_config(settings.config_path)
    truth = true_counts(settings)
    search = ReaderSearch(published, leavers, config, threshold, base)
    for key, shown in search.shown.items():
        if shown == "[c]":
            continue
        assert not 1 <= int(shown) < threshold, (key, shown)
        expected = truth[key] if base is None else base * math.floor(truth[key] / base + 0.5)
        assert int(shown) == expected, (key, shown, truth[key])
    for r in published:
        for rate, (num, den) in RATES.items():
            if "[c]" in (r[num], r[den]):
                assert r[rate] == "[c]", (r, rate)
            elif int(r[den]) == 0:
                assert r[rate] == "[z]"
            else:
                assert abs(float(r[rate]) - int(r[num]) / int(r[den])) < 5.1e-5
    ranges = search.ranges()
    hidden = set(ranges)
    assert hidden, "nothing was suppressed: the data no longer exercises disclosure control"
    for key, (low, high) in ranges.items():
        assert high - low >= 1 - 1e-6, f"a reader can work out {key} = {low}"
        if 1 <= truth[key] < threshold:
            assert high >= threshold - 1e-6, f"a reader can show {key} is below {threshold}"
    # each table's Total is one count: count it once (as the first characteristic's)
    first = {"r": published[0]["characteristic"],
             "l": leavers[0]["characteristic"] if leavers else None}
    unique = {k for k in hidden if k[2] != "Total" or k[1] == first[k[0]]}
    return {"cells": len(unique), "people": sum(truth[k] for k in unique),
            "primary": sum(1 for k in unique if 1 <= truth[k] < threshold)}


def test_disclosure_on_the_demo_data_under_both_rules(demo_run):
    settings, (threshold, base) = demo_run
    measured = assert_disclosure_safe(settings, threshold, base)
    print(f"\ndemo, threshold {threshold}, rounding {base}: {measured}")
    # issue 18 item 12: the headline female figures are shown whenever the rule shows
    # exact counts (only the final-stage failures, counts of 1 to 5, are small)
    if base is None:
        female = [r for r in read_table(settings, "marts.publication")
                  if r["characteristic"] == "sex" and r["group_name"] == "Female"]
        assert len(female) == 4
        for r in female:
            assert "[c]" not in (r["applicants"], r["sifted"], r["sift_pass_rate"]), r


def test_disclosure_of_a_forces_own_funnel_with_leavers(force_run):
    settings, (threshold, base) = force_run
    leavers = read_table(settings, "marts.publication_leavers")
    assert leavers and any(r["leavers"] == "[c]" for r in leavers)
    measured = assert_disclosure_safe(settings, threshold, base)
    print(f"\nforce-landing, threshold {threshold}, rounding {base}: {measured}")


def test_disclosure_on_the_edge_landing_with_true_totals(tmp_path):
    """Contract edges (~90 people): every shown Total is the number of applications of its
    year the test oracle finds (pure Python, no funnel_pipeline)."""
    landing = build_edge_landing(tmp_path / "landing")
    for name, (threshold, base) in RULES.items():
        folder = tmp_path / name.replace(" ", "_").replace(",", "")
        keys = {"threshold": threshold} | ({"rounding_base": base} if base else {})
        settings = run(folder, landing, config_with(None, folder, **keys))
        assert_disclosure_safe(settings, threshold, base)
        apps = oracle.build_applications(oracle.load_events(landing).accepted,
                                         oracle.load_applicants(landing),
                                         oracle.load_campaigns(landing))
        per_year = defaultdict(int)
        for a in apps:
            per_year[a.outcomes["application"].occurred_at.year] += 1
        for r in read_table(settings, "marts.publication"):
            if r["group_name"] == "Total" and r["applicants"] != "[c]":
                true = per_year[r["year"]]
                assert int(r["applicants"]) == (true if base is None else
                                                base * math.floor(true / base + 0.5))


# --- the disclosure engine on small tables, against every table a reader could imagine -----


def _every_reader_table(values: np.ndarray, shown: dict[int, int | None], threshold: int,
                        base: int | None, extra_ok) -> np.ndarray:
    """Rows of `values` (candidate tables, one column per cell) consistent with what is
    shown: a shown cell displays exactly its figure (so it is not small), a hidden one is
    anything; `extra_ok` adds the facts a reader knows (e.g. sifted ≤ applicants)."""
    ok = extra_ok(values)
    for j, figure in shown.items():
        v = values[:, j]
        if figure is None:
            continue
        rounded = v if base is None else base * np.floor(v / base + 0.5)
        ok &= ((v == 0) | (v >= threshold)) & (rounded == figure)
    return values[ok]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("seed", range(12))
def test_suppression_of_small_tables_leaves_no_table_a_reader_can_solve(rule, seed):
    """Two tables: (1) three groups, a grouping of them (x1 | x2 + x3) and one Total;
    (2) two groups and their Total at two nested stages (sifted ≤ applicants). Every
    combination of values a reader could think possible is enumerated."""
    threshold, base = RULES[rule]
    rng = np.random.default_rng(seed)

    def draw(n):
        return [int(v) for v in rng.choice([0, 1, 2, 3, 6, 8, 11, 14], size=n)]

    def top(total):  # no count a reader could think possible is larger (rounding: +2)
        return max(total + 2, threshold)

    # (1) a derived grouping: cells x1 x2 x3 y1 y2 T, free x1 x2 x3
    x = draw(3)
    names = ["x1", "x2", "x3", "y1", "y2", "T"]
    counts = dict(zip(names, [*x, x[0], x[1] + x[2], sum(x)]))
    relations = [disclosure.Relation("T", ("x1", "x2", "x3")), disclosure.Relation("T", ("y1", "y2")),
                 disclosure.Relation("y1", ("x1",)), disclosure.Relation("y2", ("x2", "x3"))]
    grid = np.array(list(itertools.product(range(top(sum(x)) + 1), repeat=3)))
    table = np.column_stack([grid, grid[:, 0], grid[:, 1] + grid[:, 2], grid.sum(axis=1)])
    _check_small_table(counts, names, relations, [], table, threshold, base, lambda v: np.ones(len(v), bool))

    # (2) nested stages: cells A1 A2 AT S1 S2 ST, free A1 A2 S1 S2
    a, s = draw(2), draw(2)
    s = [min(si, ai) for si, ai in zip(s, a)]
    names = ["A1", "A2", "AT", "S1", "S2", "ST"]
    counts = dict(zip(names, [a[0], a[1], sum(a), s[0], s[1], sum(s)]))
    relations = [disclosure.Relation("AT", ("A1", "A2")), disclosure.Relation("ST", ("S1", "S2"))]
    limits = [disclosure.Limit(("S1",), ("A1",)), disclosure.Limit(("S2",), ("A2",)),
              disclosure.Limit(("ST",), ("AT",))]
    grid = np.array(list(itertools.product(range(top(sum(a)) + 1), repeat=4)))
    table = np.column_stack([grid[:, 0], grid[:, 1], grid[:, 0] + grid[:, 1],
                             grid[:, 2], grid[:, 3], grid[:, 2] + grid[:, 3]])
    _check_small_table(counts, names, relations, limits, table, threshold, base,
                       lambda v: (v[:, 3] <= v[:, 0]) & (v[:, 4] <= v[:, 1]))


def _check_small_table(counts, names, relations, limits, table, threshold, base, extra_ok):
    rule = disclosure.Rule(threshold, base)
    hidden = disclosure.suppress(counts, relations, limits, rule)
    assert {n for n in names if 1 <= counts[n] < threshold} <= hidden
    shown = {j: (None if n in hidden else rule.shown(counts[n])) for j, n in enumerate(names)}
    possible = _every_reader_table(table, shown, threshold, base, extra_ok)
    truth = np.array([counts[n] for n in names])
    assert (possible == truth).all(axis=1).any(), "the true table must be possible"
    for j, n in enumerate(names):
        if n not in hidden:
            continue
        values = set(possible[:, j].tolist())
        assert len(values) >= 2, f"{n} = {counts[n]} can be worked out ({counts}, hidden {hidden})"
        if 1 <= counts[n] < threshold:
            assert max(values) >= threshold, f"{n} is shown to be small ({counts}, {hidden})"


def test_rounding_rule_and_reader_interval():
    rule = disclosure.Rule(10, 5)
    assert [rule.shown(v) for v in (0, 10, 12, 13, 17, 18, 1234)] == [0, 10, 10, 15, 15, 20, 1235]
    for v in [0, *range(10, 300)]:
        low, high = rule.known_range(rule.shown(v))
        assert (low, high) == rounding_interval(rule.shown(v), 10, 5)
        assert low <= v <= high
    assert disclosure.Rule(5).known_range(17) == (17, 17)
    # a base that would show the threshold below itself is a configuration error
    text = load_config(None).source_text.replace(
        "[publication]\n", "[publication]\nthreshold = 6\nrounding_base = 5\n")
    with pytest.raises(ConfigError, match="publication.rounding_base"):
        parse_config(text, "force.toml")


# --- the files, as the HR team opens them ---------------------------------------------------

HOSTILE_TITLE = '=HYPERLINK("http://example.invalid","Recruitment")'
FORMULAS = ['=HYPERLINK("http://example.invalid","x")', "+SUM(1,2)", "-2+3", "@cmd"]


@pytest.fixture(scope="module")
def edge_exports(tmp_path_factory) -> tuple[Settings, dict[str, Path]]:
    """The edge landing with formula-like entry routes and a hostile configured title."""
    tmp = tmp_path_factory.mktemp("edge_exports")
    landing = build_edge_landing(tmp / "landing", route_c1=FORMULAS[0])
    write_csv(landing / "campaigns_03.csv", CAMPAIGN_HEADER,
              [[f"C{10 + i}", value, "", "", ""] for i, value in enumerate(FORMULAS[1:])])
    write_csv(landing / "events_formula_routes.csv", EVENT_HEADER,  # so those routes have rows
              [[f"EF{i}{j}", f"PF{i}{j}", f"C{10 + i}", "apply", "passed", "2021-05-03T10:00:00Z"]
               for i in range(len(FORMULAS) - 1) for j in range(6)])
    config = config_with(None, tmp, title=HOSTILE_TITLE, source="Force HR system, 2026 extract",
                         contact="Workforce statistics team, stats@force.example")
    settings = run(tmp, landing, config)
    folder = Path(settings.reports_dir) / "exports"
    return settings, {p.name: p for p in folder.iterdir()}


def _sheet_rows(ws) -> list[list[object]]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def _table_of(ws) -> tuple[list[str], list[list[object]]]:
    """The one marked-up table of a sheet: (header, rows)."""
    (table,) = ws.tables.values()
    cells = ws[table.ref]
    header = [c.value for c in cells[0]]
    return header, [[c for c in row] for row in cells[1:]]


def test_workbook_follows_the_spreadsheet_conventions(demo_run):
    from openpyxl import load_workbook

    settings, (threshold, base) = demo_run
    exports = Path(settings.reports_dir) / "exports"
    assert {p.name for p in exports.iterdir()} == EXPORTS
    book = load_workbook(exports / "annual_publication.xlsx")
    config = load_config(settings.config_path)
    n = len(config.characteristics) + 1  # + entry route
    assert book.sheetnames == ["Cover_sheet", "Contents", "Notes",
                               *(f"Table_{i}" for i in range(1, n + 2))]
    cover = [r[0] for r in _sheet_rows(book["Cover_sheet"])]
    for needed in (config.publication.title, config.publication.source,
                   config.publication.contact, "Period covered", "Date produced"):
        assert needed in cover
    assert any("2025 provisional" in line for line in cover)
    for marker in MARKERS:
        assert any(line.startswith(f"{marker} = ") for line in cover), marker
    contents_header, contents = _table_of(book["Contents"])
    assert contents_header == ["Sheet name", "Table title"]
    assert [r[0].value for r in contents] == ["Notes", *(f"Table_{i}" for i in range(1, n + 2))]
    notes_header, notes = _table_of(book["Notes"])
    assert notes_header == ["Note number", "Note text"]
    note_text = " ".join(r[1].value for r in notes)
    assert f"from 1 to {threshold - 1} are shown as [c]" in note_text
    assert ("rounded to the nearest multiple of 5" in note_text) == (base == 5)
    published = read_table(settings, "marts.publication")
    seen_rows = 0
    for i in range(1, n + 1):
        ws = book[f"Table_{i}"]
        assert ws["A1"].value.startswith(f"Table {i}: Applications and outcomes by ")
        header, rows = _table_of(ws)
        assert header[:2] == ["Year [note 2]", "Status [note 2]"]
        assert header[3:] == ["Applicants [note 1]", "Sifted [note 3]",
                              "Progressed from sift [note 3]", "Appointed [note 4]",
                              "Failed at final stage [note 4]", "Sift pass rate (%) [note 5]",
                              "Appointment rate (%) [note 5]"]
        assert not any(re.fullmatch(r"[a-z]+(_[a-z]+)+", h) for h in header)  # no snake_case
        for row in rows:
            seen_rows += 1
            year, status, group = (c.value for c in row[:3])
            assert status == ("Provisional" if year == 2025 else "Final")
            for cell in row[3:8]:
                assert (cell.value in ("[c]",) and cell.data_type == "s") or (
                    isinstance(cell.value, int) and cell.number_format == "#,##0"), cell.value
            for cell in row[8:]:
                assert (cell.value in ("[c]", "[z]") and cell.data_type == "s") or (
                    isinstance(cell.value, (int, float)) and 0 <= cell.value <= 1
                    and cell.number_format == "0.0%"), cell.value
            if i == n:  # entry routes: no padding rows of zeros
                assert any(c.value not in (0,) for c in row[3:8]), (year, group)
    assert seen_rows == len(published)
    leavers_header, leavers = _table_of(book[f"Table_{n + 1}"])
    assert leavers_header[:2] == ["Characteristic", "Group"]
    assert leavers_header[-1] == "2025/26 (provisional) [note 2]"
    assert all(isinstance(c.value, int) or c.value == "[c]" for r in leavers for c in r[2:])
    with zipfile.ZipFile(exports / "annual_publication.xlsx") as archive:
        names = archive.namelist()
        assert not [m for m in names if "drawing" in m or "media" in m or "externalLink" in m]
        for member in names:
            if member.startswith("xl/worksheets/"):
                text = archive.read(member).decode("utf-8")
                assert "<f>" not in text and "hyperlink" not in text.lower()


def test_csv_files_and_notes_beside_them(demo_run):
    settings, (threshold, _) = demo_run
    exports = Path(settings.reports_dir) / "exports"
    with (exports / "annual_publication.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Characteristic", "Group", "Year", "Status", "Applicants", "Sifted",
                             "Progressed from sift", "Appointed", "Failed at final stage",
                             "Sift pass rate (%)", "Appointment rate (%)"]
    published = read_table(settings, "marts.publication")
    assert len(rows) == len(published)
    for row, p in zip(rows, published):
        assert row["Applicants"] == p["applicants"] and row["Year"] == str(p["year"])
        rate = p["sift_pass_rate"]
        assert row["Sift pass rate (%)"] == (rate if rate in MARKERS else f"{float(rate) * 100:.1f}")
        assert row["Status"] == ("Provisional" if p["provisional"] else "Final")
    assert {r["Characteristic"] for r in rows} >= {"Sex", "Ethnic minority background", "Entry route"}
    assert {r["Group"] for r in rows if r["Characteristic"] == "Disability"} == {
        "Not disabled", "Disabled", "Not stated", "Total"}
    with (exports / "annual_publication_leavers.csv").open(encoding="utf-8", newline="") as f:
        leavers = list(csv.DictReader(f))
    assert list(leavers[0]) == ["Characteristic", "Group", "Financial year", "Status", "Leavers"]
    assert {r["Status"] for r in leavers if r["Financial year"] == "2025/26"} == {"Provisional"}
    notes = (exports / "annual_publication_notes.txt").read_text(encoding="utf-8")
    for marker in MARKERS:
        assert f"  {marker} = " in notes, marker
    assert "annual_publication.csv" in notes and "annual_publication_leavers.csv" in notes
    assert f"Counts from 1 to {threshold - 1} are shown as [c]" in notes


def test_no_leavers_file_means_not_available(tmp_path):
    settings = run(tmp_path, FIXTURES / "optional-landing", "")
    assert read_table(settings, "marts.publication_leavers") == []
    exports = Path(settings.reports_dir) / "exports"
    with (exports / "annual_publication_leavers.csv").open(encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [["Characteristic", "Group", "Financial year", "Status",
                                        "Leavers"], ["All", "Total", "[x]", "[x]", "[x]"]]
    from openpyxl import load_workbook

    book = load_workbook(exports / "annual_publication.xlsx")
    header, rows = _table_of(book[book.sheetnames[-1]])
    assert header[-1] == "Leavers [note 8]" and rows[0][-1].value == "[x]"
    cover = " ".join(str(r[0]) for r in _sheet_rows(book["Cover_sheet"]))
    assert "Leavers: not available [x]" in cover


def test_input_and_configuration_text_stays_text(edge_exports):
    """Formula-like entry routes and a formula as the configured title: text cells in the
    workbook, apostrophe-prefixed in the CSV; the cover shows the configured wording."""
    from openpyxl import load_workbook

    _, files = edge_exports
    book = load_workbook(files["annual_publication.xlsx"])
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
    cover = [r[0] for r in _sheet_rows(book["Cover_sheet"])]
    assert cover[0] == "'" + HOSTILE_TITLE
    assert "Force HR system, 2026 extract" in cover
    assert "Workforce statistics team, stats@force.example" in cover
    routes = {c.value for ws in book if ws.title.startswith("Table_")
              for row in ws.iter_rows() for c in row[2:3]}
    assert {"'" + f for f in FORMULAS} <= routes
    with files["annual_publication.csv"].open(encoding="utf-8", newline="") as f:
        cells = [c for row in csv.reader(f) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'" + FORMULAS[0] in cells
    notes = files["annual_publication_notes.txt"].read_text(encoding="utf-8")
    assert notes.splitlines()[0] == HOSTILE_TITLE  # plain text: nothing evaluates it


@pytest.mark.slow
def test_libreoffice_opens_every_sheet_as_published(demo_run, tmp_path: Path):
    """LibreOffice Calc (headless) converts every sheet to CSV as displayed (formats
    applied) and the workbook to PDF: the headers, formatted percentages and markers
    survive, and no figure from 1 to threshold − 1 is displayed."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is missing: run scripts/install-system-deps.sh"
    settings, (threshold, _) = demo_run
    book = Path(settings.reports_dir) / "exports" / "annual_publication.xlsx"
    out = tmp_path / "converted"
    profile = f"-env:UserInstallation=file://{tmp_path}/lo-profile"
    # CSV filter: comma, quote, UTF-8, from row 1, …, "as shown" = true, every sheet (-1)
    proc = subprocess.run(
        [soffice, "--headless", profile, "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
         "--outdir", str(out), str(book)],
        check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    sheets = {p.stem.split("-", 1)[1]: list(csv.reader(p.open(encoding="utf-8")))
              for p in out.glob("*.csv")}
    config = load_config(settings.config_path)
    n = len(config.characteristics) + 2
    assert set(sheets) == {"Cover_sheet", "Contents", "Notes", *(f"Table_{i}" for i in range(1, n + 1))}
    table = sheets["Table_1"]
    header_at = next(i for i, r in enumerate(table) if r and r[0] == "Year [note 2]")
    header = table[header_at]
    assert header[2] == "Sex" and header[-1] == "Appointment rate (%) [note 5]"
    body = table[header_at + 1:]
    percentages = [r[-1] for r in body]
    assert all(re.fullmatch(r"\d{1,3}\.\d%", p) or p in ("[c]", "[z]") for p in percentages)
    assert any(re.fullmatch(r"\d{1,3}\.\d%", p) for p in percentages)
    displayed = [c for name, rows in sheets.items() if name.startswith("Table_")
                 for r in rows[header_at + 1:] for c in r[2:] if re.fullmatch(r"[\d,]+", c)]
    assert displayed and not any(1 <= int(c.replace(",", "")) < threshold for c in displayed)
    assert any(c == "[c]" for r in body for c in r)
    assert any("[c] = confidential" in r[0] for r in sheets["Cover_sheet"] if r)
    proc = subprocess.run([soffice, "--headless", profile, "--convert-to", "pdf",
                           "--outdir", str(out), str(book)],
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    pdf = (out / "annual_publication.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF") and len(pdf) > 20_000
