"""The raw layer: landing folder → manifest + raw row tables (docs/CONTRACT.md sections 1, 6, 9).

Each file the folder holds is recorded once in `raw.landing_files` (name, size, SHA-256,
status, rows). A run loads only files it has not recorded before, each inside its own
transaction, so a crash mid-file leaves no half-loaded file and the next run retries it.
Rows are copied by DuckDB's own readers (`read_csv`/`read_parquet`) with the path bound
as a parameter (glob characters escaped, so `events[1].csv` is that file and no other);
every value is kept as delivered text and columns beyond the contract go into a JSON
object, so nothing delivered is lost. No file name, header or value is ever pasted into
SQL text: the only generated identifiers are our own (`c0`, `c1`, …) and quoted headers.

Policies (docs/LANDING.md has the full list, with examples):
- kind by file name prefix (`events…`, `applicants…`, …), format by extension
  (`.csv`, `.parquet`), both case-insensitive; other names are recorded as failed;
- dot-files and in-flight names (`*.tmp`, `*.part`, `~$…`) are skipped, not recorded:
  senders should write under such a name and rename when complete;
- symbolic links and directories are recorded as failed and not followed;
- CSV must be UTF-8 (a byte-order mark is fine): a file holding any byte sequence that
  is not UTF-8 (e.g. a Latin-1 export) fails as a whole, with the offset and line of the
  first bad byte; none of it is loaded (one encoding per file: we do not guess);
- a CSV row the reader cannot split into exactly the header's fields (too many or too
  few fields, an unterminated quote, a line over 16 MiB) is *rejected*, not loaded:
  it goes to `quality.rejected_rows` with reason `malformed CSV row: <error>` and the raw
  line text, and the rest of the file loads; a blank line is a row whose every field is
  blank (rejected by the usual rules, e.g. `missing required field: event_id`);
- `row_number` is the 1-based data row: the record's position after the header, where
  a record is what RFC 4180 calls a line (a quoted field may span physical lines) and
  blank lines and rejected records count; so per file
  `rows_delivered` = raw rows + malformed rows, and numbers never shift;
- Parquet columns of any type are cast to text (timestamps as `YYYY-MM-DD HH:MM:SS[+00]`
  in UTC, dates as `YYYY-MM-DD`, so the contract's ISO 8601 rule still applies);
- identical bytes under a new name load normally and are marked `duplicate` of the
  first file (identical event rows then count once; an applicants re-send still wins
  by name order, as the contract says);
- a file that failed because it could not be read at all (I/O error) is retried on
  the next run; a file that failed on its content is not (files never change);
- only settled files load: a file whose modification time is younger than
  `settle_seconds` is waited for (up to `max_wait_seconds`), and one still changing
  then is left for a later run (reported, not recorded); after its rows are copied, a
  file's size, modification time and SHA-256 are taken again, and a file that changed
  while it was read is rolled back (reported, retried next run);
- a loaded file whose bytes later change, or that disappears, is reported by
  `check_loaded_files` (a warning check on `raw/landing_files`); what was loaded stays.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from funnel_pipeline import models
from funnel_pipeline.causes import FunnelError
from funnel_pipeline.settings import Settings
from funnel_pipeline.warehouse import open_warehouse, transaction

#: landing-file kinds and the columns each requires (docs/CONTRACT.md sections 1 and 6)
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"),
    "applicants": ("applicant_id",),
    "campaigns": ("campaign_id", "entry_route"),
    "population": ("characteristic", "group_name", "population_share"),
    "interventions": ("intervention_id", "name", "started_on"),
    "leavers": ("applicant_id", "left_on"),
}
FORMATS = {".csv": "csv", ".parquet": "parquet"}
_IN_FLIGHT = re.compile(r"(^\.|^~\$|\.(tmp|part|partial|crdownload)$)", re.IGNORECASE)


@dataclass
class IngestSummary:
    """Aggregate counts only: safe for Dagster metadata and logs."""

    files_seen: int = 0
    files_new: int = 0
    loaded: int = 0
    duplicates: int = 0
    failed: int = 0
    rows_by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    #: files still being written when the run gave up waiting (loaded by a later run)
    unsettled: list[str] = field(default_factory=list)
    #: files whose bytes changed while they were read (rolled back; retried next run)
    changed_while_read: list[str] = field(default_factory=list)


def classify(name: str) -> tuple[str, str | None]:
    """(kind, format) from a file name; kind `unknown` when no pattern matches."""
    lower = name.lower()
    fmt = FORMATS.get(Path(lower).suffix)
    for kind in REQUIRED_COLUMNS:
        if lower.startswith(kind):
            return kind, fmt
    return "unknown", fmt


def is_in_flight(name: str) -> bool:
    return bool(_IN_FLIGHT.search(name))


def list_landing(landing_dir: Path) -> list[Path]:
    """Entries of the landing folder in name order (skipping in-flight names).

    Raises a clear error when the folder is missing or unreadable: silently loading
    nothing would look like a quiet night.
    """
    if not landing_dir.exists():
        raise FileNotFoundError(f"landing folder {landing_dir} does not exist (FUNNEL_LANDING_DIR)")
    if not landing_dir.is_dir():
        raise NotADirectoryError(f"landing folder {landing_dir} is not a directory (FUNNEL_LANDING_DIR)")
    try:
        entries = sorted(os.scandir(landing_dir), key=lambda e: e.name)
    except PermissionError as exc:
        raise PermissionError(f"landing folder {landing_dir} cannot be read: {exc.strerror}") from exc
    return [Path(e.path) for e in entries if not is_in_flight(e.name)]


def ingest(settings: Settings, run_id: str | None = None) -> IngestSummary:
    """Landing folder → raw.landing_files + raw.*_rows (one transaction per file; only
    files that have stopped changing)."""
    with open_warehouse(settings) as con:
        return ingest_landing_folder(con, Path(settings.landing_dir), run_id,
                                     settle_seconds=settings.landing_settle_seconds,
                                     max_wait_seconds=settings.landing_max_wait_seconds)


def ingest_landing_folder(con: duckdb.DuckDBPyConnection, landing_dir: Path,
                          run_id: str | None = None, *, settle_seconds: float = 0.0,
                          max_wait_seconds: float = 0.0) -> IngestSummary:
    """Record and load every settled file not loaded before. Idempotent."""
    summary = IngestSummary()
    known = dict(con.execute(
        "SELECT file_name, status = 'failed' AND reason LIKE 'unreadable:%' FROM raw.landing_files"
    ).fetchall())
    candidates = []
    for path in list_landing(landing_dir):
        summary.files_seen += 1
        name = stored_name(path.name)
        if name in known and not known[name]:
            continue
        candidates.append(path)
    settled, summary.unsettled = wait_until_settled(candidates, settle_seconds, max_wait_seconds)
    for path in settled:
        name = stored_name(path.name)
        summary.files_new += 1
        try:
            status, reason, _kind = _load_one(con, path, run_id, retry=bool(known.get(name)))
        except FileChangedWhileRead:
            summary.files_new -= 1
            summary.changed_while_read.append(name)
            continue
        if status == "failed":
            summary.failed += 1
            summary.failures.append((name, reason or ""))
        elif status == "duplicate":
            summary.duplicates += 1
        else:
            summary.loaded += 1
    summary.rows_by_kind = dict(con.execute(
        "SELECT kind, sum(rows_delivered)::BIGINT FROM raw.landing_files GROUP BY kind ORDER BY kind"
    ).fetchall())
    return summary


@dataclass(frozen=True)
class FileStamp:
    """What `stat` says of a file: enough to see that it changed, without reading it."""

    size: int
    modified_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = path.stat(follow_symlinks=False)
        return cls(stat.st_size, stat.st_mtime_ns)


def wait_until_settled(paths: list[Path], settle_seconds: float, max_wait_seconds: float,
                       ) -> tuple[list[Path], list[str]]:
    """(files to load, names of files still changing): a file is settled once its
    modification time is `settle_seconds` old. Younger files are watched (re-stat every
    second) for at most `max_wait_seconds`; whatever is still young then is left for a
    later run, so a file being written or appended to is never loaded in part.

    Entries that cannot be stat'ed (a symlink, a vanished file) are passed on: loading
    records why they fail.
    """
    if settle_seconds <= 0:
        return list(paths), []
    deadline = time.monotonic() + max(0.0, max_wait_seconds)
    waiting = list(paths)
    settled: list[Path] = []
    while True:
        now = time.time()
        young = []
        for path in waiting:
            try:
                age = now - FileStamp.of(path).modified_ns / 1e9
            except OSError:
                age = settle_seconds
            (young if age < settle_seconds else settled).append(path)
        if not young or time.monotonic() >= deadline:
            break
        waiting = young
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    order = {path: i for i, path in enumerate(paths)}
    return sorted(settled, key=order.__getitem__), [stored_name(p.name) for p in young]


@dataclass
class LoadedFileCheck:
    """Loaded files that are no longer what was loaded (names only: safe to show)."""

    checked: int = 0
    gone: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.gone and not self.changed


def check_loaded_files(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> LoadedFileCheck:
    """Compare every loaded file of the manifest with the landing folder.

    The contract says a landed file is never modified, so a file that disappeared or
    whose bytes differ from the recorded SHA-256 is something an auditor must hear
    about: its rows stay as loaded, a rebuild would lose or change them. Cheap: a file
    is re-hashed only when its size or modification time differs from the manifest.
    """
    result = LoadedFileCheck()
    rows = con.execute(
        "SELECT file_name, size_bytes, modified_ns, sha256 FROM raw.landing_files "
        "WHERE status IN ('loaded', 'duplicate') ORDER BY file_name").fetchall()
    for name, size, modified_ns, sha256 in rows:
        result.checked += 1
        path = Path(landing_dir) / name
        try:
            stamp = FileStamp.of(path)
        except OSError:
            result.gone.append(name)
            continue
        if stamp != FileStamp(size, modified_ns if modified_ns is not None else -1):
            try:
                if sha256_of(path) != sha256:
                    result.changed.append(name)
            except OSError:
                result.gone.append(name)
    return result


class FileChangedWhileRead(Exception):
    """A landing file's bytes changed between hashing it and copying its rows."""


def _load_one(con: duckdb.DuckDBPyConnection, path: Path, run_id: str | None,
              retry: bool) -> tuple[str, str | None, str]:
    name = stored_name(path.name)
    kind, fmt = classify(name)
    base = {"file_name": name, "kind": kind, "file_format": fmt, "run_id": run_id}
    if retry:
        con.execute("DELETE FROM raw.landing_files WHERE file_name = ?", [name])
    if path.is_symlink():
        return _record_failure(con, base, "symbolic link: not followed"), "symbolic link: not followed", kind
    if not path.is_file():
        return _record_failure(con, base, "not a regular file"), "not a regular file", kind
    if kind == "unknown":
        reason = "file name matches no landing pattern (" + ", ".join(f"{k}*" for k in REQUIRED_COLUMNS) + ")"
        return _record_failure(con, base, reason), reason, kind
    if fmt is None:
        reason = "not CSV or Parquet (by extension)"
        return _record_failure(con, base, reason, path=path), reason, kind
    try:
        scan = scan_file(path, text=fmt == "csv")
    except OSError as exc:
        reason = f"unreadable: {exc.strerror or type(exc).__name__}"
        return _record_failure(con, base, reason), reason, kind
    base.update(sha256=scan.sha256, size_bytes=scan.size, modified_ns=scan.stamp.modified_ns)
    if name != path.name:
        reason = "file name is not valid UTF-8 (rename the file)"
        return _record_failure(con, base, reason), reason, kind
    try:
        if scan.bad_utf8_offset is not None:
            raise _FileRejected(
                f"not valid UTF-8 text: first invalid byte near offset {scan.bad_utf8_offset} "
                f"(line {scan.bad_utf8_line}); the whole file is rejected - save it as UTF-8 "
                "and deliver it again")
        columns = _delivered_columns(con, path, fmt)
        mapping = _map_columns(columns, kind)
    except _FileRejected as exc:
        return _record_failure(con, base, str(exc)), str(exc), kind
    duplicate_of = con.execute(
        "SELECT min(file_name) FROM raw.landing_files "
        "WHERE sha256 = ? AND kind = ? AND status <> 'failed'", [scan.sha256, kind]
    ).fetchone()[0]
    status = "duplicate" if duplicate_of else "loaded"
    try:
        with transaction(con):
            file_id = _insert_manifest(con, {**base, "status": status, "duplicate_of": duplicate_of,
                                             "columns_delivered": json.dumps(columns)})
            if fmt == "csv":
                rows = _copy_csv(con, path, kind, file_id, name, columns, mapping, scan)
            else:
                rows = _copy_parquet(con, path, kind, file_id, columns, mapping)
            con.execute("UPDATE raw.landing_files SET rows_delivered = ? WHERE file_id = ?", [rows, file_id])
            # the rows are what the recorded hash describes, or nothing is kept
            if FileStamp.of(path) != scan.stamp or sha256_of(path) != scan.sha256:
                raise FileChangedWhileRead(name)
    except FileNotFoundError as exc:  # vanished while being read: nothing kept, retried
        raise FileChangedWhileRead(name) from exc
    except duckdb.Error as exc:
        if _is_environmental(exc):
            # disk full, read-only file system, …: not the file's fault. Stop the run; the
            # transaction left nothing behind, and the next run loads the file again.
            raise WarehouseWriteError(
                f"could not write the DuckDB database while loading landing file {name!r}: "
                f"{_first_line(exc)}. Nothing of this file was kept; the next run retries it."
            ) from exc
        reason = _describe_read_error(exc, fmt)
        return _record_failure(con, base, reason), reason, kind
    finally:
        try:
            _drop_scratch(con)
        except duckdb.Error:
            pass
    return status, None, kind


class WarehouseWriteError(FunnelError):
    """The database (or DuckDB's temp folder) could not be written: the run stops with the
    cause, the file's transaction is rolled back, and the next run retries the file."""


#: DuckDB errors that are about the machine, not the landing file's content
_ENVIRONMENTAL = ("no space left", "read-only file system", "could not write", "failed to commit",
                  "permission denied", "out of memory", "could not truncate", "could not fsync",
                  "disk quota", "database has been invalidated", "input/output error")


def _is_environmental(exc: duckdb.Error) -> bool:
    if isinstance(exc, (duckdb.TransactionException, duckdb.OutOfMemoryException,
                        duckdb.FatalException, duckdb.InternalException)):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _ENVIRONMENTAL)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class _FileRejected(Exception):
    """The file as a whole cannot be loaded (reason is safe to show: no row values)."""


def stored_name(name: str) -> str:
    """The file name as recorded: itself, or (not valid UTF-8) with bad bytes as `\\xNN`."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def duckdb_path(path: Path) -> str:
    """The absolute path with DuckDB's glob characters escaped (`[` `*` `?` → `[[]` …).

    DuckDB's readers expand globs in the path they are given, so `events[1].csv` would
    otherwise read `events1.csv`, and `events*.csv` every events file.
    """
    return _GLOB_CHARS.sub(r"[\1]", os.path.abspath(path))


_GLOB_CHARS = re.compile(r"([\[*?])")


@dataclass
class FileScan:
    """One pass over a file's bytes: hash, size and (CSV) the text checks."""

    sha256: str
    size: int
    #: size and modification time when the scan started (compared again after loading)
    stamp: FileStamp = FileStamp(0, 0)
    bad_utf8_offset: int | None = None  # byte offset of the first invalid UTF-8 sequence
    bad_utf8_line: int | None = None  # its physical line (1 = header line)
    may_have_blank_lines: bool = False  # `\n\n` or `\n\r\n` occurs somewhere


def scan_file(path: Path, text: bool) -> FileScan:
    """Hash the file; for text, also validate UTF-8 and look for blank lines.

    Block-wise (1 MiB) with the C codec and `bytes` searches: no Python loop over rows.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")() if text else None
    size = newlines = 0
    tail = b""
    scan = FileScan(sha256="", size=0, stamp=FileStamp.of(path))
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if decoder is not None:
                if scan.bad_utf8_offset is None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        start = max(exc.start, 0)
                        scan.bad_utf8_offset = size + start
                        scan.bad_utf8_line = newlines + block.count(b"\n", 0, start) + 1
                if not scan.may_have_blank_lines:
                    edge = tail + block[:2]
                    scan.may_have_blank_lines = (b"\n\n" in block or b"\n\r\n" in block
                                                 or b"\n\n" in edge or b"\n\r\n" in edge)
                    tail = block[-2:]
                newlines += block.count(b"\n")
            size += len(block)
    if decoder is not None and scan.bad_utf8_offset is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # a multi-byte sequence cut off at the end of the file
            scan.bad_utf8_offset, scan.bad_utf8_line = size, newlines + 1
    scan.sha256, scan.size = digest.hexdigest(), size
    return scan


def sha256_of(path: Path) -> str:
    return scan_file(path, text=False).sha256


#: DuckDB's longest CSV record; a longer one is rejected as a malformed row
MAX_LINE_BYTES = 16 * 1024 * 1024
#: connection-local scratch tables the CSV path uses (dropped after every file)
_SCRATCH = ("funnel_rejects", "funnel_rejects_scan", "funnel_rejects_1", "funnel_rejects_scan_1",
            "funnel_malformed", "funnel_skipped", "funnel_gaps", "funnel_single", "funnel_blank")


def _csv_reader(n_columns: int, rejects: str) -> str:
    """`read_csv` with our fixed dialect: no sniffing, every field text, RFC 4180 quoting.

    Records that do not split into exactly `n_columns` fields (or hold an unterminated
    quote, or exceed 16 MiB) are not loaded but stored, with their line number and text,
    in the temp table `rejects`. Only our own names `c0…` go into the SQL text.
    """
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n_columns)) + "}"
    return (f"read_csv(?, columns = {columns}, auto_detect = false, header = true, "
            "delim = ',', quote = '\"', escape = '\"', encoding = 'utf-8', compression = 'none', "
            f"strict_mode = true, null_padding = false, max_line_size = {MAX_LINE_BYTES}, "
            f"ignore_errors = true, store_rejects = true, rejects_table = '{rejects}', "
            f"rejects_scan = '{rejects}_scan', rejects_limit = 0)")


def _read_csv_header(path: Path) -> list[str]:
    """The header record (RFC 4180, UTF-8 with optional BOM), parsed by the csv module.

    Only the first record is read: the rows themselves are DuckDB's job.
    """
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(MAX_LINE_BYTES)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, strict=True), None)
    except csv.Error as exc:
        raise _FileRejected("malformed CSV header row (unbalanced quotes or a field over "
                            "16 MiB)") from exc
    except UnicodeDecodeError as exc:
        raise _FileRejected("not valid UTF-8 text in the header row") from exc
    finally:
        csv.field_size_limit(limit)
    if header is None:
        raise _FileRejected("empty file: no header row")
    if not header:
        raise _FileRejected("the first line is blank: no header row")
    return header


def _delivered_columns(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    if fmt == "csv":
        return _read_csv_header(path)
    try:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [duckdb_path(path)]).fetchall()
    except duckdb.Error as exc:
        raise _FileRejected(_describe_read_error(exc, fmt)) from exc
    return [r[0] for r in rows]


def _map_columns(columns: list[str], kind: str) -> dict[str, str]:
    """Contract column → delivered header (matched case-insensitively after trimming)."""
    normalised: dict[str, str] = {}
    for column in columns:
        key = column.strip().lower()
        if key in normalised:
            raise _FileRejected(f"two columns are both named '{key}' (ignoring case and spaces)")
        normalised[key] = column
    missing = [c for c in REQUIRED_COLUMNS[kind] if c not in normalised]
    if missing:
        raise _FileRejected(f"missing required column(s): {', '.join(missing)}")
    return {c: normalised[c] for c in models.contract_columns(kind) if c in normalised}


def _quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_lists(kind: str, columns: list[str], mapping: dict[str, str],
                  ref) -> tuple[list[str], str, list[object]]:
    """SELECT expressions for the contract columns and the JSON object of the others.

    `ref(i)` is the SQL reference of delivered column i; header names are bound values.
    The JSON object is `extra_columns` (keyed by the header as delivered), or for
    applicants `attributes` (keyed by the header trimmed and lower-cased: which columns
    are characteristics is the configuration's business, matched case-insensitively).
    """
    position = {column: i for i, column in enumerate(columns)}
    select = [f"CAST({ref(position[mapping[c]])} AS VARCHAR)" if c in mapping else "NULL"
              for c in models.contract_columns(kind)]
    extras = [i for i, column in enumerate(columns) if column not in mapping.values()]
    if not extras:
        return select, "NULL", []
    pairs = ", ".join(f"?, CAST({ref(i)} AS VARCHAR)" for i in extras)
    keys = [columns[i].strip().lower() if kind == "applicants" else columns[i] for i in extras]
    return select, f"json_object({pairs})::VARCHAR", keys


def _json_column(kind: str) -> str:
    return "attributes" if kind == "applicants" else "extra_columns"


def _copy_parquet(con: duckdb.DuckDBPyConnection, path: Path, kind: str, file_id: int,
                  columns: list[str], mapping: dict[str, str]) -> int:
    types = [t for _, t, *_ in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                           [duckdb_path(path)]).fetchall()]

    def ref(i: int) -> str:
        # a typed instant becomes ISO 8601 text in UTC with a `Z` (docs/CONTRACT.md §1.2's
        # format; DuckDB's own text for it, `…+00`, is not an offset the contract parses)
        name = _quote_identifier(columns[i])
        if types[i].startswith("TIMESTAMP WITH TIME ZONE"):
            return f"strftime({name}, '%Y-%m-%dT%H:%M:%S.%fZ')"
        return name

    select, extra_sql, extra_params = _select_lists(kind, columns, mapping, ref)
    table = models.LANDED_ROW_MODELS[kind].__tablename__
    contract_cols = models.contract_columns(kind)
    # the 1-based row number is the reader's own file_row_number; a file that delivers a
    # column of that very name is numbered by the scan's ordinality instead
    if any(c.strip().lower() == "file_row_number" for c in columns):
        source, number = "read_parquet(?) WITH ORDINALITY", "ordinality"
    else:
        source, number = "read_parquet(?, file_row_number = true)", "file_row_number + 1"
    con.execute(
        f"INSERT INTO raw.{table} (file_id, row_number, {_json_column(kind)}, "
        f"{', '.join(contract_cols)}) "
        f"SELECT ?, {number}, {extra_sql}, {', '.join(select)} FROM {source}",
        [file_id, *extra_params, duckdb_path(path)],
    )
    return con.execute(f"SELECT count(*) FROM raw.{table} WHERE file_id = ?", [file_id]).fetchone()[0]


_MALFORMED_REASON = """
    'malformed CSV row: ' || string_agg(DISTINCT CASE error_type
        WHEN 'MISSING COLUMNS' THEN 'too few fields'
        WHEN 'TOO MANY COLUMNS' THEN 'too many fields'
        WHEN 'UNQUOTED VALUE' THEN 'unterminated or stray quote'
        WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line longer than 16 MiB'
        WHEN 'INVALID ENCODING' THEN 'not valid UTF-8'
        WHEN 'INVALID UNICODE' THEN 'not valid UTF-8'
        ELSE lower(error_type) END, ', ')"""


def _copy_csv(con: duckdb.DuckDBPyConnection, path: Path, kind: str, file_id: int, file_name: str,
              columns: list[str], mapping: dict[str, str], scan: FileScan) -> int:
    """Well-formed records → raw rows; malformed ones → quality.rejected_rows. Returns the
    number of data rows delivered (both together).

    1. DuckDB reads the file in parallel with a fixed dialect; records it cannot split
       into the header's fields are skipped and listed (line = record number) in a
       rejects table. Loaded rows get their ordinal among loaded rows.
    2. If the file may hold blank lines (DuckDB skips those silently), they are located
       (`_find_blank_records`) so that they keep their place as rows.
    3. Ordinals are turned into record numbers: the k-th loaded row is record
       k + (number of skipped records before it), computed with an ASOF join.
    """
    n = len(columns)
    table = models.LANDED_ROW_MODELS[kind].__tablename__
    contract_cols = models.contract_columns(kind)
    select, extra_sql, extra_params = _select_lists(kind, columns, mapping, lambda i: f"c{i}")
    where = duckdb_path(path)
    _drop_scratch(con)
    con.execute(
        f"INSERT INTO raw.{table} (file_id, row_number, {_json_column(kind)}, "
        f"{', '.join(contract_cols)}) "
        f"SELECT ?, ordinality, {extra_sql}, {', '.join(select)} "
        f"FROM {_csv_reader(n, 'funnel_rejects')} WITH ORDINALITY",
        [file_id, *extra_params, where],
    )
    con.execute(
        f"CREATE TEMP TABLE funnel_malformed AS "
        f"SELECT line - 1 AS row_number, {_MALFORMED_REASON} AS reason, "
        f"       json_object('raw_line', ltrim(arg_min(csv_line, column_idx), chr(13) || chr(10)), "
        f"                   'line_starts_at_byte', min(line_byte_position), "
        f"                   'fields_expected', ?::INTEGER)::VARCHAR AS row_data "
        f"FROM funnel_rejects GROUP BY line", [n])
    con.execute(
        "INSERT INTO quality.rejected_rows "
        "(file_id, row_number, kind, file_name, reason, row_data, rejected_at, rejected_by) "
        "SELECT ?, row_number, ?, ?, reason, row_data, now(), 'landing' FROM funnel_malformed",
        [file_id, kind, file_name])
    con.execute("CREATE TEMP TABLE funnel_skipped AS SELECT row_number FROM funnel_malformed")
    if scan.may_have_blank_lines and n > 1:
        _find_blank_records(con, path, where, table, file_id)
        con.execute("INSERT INTO funnel_skipped SELECT row_number FROM funnel_blank")
    if con.execute("SELECT count(*) FROM funnel_skipped").fetchone()[0]:
        _number_gaps(con, "SELECT row_number FROM funnel_skipped")
        con.execute(
            f"UPDATE raw.{table} AS r SET row_number = m.new_number "
            f"FROM (SELECT x.row_number AS ordinal, x.row_number + g.j AS new_number "
            f"      FROM raw.{table} AS x ASOF JOIN funnel_gaps AS g ON x.row_number > g.c "
            f"      WHERE x.file_id = ?) AS m "
            f"WHERE r.file_id = ? AND r.row_number = m.ordinal", [file_id, file_id])
    if scan.may_have_blank_lines and n > 1:
        # a blank line is a row whose every field is blank (the core rules reject it)
        con.execute(f"INSERT INTO raw.{table} (file_id, row_number) "
                    f"SELECT ?, row_number FROM funnel_blank", [file_id])
    loaded = con.execute(f"SELECT count(*) FROM raw.{table} WHERE file_id = ?", [file_id]).fetchone()[0]
    malformed = con.execute("SELECT count(*) FROM funnel_malformed").fetchone()[0]
    return loaded + malformed


def _find_blank_records(con: duckdb.DuckDBPyConnection, path: Path, where: str, table: str,
                        file_id: int) -> None:
    """funnel_blank(row_number): the blank records of a CSV file DuckDB skipped.

    Fast path: a vectorised (numpy) pass finds the line feeds outside quoted fields by
    quote parity, and with them the records and which are blank. It is trusted only if
    its record count agrees with DuckDB's (loaded + malformed + blank); it can disagree
    when a stray quote sits inside an unquoted field. Then the exact, slower path runs:
    DuckDB reads the file again with one column, where blank lines are rows and every
    other record but one-field ones is listed with its number in a rejects table.
    """
    blanks, records = _blank_records_by_parity(path)
    loaded = con.execute(f"SELECT count(*) FROM raw.{table} WHERE file_id = ?", [file_id]).fetchone()[0]
    malformed = con.execute("SELECT count(*) FROM funnel_malformed").fetchone()[0]
    malformed_rows = {r for (r,) in con.execute("SELECT row_number FROM funnel_malformed").fetchall()}
    blanks = [b for b in blanks if b not in malformed_rows]
    con.execute("CREATE TEMP TABLE funnel_blank (row_number BIGINT)")
    if records == loaded + malformed + len(blanks):
        if blanks:
            con.execute("INSERT INTO funnel_blank SELECT unnest(?::BIGINT[])", [blanks])
        return
    con.execute(
        f"CREATE TEMP TABLE funnel_single AS SELECT ordinality AS ordinal "
        f"FROM {_csv_reader(1, 'funnel_rejects_1')} WITH ORDINALITY", [where])
    _number_gaps(con, "SELECT DISTINCT line - 1 AS row_number FROM funnel_rejects_1")
    con.execute(
        "INSERT INTO funnel_blank "
        "SELECT s.ordinal + coalesce(g.j, 0) FROM funnel_single AS s "
        "ASOF LEFT JOIN funnel_gaps AS g ON s.ordinal > g.c "
        "EXCEPT SELECT row_number FROM funnel_malformed")


def _blank_records_by_parity(path: Path, block: int = 1 << 22) -> tuple[list[int], int]:
    """(blank data-row numbers, number of data records) by RFC 4180 quote parity.

    A line feed ends a record when an even number of quote characters precede it; a
    record is blank when nothing (or only a carriage return) lies between two such line
    feeds. Record 0 is the header, so record k is data row k.
    """
    import numpy as np

    blanks: list[int] = []
    parity = 0
    last_end = -1  # offset of the previous record-ending line feed
    prev_byte = -1
    records = 0
    base = 0
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            arr = np.frombuffer(chunk, dtype=np.uint8)
            quotes = np.cumsum(arr == 34, dtype=np.int64)
            inside = ((quotes + parity) & 1).astype(bool)
            ends = np.flatnonzero((arr == 10) & ~inside)
            parity = int((quotes[-1] + parity) & 1)
            if len(ends):
                offsets = ends + base
                previous = np.concatenate(([last_end], offsets[:-1]))
                before = np.where(ends > 0, arr[np.maximum(ends - 1, 0)], prev_byte)
                gap = offsets - previous
                blank = (gap == 1) | ((gap == 2) & (before == 13))
                numbers = records + np.arange(len(ends))
                blanks.extend(int(k) for k in numbers[blank] if k > 0)
                records += len(ends)
                last_end = int(offsets[-1])
            prev_byte = int(arr[-1])
            base += len(chunk)
            size = base
    if size and last_end != size - 1:
        records += 1  # a last record without a final line feed
    return blanks, max(records - 1, 0)


def _number_gaps(con: duckdb.DuckDBPyConnection, skipped_sql: str) -> None:
    """funnel_gaps(c, j) from skipped record numbers s_1 < s_2 < …: c = s_j - j is how many
    loaded rows precede s_j; the k-th loaded row is record k + max{j : c_j < k}."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE funnel_gaps AS "
        "SELECT row_number - j AS c, max(j) AS j FROM ("
        f"  SELECT row_number, row_number() OVER (ORDER BY row_number) AS j FROM ({skipped_sql})"
        ") GROUP BY ALL")


def _drop_scratch(con: duckdb.DuckDBPyConnection) -> None:
    for name in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _describe_read_error(exc: Exception, fmt: str) -> str:
    """A reason an auditor can act on, without echoing file content (values may be personal)."""
    text = str(exc)
    lower = text.lower()
    line = re.search(r"line[: ]+(\d+)", text, re.IGNORECASE)
    where = f" near line {line.group(1)}" if line else ""
    if "unicode" in lower or "utf-8" in lower or "utf8" in lower or "encoding" in lower:
        return f"not valid UTF-8 text{where} (save the file as UTF-8)"
    if fmt == "parquet":
        return "not a readable Parquet file"
    if "invalid state" in lower:
        return ("malformed CSV: mixed line endings or a carriage return outside quotes "
                "(use LF or CRLF throughout the file)")
    if "no data" in lower or "empty" in lower or "columns" in lower and "0" in lower:
        return "empty file: no header row"
    if "expected" in lower and "column" in lower or "too many" in lower or "value" in lower and "columns" in lower:
        return f"malformed CSV: a row has the wrong number of fields{where}"
    if "quote" in lower:
        return f"malformed CSV: unterminated or stray quote{where}"
    if "maximum line size" in lower or "max_line_size" in lower:
        return f"malformed CSV: a line longer than 16 MiB{where}"
    return f"unreadable {fmt.upper()}{where}"


def _next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM raw.landing_files").fetchone()[0]


def _insert_manifest(con: duckdb.DuckDBPyConnection, values: dict[str, object]) -> int:
    file_id = _next_file_id(con)
    row = {"file_id": file_id, "rows_delivered": 0, **values}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(
        f"INSERT INTO raw.landing_files ({columns}, discovered_at) VALUES ({marks}, now())",
        list(row.values()),
    )
    return file_id


def _record_failure(con: duckdb.DuckDBPyConnection, base: dict[str, object], reason: str,
                    path: Path | None = None) -> str:
    values = {**base, "status": "failed", "reason": reason}
    if path is not None and "sha256" not in values:
        try:
            values.update(sha256=sha256_of(path), size_bytes=path.stat().st_size)
        except OSError:
            pass
    with transaction(con):
        _insert_manifest(con, values)
    return "failed"
