"""Property-based: random landing folders mixing valid rows with every malformation.

For each generated folder the real steps run on a fresh DuckDB file, and:
  (a) per file, rows accepted + rows rejected = rows delivered (delivered is known from
      how the file was generated: its data records, blank lines and malformed ones
      included), and the row numbers 1..delivered are each used exactly once;
  (b) every rejection has a non-empty reason; failed files have a reason;
  (c) nothing crashes;
  (d) marts.stage_pass_rates equals the independent oracle (tests/oracle.py) run on a
      folder holding ONLY the valid rows (well-formed rows of readable files; those may
      still break a contract rule, which both sides must judge alike).
Also: valid rows keep their generated row number.

Bounded in CI (profile `ci`: 25 examples); `HYPOTHESIS_PROFILE=nightly` runs 500
(profiles are registered in tests/conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import oracle
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import APPLICANT_HEADER, EVENT_HEADER, read_table
from hypothesis import given
from hypothesis import strategies as st
from table_compare import assert_tables_match

from funnel_pipeline import pipeline
from funnel_pipeline.settings import Settings

KEYS = ["characteristic", "group_name", "stage"]

WS = st.sampled_from(["", " ", "  ", "\t", " \t "])
TEXT_ODD = st.sampled_from([
    "plain", "with, comma", 'with "quotes"', "line\nbreak", "crlf\r\ninside", "a\x00nul",
    "=1+2", "+cmd", "-1", "@SUM(A1)", "ünïcødé ☃", "x" * 5000, "'); DROP TABLE core.events; --",
])
EVENT_IDS = st.sampled_from([f"E{i}" for i in range(1, 13)])
APPLICANT_IDS = st.sampled_from([f"A{i}" for i in range(1, 7)])
CAMPAIGNS = st.sampled_from(["C1", "C2"])
STAGES = st.sampled_from(["application", "apply", "Paper Sift", "sift", "assessment", "OAC",
                          "vetting", "appointment", "offer", "interview", ""])
OUTCOMES = st.sampled_from(["passed", "PASS", "Success", "failed", "unsuccessful", "withdrawn",
                            "withdrew", "deferred", ""])
TIMES = st.sampled_from([
    "2023-01-01", "2023-01-05T10:00:00Z", "2023-02-01 09:30:00+01:00", "2024-02-29",
    "2023-02-29", "2023-03-01T23:59:59.123456-05:00", "2023-06-01T12:00", "31/02/2023",
    "not a date", "10000-01-01", "2023-13-01", "", "2022-12-31T23:00:00+0100",
])
SEX = st.sampled_from(["Female", "M", "Woman", "Prefer not to say", "", "  male  ", "x"])
ETHNICITY = st.sampled_from(["White", "Asian or Asian British: Indian", "Black", "Mixed", "Arab",
                             "Other ethnic group: any other", "", "Unknown"])
YES_NO = st.sampled_from(["Yes", "No", "", "Not stated"])
ORIENTATION = st.sampled_from(["Heterosexual", "Straight", "Gay", "Bisexual", "Other", ""])


@st.composite
def event_values(draw) -> list[str]:
    def maybe_ws(value: str) -> str:
        return draw(WS) + value + draw(WS) if draw(st.booleans()) and value else value

    return [maybe_ws(draw(EVENT_IDS)), maybe_ws(draw(APPLICANT_IDS)), draw(CAMPAIGNS),
            maybe_ws(draw(STAGES)), maybe_ws(draw(OUTCOMES)), draw(TIMES)]


@dataclass
class Record:
    kind: str  # valid / too_few / too_many / blank / unterminated / stray_quote
    values: list[str] = field(default_factory=list)


def _csv_line(values: list[str]) -> str:
    """One RFC 4180 record without its line break (fields holding CR or LF are quoted:
    the csv module decides that from `lineterminator`, so it must hold both)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)
    return buffer.getvalue()[:-2]


@st.composite
def csv_records(draw, header: list[str], make_values) -> list[Record]:
    records = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(
            ["valid"] * 6 + ["too_few", "too_many", "blank", "stray_quote"]))
        values = draw(make_values)
        if len(header) > len(values):  # the free-text extra column
            values = values + [draw(TEXT_ODD)]
        records.append(Record(kind, values))
    if draw(st.booleans()) and draw(st.booleans()):
        records.append(Record("unterminated", draw(make_values)))
    return records


def _render(header: list[str], records: list[Record], crlf: bool) -> str:
    nl = "\r\n" if crlf else "\n"
    lines = [_csv_line(header)]
    for record in records:
        if record.kind == "valid":
            lines.append(_csv_line(record.values))
        elif record.kind == "too_few":
            lines.append(_csv_line(record.values[: len(header) - 1]) or "x")
        elif record.kind == "too_many":
            lines.append(_csv_line([*record.values, "surplus"]))
        elif record.kind == "blank":
            lines.append("")
        elif record.kind == "stray_quote":  # a quoted field followed by text: "E1"x
            lines.append(f'"{record.values[0].strip()}"x,' + _csv_line(record.values[1:]))
        elif record.kind == "unterminated":
            lines.append(",".join(record.values[:-1]) + ',"never closed')
    # values may hold bare \n or \r\n inside quotes; line breaks between records are `nl`
    return nl.join(lines) + nl


@dataclass
class Delivered:
    name: str
    fmt: str
    readable: bool  # False: the file as a whole must fail
    delivered: int = 0
    valid: list[tuple[int, list[str]]] = field(default_factory=list)  # (row number, values)
    header: list[str] = field(default_factory=list)
    valid_bytes: bytes | None = None  # the file's well-formed rows only (for the oracle)
    is_link_or_dir: bool = False


NAMES = st.sampled_from(["", " with space", "_ünï☃", "_o'brien", '_"q"', "_a;b", "_[1]", "_*",
                         "_'); DROP TABLE raw.event_rows; --"])


@st.composite
def landing_folders(draw) -> list[dict]:
    specs = []
    n_event_files = draw(st.integers(1, 3))
    for i in range(n_event_files):
        header = list(EVENT_HEADER) + (["notes"] if draw(st.booleans()) else [])
        if draw(st.booleans()):
            header = [h.upper() if draw(st.booleans()) else f" {h} " for h in header]
        specs.append({
            "kind": "events", "name": f"events_{i}{draw(NAMES)}.csv", "header": header,
            "records": draw(csv_records(header, event_values())),
            "crlf": draw(st.booleans()), "bom": draw(st.booleans()),
            "encoding": draw(st.sampled_from(["utf-8"] * 5 + ["latin-1"])),
        })
    applicant_values = st.builds(lambda *v: list(v), APPLICANT_IDS, SEX, ETHNICITY, YES_NO, ORIENTATION)
    for i in range(draw(st.integers(0, 2))):
        specs.append({
            "kind": "applicants", "name": f"applicants_{i}{draw(NAMES)}.csv",
            "header": list(APPLICANT_HEADER),
            "records": draw(csv_records(APPLICANT_HEADER, applicant_values)),
            "crlf": draw(st.booleans()), "bom": False, "encoding": "utf-8",
        })
    extras = draw(st.sets(st.sampled_from(
        ["empty", "header_only", "typed_parquet", "truncated_parquet", "symlink", "directory",
         "duplicate"]), max_size=4))
    for extra in sorted(extras):
        specs.append({"kind": extra, "rows": draw(st.lists(event_values(), min_size=1, max_size=4))})
    return specs


def _write(folder: Path, valid_folder: Path, outside: Path, specs: list[dict]) -> list[Delivered]:
    out: list[Delivered] = []
    for spec in specs:
        kind = spec["kind"]
        if kind in ("events", "applicants"):
            text = _render(spec["header"], spec["records"], spec["crlf"])
            name = spec["name"]
            latin = spec["encoding"] == "latin-1"
            if latin:
                text = text.replace("\n", " é\n", 1)  # at least one non-ASCII byte (in the header line)
            data = (b"\xef\xbb\xbf" if spec["bom"] else b"") + text.encode(spec["encoding"], "replace")
            (folder / name).write_bytes(data)
            d = Delivered(name, "csv", readable=not latin, header=spec["header"])
            d.delivered = len(spec["records"])
            for number, record in enumerate(spec["records"], start=1):
                if record.kind == "valid":
                    d.valid.append((number, record.values))
            if d.readable:
                valid = _render(spec["header"], [r for r in spec["records"] if r.kind == "valid"],
                                spec["crlf"])
                (valid_folder / name).write_bytes(valid.encode())
            out.append(d)
        elif kind == "empty":
            (folder / "events_empty.csv").write_bytes(b"")
            out.append(Delivered("events_empty.csv", "csv", readable=False))
        elif kind == "header_only":
            (folder / "events_header_only.csv").write_text(",".join(EVENT_HEADER) + "\n")
            shutil.copy(folder / "events_header_only.csv", valid_folder / "events_header_only.csv")
            out.append(Delivered("events_header_only.csv", "csv", readable=True, header=list(EVENT_HEADER)))
        elif kind in ("typed_parquet", "truncated_parquet"):
            rows = [[f"P{i}", *values[1:]] for i, values in enumerate(spec["rows"])]
            table = pa.table({
                "event_id": [r[0] for r in rows], "applicant_id": [r[1] for r in rows],
                "campaign_id": [r[2] for r in rows], "stage": [r[3] for r in rows],
                "outcome": [r[4] for r in rows],
                "occurred_at": pa.array([dt.datetime(2023, 1, 1 + i, 8, tzinfo=dt.UTC)
                                         for i in range(len(rows))], pa.timestamp("us", tz="UTC")),
                "score": pa.array(list(range(len(rows))), pa.int64()),
                "ok": [True] * len(rows),
            })
            name = f"events_{kind}.parquet"
            buffer = pa.BufferOutputStream()
            pq.write_table(table, buffer)
            data = buffer.getvalue().to_pybytes()
            if kind == "truncated_parquet":
                (folder / name).write_bytes(data[: len(data) // 2])
                out.append(Delivered(name, "parquet", readable=False))
            else:
                (folder / name).write_bytes(data)
                (valid_folder / name).write_bytes(data)
                d = Delivered(name, "parquet", readable=True, delivered=len(rows))
                d.valid = [(i + 1, r) for i, r in enumerate(rows)]
                out.append(d)
        elif kind == "symlink":
            target = outside / "linked.csv"
            target.write_text(",".join(EVENT_HEADER) + "\n" + _csv_line(spec["rows"][0]) + "\n")
            os.symlink(target, folder / "events_link.csv")
            out.append(Delivered("events_link.csv", "csv", readable=False, is_link_or_dir=True))
        elif kind == "directory":
            (folder / "events_dir.csv").mkdir()
            out.append(Delivered("events_dir.csv", "csv", readable=False, is_link_or_dir=True))
        elif kind == "duplicate":
            source = next((d for d in out if d.fmt == "csv" and d.readable and d.delivered), None)
            if source is not None:
                name = "events_zz_resend.csv" if source.name.startswith("events") else "applicants_zz_resend.csv"
                shutil.copy(folder / source.name, folder / name)
                shutil.copy(valid_folder / source.name, valid_folder / name)
                copy = Delivered(name, "csv", readable=True, delivered=source.delivered,
                                 valid=list(source.valid), header=source.header)
                out.append(copy)
    return out


def _check(folder: Path, valid_folder: Path, delivered: list[Delivered], settings: Settings) -> None:
    pipeline.run_all(settings)  # (c) must not raise
    files = {f["file_name"]: f for f in read_table(settings, "raw.landing_files")}
    rejected = read_table(settings, "quality.rejected_rows")
    # (b) every rejection has a reason
    assert all(r["reason"] and r["reason"].strip() for r in rejected)
    raw_tables = {"events": "raw.event_rows", "applicants": "raw.applicant_rows"}
    raw_rows = {kind: read_table(settings, table) for kind, table in raw_tables.items()}
    accepted_events = {(e["event_id"]) for e in read_table(settings, "core.events")}
    for d in delivered:
        entry = files[d.name]
        if not d.readable:
            assert entry["status"] == "failed", (d.name, entry)
            assert entry["reason"], d.name
            assert entry["rows_delivered"] == 0
            continue
        assert entry["status"] in ("loaded", "duplicate"), (d.name, entry["reason"])
        # (a) accepted + rejected = delivered, row numbers 1..delivered each once
        assert entry["rows_delivered"] == d.delivered, d.name
        kind = entry["kind"]
        raw = {r["row_number"]: r for r in raw_rows[kind] if r["file_id"] == entry["file_id"]}
        mine = {r["row_number"]: r for r in rejected if r["file_id"] == entry["file_id"]}
        malformed = {n for n, r in mine.items() if r["reason"].startswith("malformed CSV row")}
        assert not set(raw) & malformed
        assert set(raw) | malformed == set(range(1, d.delivered + 1)), d.name
        accepted = set(raw) - set(mine)
        assert len(accepted) + len(mine) == d.delivered
        if kind == "events":  # an accepted row is an event (counted once per event_id)
            assert all(oracle._blank(raw[n]["event_id"]) is False and raw[n]["event_id"].strip() in accepted_events
                       for n in accepted)
        # valid rows keep their own row number
        contract = EVENT_HEADER if kind == "events" else APPLICANT_HEADER
        if d.fmt == "parquet":
            contract = EVENT_HEADER[:5]  # occurred_at is a typed timestamp there
        for number, values in d.valid:
            row = raw[number]
            if kind == "applicants":  # the id, then the configuration's columns as attributes
                attributes = json.loads(row["attributes"] or "{}")
                kept = [row["applicant_id"] or "", *(attributes.get(c.strip().lower()) or ""
                                                     for c in contract[1:])]
            else:
                kept = [row[c] or "" for c in contract]
            assert kept == [str(v) for v in values[: len(contract)]]
    # (d) the marts are those of the valid rows alone
    expected = oracle.compute_all(valid_folder)["stage_pass_rates"]
    assert_tables_match(read_table(settings, "marts.stage_pass_rates"), expected, keys=KEYS)


@given(landing_folders())
def test_hostile_folders_lose_nothing_and_match_the_oracle(specs):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder, valid_folder, outside = root / "landing", root / "valid", root / "outside"
        for path in (folder, valid_folder, outside):
            path.mkdir()
        delivered = _write(folder, valid_folder, outside, specs)
        settings = Settings(landing_dir=folder, duckdb_path=root / "funnel.duckdb",
                            reports_dir=root / "reports", duckdb_memory_limit="1GB")
        _check(folder, valid_folder, delivered, settings)
