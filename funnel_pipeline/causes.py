"""What went wrong, in words a data engineer can act on, and safe to send anywhere.

Why: a run that ends with "step failed: landing_files: Exceeded max_retries of 2" after
eight minutes tells nobody that the DuckDB file was open in a notebook. The cause is
deep in Dagster's error chain (retry wrapper → step error → our exception → DuckDB's).
`describe_failure` walks that chain and turns the causes we know into one sentence
with the fix ("funnel.duckdb is open in another process (PID 3754): close it and
rerun"); anything else becomes the first line of the deepest error, scrubbed.

`scrub` is the one place that decides what of an error message may leave the machine
(failure alerts, the CLI's last line): error texts can quote data (a DuckDB conversion
error quotes the value it could not convert), so quoted text, e-mail addresses and
tokens that carry digits are replaced; stack traces never leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_MESSAGE_CHARS = 200
_QUOTED = re.compile(r"'[^']*'?|\"[^\"]*\"?|`[^`]*`?")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
#: any run of non-space characters of 5 or more holding a digit: ids, dates, values
_DIGITS = re.compile(r"[^\s,;:()\[\]{}<>=]*\d[^\s,;:()\[\]{}<>=]*")
_PID = re.compile(r"\(PID (\d+)\)")


class FunnelError(Exception):
    """An error whose message we wrote for people: it names files, keys and fixes but
    never quotes data, so it is shown as it is (not scrubbed)."""


def _own_error_names() -> set[str]:
    names, todo = set(), [FunnelError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


def scrub(message: str | None) -> str:
    """First line only, without quoted text, addresses or digit-bearing tokens; truncated."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    line = _QUOTED.sub("'…'", line)
    line = _EMAIL.sub("<email>", line)
    line = _DIGITS.sub(lambda m: m.group(0) if len(m.group(0)) < 5 else "<value>", line)
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 1] + "…"
    return line


def error_chain(error: Any) -> Iterator[tuple[str, str]]:
    """(class name, message) of a Dagster `SerializableErrorInfo` and every cause and
    context under it, outermost first."""
    seen: set[int] = set()
    stack = [error]
    while stack:
        info = stack.pop(0)
        if info is None or id(info) in seen:
            continue
        seen.add(id(info))
        yield (getattr(info, "cls_name", None) or "Error"), (getattr(info, "message", None) or "")
        stack += [getattr(info, "cause", None), getattr(info, "context", None)]


def explain(messages: list[str], duckdb_path: Path | str | None = None) -> str | None:
    """One sentence with the fix for a cause we recognise in these messages, else None."""
    text = "\n".join(messages)
    lower = text.lower()
    db = Path(duckdb_path).name if duckdb_path else "the DuckDB file"
    if "conflicting lock" in lower or "locked by another process" in lower:
        pid = _PID.search(text)
        holder = f"another process (PID {pid.group(1)})" if pid else "another process"
        return (f"{db} is open in {holder}: close it (or wait for that run to finish) "
                "and rerun")
    if "no space left on device" in lower or "disk quota" in lower:
        return (f"the disk holding {db} or DuckDB's temp folder is full (No space left on "
                "device): free some space and rerun; nothing of the failed step was kept")
    if "read-only file system" in lower or "permission denied" in lower:
        return (f"{db} or its folder cannot be written (permission denied / read-only): "
                "fix the permissions of FUNNEL_DUCKDB_PATH's folder and rerun")
    if "out of memory" in lower:
        return ("DuckDB ran out of memory: raise FUNNEL_DUCKDB_MEMORY_LIMIT or point "
                "FUNNEL_DUCKDB_TEMP_DIR at a folder with free space, then rerun")
    return None


def describe_failure(error: Any, duckdb_path: Path | str | None = None) -> str:
    """The cause of a failed step in one line: a known cause with its fix, else the
    first line of the deepest error that is not Dagster's own wrapper (scrubbed)."""
    chain = list(error_chain(error))
    known = explain([m for _, m in chain], duckdb_path)
    if known:
        return known
    ours = _own_error_names()
    for cls_name, message in reversed(chain):
        if cls_name in ours:
            first = (message.strip().splitlines() or [""])[0]
            return first.removeprefix(f"{cls_name}: ")
    own = [(c, m) for c, m in chain if not c.startswith("Dagster") and "RetryRequested" not in c]
    cls_name, message = (own or chain or [("Error", "")])[-1]
    return f"{cls_name}: {scrub(message.removeprefix(f'{cls_name}: '))}"
