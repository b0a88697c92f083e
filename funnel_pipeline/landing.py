"""Landing folder → manifest + raw row tables (CONTRACT.md section 1).

Each file the folder holds is recorded once in `raw.landing_files` (name, size, SHA-256,
status, rows). A run loads only files it has not recorded before, each inside its own
transaction, so a crash mid-file leaves no half-loaded file and the next run retries it.
Rows are copied by DuckDB's own readers (`read_csv`/`read_parquet`) with the path bound
as a parameter; every value is kept as delivered text and columns beyond the contract
go into a JSON object, so nothing delivered is lost.

Policies (documented in README "Landing rules"):
- kind by file name prefix (`events…`, `applicants…`, …), format by extension
  (`.csv`, `.parquet`), both case-insensitive; other names are recorded as failed;
- dot-files and in-flight names (`*.tmp`, `*.part`, `~$…`) are skipped, not recorded:
  senders should write under such a name and rename when complete;
- symbolic links and directories are recorded as failed and not followed;
- CSV must be UTF-8 (a byte-order mark is fine): other encodings fail the whole file;
- identical bytes under a new name load normally and are marked `duplicate` of the
  first file (identical event rows then count once; an applicants re-send still wins
  by name order, as the contract says);
- a file that failed because it could not be read at all (I/O error) is retried on
  the next run; a file that failed on its content is not (files never change).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from funnel_pipeline import models
from funnel_pipeline.warehouse import transaction

#: landing-file kinds and the columns each requires (CONTRACT.md sections 1 and 6)
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"),
    "applicants": ("applicant_id",),
    "campaigns": ("campaign_id", "entry_route"),
    "population": ("characteristic", "group_name", "population_share"),
    "interventions": ("intervention_id", "name", "started_on"),
}
FORMATS = {".csv": "csv", ".parquet": "parquet"}
_IN_FLIGHT = re.compile(r"(^\.|^~\$|\.(tmp|part|partial|crdownload)$)", re.IGNORECASE)
#: reserved name of the row-number column we add while reading (never a delivered header)
_ROW_NUMBER = "__funnel_row_number__"


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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def ingest_landing_folder(con: duckdb.DuckDBPyConnection, landing_dir: Path,
                          run_id: str | None = None) -> IngestSummary:
    """Record and load every file not loaded before. Idempotent."""
    summary = IngestSummary()
    known = dict(con.execute(
        "SELECT file_name, status = 'failed' AND reason LIKE 'unreadable:%' FROM raw.landing_files"
    ).fetchall())
    for path in list_landing(landing_dir):
        summary.files_seen += 1
        retry = known.get(path.name)
        if path.name in known and not retry:
            continue
        summary.files_new += 1
        status, reason, kind = _load_one(con, path, run_id, retry=bool(retry))
        if status == "failed":
            summary.failed += 1
            summary.failures.append((path.name, reason or ""))
        elif status == "duplicate":
            summary.duplicates += 1
        else:
            summary.loaded += 1
    summary.rows_by_kind = dict(con.execute(
        "SELECT kind, sum(rows_delivered)::BIGINT FROM raw.landing_files GROUP BY kind ORDER BY kind"
    ).fetchall())
    return summary


def _load_one(con: duckdb.DuckDBPyConnection, path: Path, run_id: str | None,
              retry: bool) -> tuple[str, str | None, str]:
    name = path.name
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
        digest = sha256_of(path)
        size = path.stat().st_size
    except OSError as exc:
        reason = f"unreadable: {exc.strerror or type(exc).__name__}"
        return _record_failure(con, base, reason), reason, kind
    base.update(sha256=digest, size_bytes=size)
    try:
        columns = _delivered_columns(con, path, fmt)
        mapping = _map_columns(columns, kind)
    except _FileRejected as exc:
        return _record_failure(con, base, str(exc)), str(exc), kind
    duplicate_of = con.execute(
        "SELECT min(file_name) FROM raw.landing_files WHERE sha256 = ? AND status <> 'failed'", [digest]
    ).fetchone()[0]
    status = "duplicate" if duplicate_of else "loaded"
    try:
        with transaction(con):
            file_id = _insert_manifest(con, {**base, "status": status, "duplicate_of": duplicate_of,
                                             "columns_delivered": json.dumps(columns)})
            rows = _copy_rows(con, path, fmt, kind, file_id, columns, mapping)
            con.execute("UPDATE raw.landing_files SET rows_delivered = ? WHERE file_id = ?", [rows, file_id])
    except duckdb.Error as exc:
        reason = _describe_read_error(exc, fmt)
        return _record_failure(con, base, reason), reason, kind
    return status, None, kind


class _FileRejected(Exception):
    """The file as a whole cannot be loaded (reason is safe to show: no row values)."""


def _reader(fmt: str) -> str:
    if fmt == "csv":
        # Everything as text; RFC 4180 quoting; header required; strict UTF-8.
        return ("read_csv(?, all_varchar = true, header = true, delim = ',', quote = '\"', "
                "escape = '\"', encoding = 'utf-8', strict_mode = true, null_padding = false, "
                "max_line_size = 16777216)")
    return "read_parquet(?, file_row_number = true)"


def _delivered_columns(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> list[str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {_reader(fmt)}", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise _FileRejected(_describe_read_error(exc, fmt)) from exc
    columns = [r[0] for r in rows]
    if fmt == "parquet":
        columns = [c for c in columns if c != "file_row_number"]
    return columns


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


def _copy_rows(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, kind: str, file_id: int,
               columns: list[str], mapping: dict[str, str]) -> int:
    contract_cols = models.contract_columns(kind)
    extras = [c for c in columns if c not in mapping.values()]
    select = [
        f"CAST({_quote_identifier(mapping[c])} AS VARCHAR)" if c in mapping else "NULL"
        for c in contract_cols
    ]
    params: list[object] = [file_id]
    if extras:
        pairs = []
        for column in extras:
            pairs.append(f"?, CAST({_quote_identifier(column)} AS VARCHAR)")
            params.append(column)
        extra_sql = "json_object(" + ", ".join(pairs) + ")::VARCHAR"
    else:
        extra_sql = "NULL"
    params.append(str(path))
    row_number = (f"row_number() OVER () AS {_ROW_NUMBER}" if fmt == "csv"
                  else f"file_row_number + 1 AS {_ROW_NUMBER}")
    table = models.LANDED_ROW_MODELS[kind].__tablename__
    sql = (
        f"INSERT INTO raw.{table} (file_id, row_number, extra_columns, {', '.join(contract_cols)}) "
        f"SELECT ?, {_ROW_NUMBER}, {extra_sql}, {', '.join(select)} "
        f"FROM (SELECT {row_number}, * FROM {_reader(fmt)})"
    )
    con.execute(sql, params)
    return con.execute(
        f"SELECT count(*) FROM raw.{table} WHERE file_id = ?", [file_id]
    ).fetchone()[0]


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
