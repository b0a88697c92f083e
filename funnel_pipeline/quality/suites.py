"""Expectation suites as versioned JSON files, checked for the meta every check needs.

Why files: a suite is reviewed like code (diffs in pull requests) and the same file
drives both the Great Expectations run and the Dagster asset-check declarations.

Two readers on purpose:
- ``check_specs`` / ``read_suite_json`` parse the JSON only. Dagster definitions use
  them to declare one asset check per expectation without importing GX (~5 s).
- ``load_suite`` builds the GX ``ExpectationSuite`` (imports GX lazily) for a run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SUITES_PACKAGE = "funnel_pipeline.expectations"
SEVERITIES = ("error", "warn")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: kwargs that name the column(s) an expectation looks at
_COLUMN_KWARGS = ("column", "column_A", "column_B")


class SuiteFormatError(ValueError):
    """A suite file is missing, malformed, or lacks the meta every check needs."""


@dataclass(frozen=True)
class CheckSpec:
    """One expectation as a named check: what Dagster declares before anything runs."""

    suite: str
    check_name: str
    expectation_type: str
    columns: tuple[str, ...]
    severity: str
    description: str
    #: kwarg → the run-time ``$PARAMETER`` it reads (a threshold, the time window)
    parameters: tuple[tuple[str, str], ...] = ()

    @property
    def blocking(self) -> bool:
        return self.severity == "error"


def _suites_dir() -> Traversable | Path:
    """The installed ``funnel_pipeline.expectations`` package, else the checkout's folder.

    The fallback covers running from a source tree that is not pip-installed, where the
    top-level ``expectations/`` folder is not yet mapped under ``funnel_pipeline``.
    """
    try:
        return resources.files(SUITES_PACKAGE)
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "expectations"
        if checkout.is_dir():
            return checkout
        raise


def list_suites(directory: Path | None = None) -> list[str]:
    """Names of the suite files (``<name>.json``), sorted."""
    folder = directory if directory is not None else _suites_dir()
    return sorted(
        entry.name[: -len(".json")]
        for entry in folder.iterdir()
        if entry.name.endswith(".json") and entry.is_file()
    )


def read_suite_json(name: str, directory: Path | None = None) -> dict[str, Any]:
    """The suite file as a dict, after checking its name and every expectation's meta."""
    if not _NAME.match(name):
        raise SuiteFormatError(f"suite name {name!r} must be snake_case")
    folder = directory if directory is not None else _suites_dir()
    entry = folder.joinpath(f"{name}.json")
    if not entry.is_file():
        raise SuiteFormatError(f"no suite file {name}.json (known: {list_suites(directory)})")
    try:
        data = json.loads(entry.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SuiteFormatError(f"{name}.json is not valid JSON: {exc}") from exc
    if data.get("name") != name:
        raise SuiteFormatError(f"{name}.json has name {data.get('name')!r}; it must be {name!r}")
    specs_from_dict(data)  # raises on missing/invalid meta
    return data


def specs_from_dict(data: dict[str, Any]) -> list[CheckSpec]:
    """Check and extract each expectation's meta (shared by files and in-memory suites)."""
    suite = data.get("name") or "?"
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteFormatError(f"suite {suite}: 'expectations' must be a non-empty list")
    specs: list[CheckSpec] = []
    seen: set[str] = set()
    for i, exp in enumerate(expectations):
        meta = exp.get("meta") or {}
        where = f"suite {suite}, expectation {i} ({exp.get('type')})"
        check_name = meta.get("check_name")
        if not isinstance(check_name, str) or not _NAME.match(check_name):
            raise SuiteFormatError(f"{where}: meta.check_name must be snake_case")
        if check_name in seen:
            raise SuiteFormatError(f"{where}: duplicate check_name {check_name!r}")
        seen.add(check_name)
        if meta.get("severity") not in SEVERITIES:
            raise SuiteFormatError(f"{where}: meta.severity must be one of {SEVERITIES}")
        description = meta.get("description")
        if not isinstance(description, str) or not description.strip():
            raise SuiteFormatError(f"{where}: meta.description must be plain English text")
        specs.append(
            CheckSpec(
                suite=suite,
                check_name=check_name,
                expectation_type=str(exp.get("type")),
                columns=columns_of(exp.get("kwargs") or {}),
                severity=meta["severity"],
                description=description.strip(),
                parameters=tuple(
                    (kwarg, value["$PARAMETER"])
                    for kwarg, value in (exp.get("kwargs") or {}).items()
                    if isinstance(value, dict) and "$PARAMETER" in value),
            )
        )
    return specs


def columns_of(kwargs: dict[str, Any]) -> tuple[str, ...]:
    """The column(s) an expectation is about, from its kwargs (empty for table-level)."""
    if isinstance(kwargs.get("column_list"), list):
        return tuple(str(c) for c in kwargs["column_list"])
    return tuple(str(kwargs[k]) for k in _COLUMN_KWARGS if kwargs.get(k))


def check_specs(name: str, directory: Path | None = None) -> list[CheckSpec]:
    """The named checks of a suite file, without importing Great Expectations."""
    return specs_from_dict(read_suite_json(name, directory))


def suite_from_dict(data: dict[str, Any]) -> ExpectationSuite:
    """A fresh GX suite from its JSON form (ids dropped so it can join any context)."""
    import great_expectations as gx

    clean = {k: v for k, v in data.items() if k != "id"}
    clean["expectations"] = [
        {k: v for k, v in exp.items() if k not in ("id", "rendered_content")}
        for exp in data["expectations"]
    ]
    return gx.ExpectationSuite(**clean)


def load_suite(name: str, directory: Path | None = None) -> ExpectationSuite:
    """The named suite file as a GX ``ExpectationSuite`` (imports GX, ~5 s the first time)."""
    return suite_from_dict(read_suite_json(name, directory))
