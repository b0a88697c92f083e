"""What one expectation concluded, reduced to aggregates that are safe to keep.

Why a separate type: GX results carry row values (``partial_unexpected_list``,
``unexpected_index_list``, distinct-value lists, database error text quoting a bad
value). Everything downstream (Dagster check metadata, ``quality.validation_results``,
the auditor report) sees only an ``ExpectationOutcome``, built from an allow-list of
fields, so no applicant value can travel further than the GX call.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

#: expectations whose string observed_value is a type name, not a row value
_TYPE_NAME_OBSERVED = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)
# a traceback line naming an exception: "pkg.mod.SomeError: message"
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Warning|Exit)\w*):\s")


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one batch: counts and aggregates, never row values."""

    run_id: str
    validated_at: dt.datetime
    suite: str
    batch: str  # "schema.table" or "query"
    check_name: str
    expectation_type: str
    columns: tuple[str, ...]
    severity: str  # "error" (blocking) or "warn"
    success: bool
    description: str
    #: numeric aggregate (row count, max, mean, …) or a type name; never a list of values
    observed_value: float | int | str | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    #: exception class only, when the expectation could not be evaluated (messages can
    #: quote data, e.g. DuckDB's "Could not convert string '…'")
    error: str | None = None
    #: the run-time threshold(s) it applied, as text ("max_value 0.05"), from settings
    #: or the configuration, never from data
    threshold: str | None = None

    @property
    def nothing_to_check(self) -> bool:
        """The batch had no rows (no new file): a pass on nothing, not evidence."""
        return self.element_count == 0

    @property
    def blocking_failure(self) -> bool:
        return not self.success and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def safe_observed(expectation_type: str, value: Any) -> float | int | str | None:
    """Keep an observed value only when it is a number (or a column type name)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str) and expectation_type in _TYPE_NAME_OBSERVED:
        return value
    return None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def error_class(exception_info: Any) -> str | None:
    """The exception class name(s) GX recorded, without their (data-bearing) messages."""
    infos: list[dict[str, Any]] = []
    if isinstance(exception_info, dict):
        if "raised_exception" in exception_info:
            infos = [exception_info]
        else:
            infos = [v for v in exception_info.values() if isinstance(v, dict)]
    names: list[str] = []
    for info in infos:
        if not info.get("raised_exception"):
            continue
        found = [
            match.group(1).rsplit(".", 1)[-1]
            for line in (info.get("exception_traceback") or "").splitlines()
            if (match := _EXC_LINE.match(line))
        ]
        if not found:
            name = "Exception"
        elif found[0] == found[-1]:
            name = found[-1]
        else:  # the GX wrapper and the root cause, e.g. "MetricResolutionError (ConversionException)"
            name = f"{found[-1]} ({found[0]})"
        if name not in names:
            names.append(name)
    return "; ".join(names) or None


def counts_from_result(expectation_type: str, result: dict[str, Any]) -> dict[str, Any]:
    """The allow-listed numbers of a GX ``result`` dict."""
    observed = safe_observed(expectation_type, result.get("observed_value"))
    unexpected_count = _int(result.get("unexpected_count"))
    if expectation_type == "unexpected_rows_expectation" and unexpected_count is None:
        unexpected_count = _int(observed)  # its observed value is the bad-row count
    return {
        "observed_value": observed,
        "element_count": _int(result.get("element_count")),
        "unexpected_count": unexpected_count,
        "unexpected_percent": _float(result.get("unexpected_percent")),
    }
