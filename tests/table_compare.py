"""Row-set comparison helpers for the acceptance-style tests.

Tables come from different places (DuckDB via pandas, the oracle, CSV files with
empty cells for NULL), so values are normalised before comparing: numbers compare
numerically (ints vs floats, absolute tolerance for floats), NULL-likes (None, NaN,
pandas NA/NaT) are one value, booleans accept ``True``/``"true"``/``"False"``/1/0.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_TRUE = {"true", "t"}
_FALSE = {"false", "f"}


def _is_null(v: Any) -> bool:
    """None, NaN, pandas NA/NaT and the empty string all mean NULL."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str) and v == "":
        return True
    try:  # pandas.NA / NaT without importing pandas
        return type(v).__name__ in ("NAType", "NaTType")
    except Exception:  # noqa: BLE001
        return False


def _as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if type(v).__name__ == "bool_":  # numpy.bool_
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    return None


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or _as_bool(v) is not None and isinstance(v, str):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if hasattr(v, "__float__") and not isinstance(v, str):  # numpy / Decimal
        try:
            return float(v)
        except (TypeError, ValueError):
            return None
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def values_equal(a: Any, b: Any, tol: float = 1e-9) -> bool:
    """Equality used for one cell: NULL-aware, bool-robust, numeric with tolerance."""
    if _is_null(a) or _is_null(b):
        return _is_null(a) and _is_null(b)
    ba, bb = _as_bool(a), _as_bool(b)
    if ba is not None or bb is not None:
        if ba is not None and bb is not None:
            return ba == bb
        # one side a bool, the other 0/1
        na = float(ba) if ba is not None else _as_number(a)
        nb = float(bb) if bb is not None else _as_number(b)
        return na is not None and nb is not None and na == nb
    na, nb = _as_number(a), _as_number(b)
    if na is not None and nb is not None:
        if math.isinf(na) or math.isinf(nb):
            return na == nb
        return abs(na - nb) <= tol
    return str(a) == str(b)


def _key_value(v: Any) -> Any:
    """Hashable, normalised key cell, so "3" and 3 and 3.0 land on the same key."""
    if _is_null(v):
        return None
    b = _as_bool(v)
    if b is not None:
        return b
    n = _as_number(v)
    if n is not None:
        return n
    return str(v)


def _row_key(row: dict[str, Any], keys: list[str]) -> tuple:
    return tuple(_key_value(row.get(k)) for k in keys)


def _fmt(row: dict[str, Any], cols: Iterable[str]) -> str:
    return ", ".join(f"{c}={row.get(c)!r}" for c in cols)


def assert_tables_match(
    actual_rows: list[dict[str, Any]],
    expected_rows: list[dict[str, Any]],
    keys: list[str],
    tol: float = 1e-9,
    *,
    max_report: int = 10,
) -> None:
    """Assert two tables hold the same rows (matched on ``keys``) and the same values.

    Every column of the expected rows must be present in the actual rows (extra
    actual columns are an error too, so a renamed column is caught). Order is not
    compared; compare ``[_row_key]`` lists separately when order matters. The
    failure message lists missing/unexpected keys and the first differing cells.
    """
    problems: list[str] = []
    exp_cols = list(expected_rows[0].keys()) if expected_rows else []
    act_cols = list(actual_rows[0].keys()) if actual_rows else []
    if expected_rows and actual_rows and set(exp_cols) != set(act_cols):
        problems.append(
            f"columns differ: missing {sorted(set(exp_cols) - set(act_cols))}, "
            f"unexpected {sorted(set(act_cols) - set(exp_cols))}"
        )

    def index(rows: list[dict[str, Any]], label: str) -> dict[tuple, dict[str, Any]]:
        out: dict[tuple, dict[str, Any]] = {}
        for r in rows:
            k = _row_key(r, keys)
            if k in out:
                problems.append(f"duplicate key in {label}: {dict(zip(keys, k))}")
            out[k] = r
        return out

    act, exp = index(actual_rows, "actual"), index(expected_rows, "expected")
    missing = [k for k in exp if k not in act]
    extra = [k for k in act if k not in exp]
    if missing:
        problems.append(
            f"{len(missing)} expected row(s) missing, e.g. "
            + "; ".join(str(dict(zip(keys, k))) for k in missing[:max_report])
        )
    if extra:
        problems.append(
            f"{len(extra)} unexpected row(s), e.g. "
            + "; ".join(str(dict(zip(keys, k))) for k in extra[:max_report])
        )

    diffs: list[str] = []
    n_diff_rows = 0
    cols = exp_cols or act_cols
    for k, e in exp.items():
        a = act.get(k)
        if a is None:
            continue
        bad = [c for c in cols if not values_equal(a.get(c), e.get(c), tol)]
        if bad:
            n_diff_rows += 1
            if len(diffs) < max_report:
                diffs.append(
                    f"  key {dict(zip(keys, k))}:\n"
                    + "\n".join(f"    {c}: actual={a.get(c)!r} expected={e.get(c)!r}" for c in bad)
                )
    if n_diff_rows:
        problems.append(f"{n_diff_rows} row(s) differ (tol={tol}):\n" + "\n".join(diffs))
    if len(actual_rows) != len(expected_rows) and not (missing or extra):
        problems.append(
            f"row counts differ: actual {len(actual_rows)} vs expected {len(expected_rows)}"
        )
    if problems:
        raise AssertionError(
            f"tables differ (keys={keys}, {len(actual_rows)} actual vs "
            f"{len(expected_rows)} expected rows):\n" + "\n".join(problems)
        )


def assert_same_order(
    actual_rows: list[dict[str, Any]], expected_rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """Assert the rows come in the same order (by their normalised key columns)."""
    a = [_row_key(r, keys) for r in actual_rows]
    e = [_row_key(r, keys) for r in expected_rows]
    if a != e:
        first = next((i for i, (x, y) in enumerate(zip(a, e)) if x != y), min(len(a), len(e)))
        raise AssertionError(
            f"row order differs at position {first}:\n  actual:   "
            + "\n            ".join(str(dict(zip(keys, k))) for k in a[first : first + 3])
            + "\n  expected: "
            + "\n            ".join(str(dict(zip(keys, k))) for k in e[first : first + 3])
        )


def _parse_cell(v: str) -> Any:
    """CSV cell → Python: empty → None, int/float when numeric, else the text.

    Booleans stay text (``"True"``); :func:`values_equal` compares them robustly.
    """
    if v == "":
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
    except ValueError:
        return v
    # Keep textual ids like "nan"/"inf" as text; real data never spells them.
    return v if math.isnan(f) or math.isinf(f) else f


def load_expected_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read an expected-table CSV (UTF-8, BOM tolerated): empty cell = None, numbers parsed."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]
