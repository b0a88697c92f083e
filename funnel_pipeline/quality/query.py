"""Bind values into a batch query for a GX query asset.

Why this exists: a GX query asset takes SQL *text* (it must start with ``SELECT``) and
has no way to carry bound parameters. A nightly run still needs to say "the rows of
these files" (``select * from raw.event_rows where file_id in :file_ids``). Rather than
letting callers format values into SQL, this module renders a small, closed set of
Python types as DuckDB literals, with strict quoting, and refuses everything else.

Placeholders are ``:name`` as in SQLAlchemy ``text()`` (``::`` casts are left alone). A
list/tuple/set renders as a parenthesised list, so write ``col in :ids``; an empty one
renders as an empty subquery, keeping both ``in`` (false) and ``not in`` (true) right.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

# the same placeholder rule as SQLAlchemy's text(): not after ':' / word char / backslash
_PLACEHOLDER = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
_EMPTY_LIST = "(SELECT NULL WHERE FALSE)"


def _scalar(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("query parameters must be finite numbers")
        return repr(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("query parameters must be finite numbers")
        return str(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("query parameters must not contain NUL characters")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo is not None else "TIMESTAMP"
        return f"{kind} '{value.isoformat()}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    raise TypeError(f"unsupported query parameter type {type(value).__name__}")


def literal(value: Any) -> str:
    """One value (or a list/tuple/set of values) as DuckDB SQL."""
    if isinstance(value, (list, tuple, AbstractSet)):
        items = sorted(value, key=repr) if isinstance(value, AbstractSet) else list(value)
        return "(" + ", ".join(_scalar(v) for v in items) + ")" if items else _EMPTY_LIST
    return _scalar(value)


def bind(query: str, params: Mapping[str, Any] | None = None) -> str:
    """``query`` with every ``:name`` replaced by ``params[name]`` rendered as a literal.

    Raises ``KeyError`` for a placeholder without a value and ``ValueError`` for a value
    no placeholder uses (a typo would otherwise validate the wrong rows silently).
    """
    params = dict(params or {})
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise KeyError(f"query placeholder :{name} has no value in query_params")
        used.add(name)
        return literal(params[name])

    rendered = _PLACEHOLDER.sub(replace, query)
    unused = set(params) - used
    if unused:
        raise ValueError(f"query_params not used by the query: {sorted(unused)}")
    return rendered
