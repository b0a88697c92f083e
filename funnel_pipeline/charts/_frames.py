"""Reading the marts frames the chart builders receive.

The builders take pandas frames shaped exactly like the marts (docs/CONTRACT.md sections 5
and 7) so they can be fed from DuckDB, from a CSV fixture or from a hand-made test frame
alike. This module checks the shape once, turns NULL/NaN into `None` (what Plotly
expects for "no value") and works out group sizes, on which the "too small to read"
rule depends.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import pandas as pd

RATES_COLUMNS: tuple[str, ...] = (
    "characteristic",
    "group_name",
    "stage",
    "stage_order",
    "entered",
    "passed",
    "failed",
    "withdrawn",
    "pending",
    "pass_rate",
    "pass_rate_ci_low",
    "pass_rate_ci_high",
    "cumulative_pass_rate",
    "reference_group",
    "adverse_impact_ratio",
    "fisher_p_value",
    "flagged",
)


def require_columns(frame: pd.DataFrame, *leading: str) -> None:
    """Fail early and by name when a frame is not shaped like the mart it claims to be."""
    missing = [c for c in (*leading, *RATES_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(f"chart input lacks mart columns: {', '.join(missing)}")


def select(frame: pd.DataFrame, characteristic: str, **equal: str) -> pd.DataFrame:
    """Rows of one characteristic (and optional equal-column filters), in stage order."""
    mask = frame["characteristic"] == characteristic
    for column, value in equal.items():
        mask &= frame[column] == value
    return frame.loc[mask].sort_values("stage_order", kind="stable").reset_index(drop=True)


def num(value: object) -> float | None:
    """A float, or None for SQL NULL / NaN / pandas NA."""
    if value is None or pd.isna(value):  # type: ignore[arg-type]
        return None
    return float(value)  # type: ignore[arg-type]


def count(value: object) -> int:
    """Counts are never NULL in the contract; be lenient anyway (NULL → 0)."""
    v = num(value)
    return 0 if v is None else int(v)


def is_true(value: object) -> bool:
    """`flagged` may arrive as bool, numpy bool, pandas NA or a CSV string."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[arg-type]
        return False
    if isinstance(value, str):
        return value.strip().lower() in {"true", "t", "1", "yes"}
    return bool(value)


def applications(frame: pd.DataFrame, keys: Sequence[str] = ("group_name",)) -> dict[Hashable, int]:
    """Applications per group (per segment when `keys` has more): `entered` at stage 1.

    The contract defines a group's applications as those with an `application` outcome,
    which is exactly `entered` at stage 1 (pending is 0 there). A group with no stage-1
    row (should not happen) falls back to its largest `entered`.
    """
    keys = list(keys)
    if frame.empty:
        return {}
    fallback = frame.groupby(keys, sort=False)["entered"].max()
    first = frame.loc[frame["stage_order"] == 1].groupby(keys, sort=False)["entered"].max()
    sizes = fallback.copy()
    sizes.loc[first.index] = first
    out: dict[Hashable, int] = {}
    for key, value in sizes.items():
        out[key] = count(value)
    return out


def reference_of(frame: pd.DataFrame) -> str | None:
    """The characteristic's reference group, as the mart states it."""
    refs = frame["reference_group"].dropna()
    return str(refs.iloc[0]) if len(refs) else None
