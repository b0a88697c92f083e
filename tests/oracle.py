"""Independent reference implementation ("oracle") of the funnel data contract v1.2.

This module recomputes every published table of ``CONTRACT.md`` (sections 1-10) from a
landing folder and an optional section 8 configuration file in plain Python, so the tests
can check the DuckDB pipeline against figures that were *not* produced by the same SQL.

Independence is the point, hence:

* no DuckDB and no import from ``funnel_pipeline``: the default configuration (section 2)
  is spelled out again below from the contract text, and a section 8 file is read with
  ``tomllib`` and validated here, not by the pipeline's loader;
* statistics come from the reference libraries the contract names or implies
  (``statsmodels`` Wilson interval, Holm adjustment, log-rank test and Breslow-Day test,
  ``scipy`` Fisher test and chi-square distribution); the closed forms the contract
  writes out (rate-ratio interval, Kaplan-Meier at a time, Mantel-Haenszel ratio, CMH
  chi-square) are coded from its formulas, and the unit tests check them against
  ``statsmodels``;
* every rule is written as directly as possible from the contract wording, with the
  interpretation of the ambiguous ones documented where they are applied (and verified
  against the independently computed samples in ``tests/fixtures``).

Public API: :func:`compute_all` (every table); :func:`load_config` /
:data:`DEFAULT_CONFIG` for the section 8 configuration. (``tests/oracle_v11.py`` is a
frozen v1.1 copy for the tests of the pipeline until it implements v1.2.)
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq
from scipy.stats import chi2, fisher_exact
from statsmodels.duration.survfunc import survdiff
from statsmodels.stats.contingency_tables import StratifiedTable
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

NOT_STATED = "Not stated"
#: Section 5: the z of every 95% interval (statsmodels' ``norm.ppf(0.975)``).
Z95 = 1.959963984540054
OUTCOMES: tuple[str, ...] = ("passed", "failed", "withdrawn")


def _norm(value: Any) -> str:
    """Vocabulary matching key: case-insensitive, surrounding white space ignored."""
    return "" if value is None else str(value).strip().lower()


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


# ---------------------------------------------------------------------------------------
# Section 8: the configuration (and section 2 as its default)
# ---------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A bad section 8 configuration: the message names the file, the key and the problem."""


@dataclass(frozen=True)
class Characteristic:
    """One monitored characteristic of section 8.

    ``kind`` says where its group comes from: ``delivered`` (an applicants-file column
    matched by group names, synonyms and prefixes), ``derived`` (another characteristic's
    group through ``mapping``) or ``age`` (an age band from a date of birth on the
    application date). ``groups`` are the stated groups in display order (Not stated is
    implicit). Matching keys (``synonyms``, ``prefixes``) are stored normalised.
    """

    name: str
    kind: Literal["delivered", "derived", "age"]
    groups: tuple[str, ...]
    reference_group: str
    intersectional: bool = False
    column: str = ""
    synonyms: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    derived_from: str = ""
    mapping: Mapping[str, str] = field(default_factory=dict)
    born_on: str = ""
    #: (group, below) in order; the last band has ``below`` None
    bands: tuple[tuple[str, int | None], ...] = ()

    def match(self, value: Any, not_stated: frozenset[str]) -> tuple[str, bool]:
        """(group, recognised) of a delivered value, section 8's matching order.

        Blank or a not-stated spelling → Not stated (recognised); a group name; a synonym;
        a prefix when the value equals it or continues with a character that is not a
        letter ``a``-``z`` (longest prefix wins); anything else → Not stated, unrecognised.
        """
        v = _norm(value)
        if v == "" or v in not_stated:
            return NOT_STATED, True
        for g in self.groups:
            if v == _norm(g):
                return g, True
        if v in self.synonyms:
            return self.synonyms[v], True
        best: str | None = None
        for p in self.prefixes:
            if (v == p or (v.startswith(p) and not "a" <= v[len(p)] <= "z")) and (
                best is None or len(p) > len(best)
            ):
                best = p
        if best is not None:
            return self.prefixes[best], True
        return NOT_STATED, False

    def age_band(self, value: Any, on: date, not_stated: frozenset[str]) -> tuple[str, bool]:
        """(group, recognised) of a date of birth for an application dated ``on``.

        The age is the number of completed years; comparing (month, day) pairs makes a
        birthday count from its day and 29 February from 1 March in a non-leap year
        ((2, 28) < (2, 29) < (3, 1)). Blank or a not-stated spelling → Not stated,
        recognised; not a valid ``YYYY-MM-DD`` date, or after ``on`` → unrecognised.
        """
        v = _norm(value)
        if v == "" or v in not_stated:
            return NOT_STATED, True
        born = parse_date(value)
        if born is None or born > on:
            return NOT_STATED, False
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        for group, below in self.bands:
            if below is None or below > age:
                return group, True
        raise AssertionError("the last band has no 'below'")  # guaranteed by load_config


@dataclass(frozen=True)
class Config:
    """A funnel: stages in order, vocabulary, characteristics in report order."""

    stages: tuple[str, ...]
    #: normalised spelling (name or alias) → canonical stage
    stage_spellings: Mapping[str, str]
    #: normalised spelling → canonical outcome
    outcome_spellings: Mapping[str, str]
    not_stated: frozenset[str]
    characteristics: tuple[Characteristic, ...]
    sift_stage: str

    @property
    def first_stage(self) -> str:
        """The stage that section 4 calls ``application``: it admits to the funnel."""
        return self.stages[0]

    @property
    def final_stage(self) -> str:
        return self.stages[-1]

    def stage_order(self, stage: str) -> int:
        return self.stages.index(stage) + 1

    def stage(self, value: Any) -> str | None:
        """Canonical stage of a delivered spelling, or None when not in the vocabulary."""
        return self.stage_spellings.get(_norm(value))

    def outcome(self, value: Any) -> str | None:
        """Canonical outcome of a delivered spelling, or None when not in the vocabulary."""
        return self.outcome_spellings.get(_norm(value))

    def intersectional_pairs(self) -> list[tuple[Characteristic, Characteristic]]:
        """Every pair of the characteristics marked intersectional, in file order."""
        return list(combinations([c for c in self.characteristics if c.intersectional], 2))


_DEFAULT_STAGES: dict[str, list[str]] = {
    "application": ["apply", "applied"],
    "sift": ["paper sift", "application sift", "shortlisting"],
    "assessment": [
        "search",
        "online assessment",
        "assessment centre",
        "assessment center",
        "oac",
    ],
    "vetting": ["vetting check", "security vetting"],
    "appointment": ["appointed", "offer", "appointment offer"],
}
_DEFAULT_OUTCOMES: dict[str, list[str]] = {
    "passed": ["pass", "successful", "success"],
    "failed": ["fail", "unsuccessful"],
    "withdrawn": ["withdrew", "withdraw", "withdrawal"],
}
_DEFAULT_NOT_STATED: tuple[str, ...] = ("prefer not to say", "not stated", "unknown")


def _default_config() -> Config:
    """Section 2 written out as a :class:`Config` (independently of any TOML file)."""

    def delivered(name: str, groups: tuple[str, ...], **kw: Any) -> Characteristic:
        return Characteristic(name, "delivered", groups, groups[0], column=name, **kw)

    def derived(name: str, base: str, mapping: dict[str, str]) -> Characteristic:
        return Characteristic(
            name,
            "derived",
            ("No", "Yes"),
            "No",
            intersectional=True,
            derived_from=base,
            mapping=mapping,
        )

    ethnicities = ("White", "Asian", "Black", "Mixed", "Other")
    orientations = ("Heterosexual", "Gay or Lesbian", "Bisexual", "Other")
    gay = "Gay or Lesbian"
    chars = (
        delivered(
            "sex",
            ("Male", "Female"),
            intersectional=True,
            synonyms={"f": "Female", "woman": "Female", "m": "Male", "man": "Male"},
        ),
        delivered(
            "ethnicity",
            ethnicities,
            prefixes={g.lower(): g for g in ethnicities[:4]} | {"other ethnic group": "Other"},
            synonyms={"arab": "Other"},
        ),
        derived(
            "ethnic_minority",
            "ethnicity",
            {g: "No" if g == "White" else "Yes" for g in ethnicities},
        ),
        delivered("disability", ("No", "Yes"), intersectional=True),
        delivered(
            "sexual_orientation",
            orientations,
            synonyms={"straight": "Heterosexual", "gay": gay, "lesbian": gay}
            | {"gay man": gay, "gay woman": gay},
        ),
        derived(
            "lgbt_plus",
            "sexual_orientation",
            {g: "No" if g == "Heterosexual" else "Yes" for g in orientations},
        ),
    )
    return Config(
        stages=tuple(_DEFAULT_STAGES),
        stage_spellings={sp: s for s, aliases in _DEFAULT_STAGES.items() for sp in (s, *aliases)},
        outcome_spellings={
            sp: o for o, aliases in _DEFAULT_OUTCOMES.items() for sp in (o, *aliases)
        },
        not_stated=frozenset(_DEFAULT_NOT_STATED),
        characteristics=chars,
        sift_stage="sift",
    )


#: The built-in default of section 8 (= section 2).
DEFAULT_CONFIG: Config = _default_config()


class _ConfigReader:
    """Validates one parsed TOML document against section 8, raising :class:`ConfigError`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def keys(self, table: Any, key: str, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(table, dict):
            raise self.fail(key, "must be a table")
        for k in table:
            if k not in allowed:
                raise self.fail(f"{key}.{k}" if key else k, "unknown key")
        for k in sorted(required - set(table)):
            raise self.fail(f"{key}.{k}" if key else k, "required key missing")
        return table

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or value.strip() == "":
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def texts(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of strings")
        return [self.text(v, f"{key}[{i}]") for i, v in enumerate(value)]

    def table(self, value: Any, key: str) -> dict[str, str]:
        """A TOML table of strings (synonyms, prefixes, map), keys trimmed."""
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return {k.strip(): self.text(v, f"{key}.{k}") for k, v in value.items()}

    def spellings(self, claims: Iterable[tuple[str, str, str]]) -> dict[str, str]:
        """(spelling, owner, key) claims → normalised spelling → owner; twice = error."""
        out: dict[str, str] = {}
        for spelling, owner, where in claims:
            n = _norm(spelling)
            if n in out and out[n] != owner:
                raise self.fail(where, f"spelling {spelling!r} claimed by {out[n]!r} and {owner!r}")
            out[n] = owner
        return out

    def read(self, doc: dict[str, Any]) -> Config:
        self.keys(
            doc, "", {"stage", "outcomes", "not_stated", "characteristic", "publication"}, {"stage"}
        )
        stages_raw = doc["stage"]
        if not isinstance(stages_raw, list) or len(stages_raw) < 2:
            raise self.fail("stage", "at least two [[stage]] tables are required")
        stages: list[str] = []
        claims: list[tuple[str, str, str]] = []
        for i, st in enumerate(stages_raw):
            key = f"stage[{i}]"
            self.keys(st, key, {"name", "aliases"}, {"name"})
            name = self.text(st["name"], f"{key}.name")
            stages.append(name)
            claims.append((name, name, f"{key}.name"))
            claims += [
                (a, name, f"{key}.aliases")
                for a in self.texts(st.get("aliases", []), f"{key}.aliases")
            ]
        stage_spellings = self.spellings(claims)

        outcomes = self.keys(doc.get("outcomes", {}), "outcomes", set(OUTCOMES), set())
        claims = []
        for o in OUTCOMES:
            aliases = (
                self.texts(outcomes[o], f"outcomes.{o}") if o in outcomes else _DEFAULT_OUTCOMES[o]
            )
            claims += [(o, o, f"outcomes.{o}")] + [(a, o, f"outcomes.{o}") for a in aliases]
        outcome_spellings = self.spellings(claims)

        ns_table = self.keys(
            doc.get("not_stated", {"spellings": list(_DEFAULT_NOT_STATED)}),
            "not_stated",
            {"spellings"},
            {"spellings"},
        )
        not_stated = frozenset(
            _norm(s) for s in self.texts(ns_table["spellings"], "not_stated.spellings")
        )

        chars_raw = doc.get("characteristic", [])
        if not isinstance(chars_raw, list):
            raise self.fail("characteristic", "must be an array of [[characteristic]] tables")
        chars = [self.characteristic(c, f"characteristic[{i}]") for i, c in enumerate(chars_raw)]
        by_name: dict[str, Characteristic] = {}
        for i, c in enumerate(chars):
            if _norm(c.name) in {_norm(n) for n in by_name}:
                raise self.fail(f"characteristic[{i}].name", f"duplicate characteristic {c.name!r}")
            by_name[c.name] = c
        for i, c in enumerate(chars):
            if c.kind == "derived":
                self.check_derived(c, by_name, f"characteristic[{i}]")

        publication = self.keys(doc.get("publication", {}), "publication", {"sift_stage"}, set())
        sift = stages[1]
        if "sift_stage" in publication:  # interpretation: any spelling of a stage names it
            sift = stage_spellings.get(
                _norm(self.text(publication["sift_stage"], "publication.sift_stage")), ""
            )
            if not sift:
                raise self.fail(
                    "publication.sift_stage", f"{publication['sift_stage']!r} is not a stage"
                )
        return Config(
            tuple(stages), stage_spellings, outcome_spellings, not_stated, tuple(chars), sift
        )

    def groups(self, values: list[str], key: str) -> tuple[str, ...]:
        if not values:
            raise self.fail(key, "at least one group is required")
        seen: set[str] = set()
        for g in values:
            if _norm(g) in (_norm(NOT_STATED), "all"):
                raise self.fail(key, f"{g!r} cannot be a group")
            if _norm(g) in seen:
                raise self.fail(key, f"duplicate group {g!r}")
            seen.add(_norm(g))
        return tuple(values)

    def group_of(self, value: Any, groups: tuple[str, ...], key: str) -> str:
        v = self.text(value, key)
        if v not in groups:
            raise self.fail(key, f"{v!r} is not a group of this characteristic")
        return v

    def characteristic(self, raw: Any, key: str) -> Characteristic:
        common = {"name", "reference_group", "intersectional"}
        if isinstance(raw, dict) and "derived_from" in raw and "born_on" in raw:
            raise self.fail(key, "'derived_from' and 'born_on' exclude each other")
        if isinstance(raw, dict) and "derived_from" in raw:
            kind: Literal["delivered", "derived", "age"] = "derived"
            self.keys(
                raw, key, common | {"derived_from", "groups", "map"}, {"name", "groups", "map"}
            )
        elif isinstance(raw, dict) and "born_on" in raw:
            kind = "age"
            self.keys(raw, key, common | {"born_on", "bands"}, {"name", "bands"})
        else:
            kind = "delivered"
            self.keys(
                raw, key, common | {"column", "groups", "synonyms", "prefixes"}, {"name", "groups"}
            )
        name = self.text(raw["name"], f"{key}.name")
        if _norm(name) == "all" or " x " in name:
            raise self.fail(f"{key}.name", f"{name!r} is not allowed as a characteristic name")
        intersectional = raw.get("intersectional", False)
        if not isinstance(intersectional, bool):
            raise self.fail(f"{key}.intersectional", "must be true or false")
        bands: tuple[tuple[str, int | None], ...] = ()
        if kind == "age":
            bands = self.bands(raw["bands"], f"{key}.bands")
            groups = self.groups([g for g, _ in bands], f"{key}.bands")
        else:
            groups = self.groups(self.texts(raw["groups"], f"{key}.groups"), f"{key}.groups")
        ref = groups[0]
        if "reference_group" in raw:
            ref = self.group_of(raw["reference_group"], groups, f"{key}.reference_group")
        extra: dict[str, Any] = {}
        if kind == "delivered":
            extra["column"] = self.text(raw.get("column", name), f"{key}.column")
            for part in ("synonyms", "prefixes"):
                table = self.table(raw.get(part, {}), f"{key}.{part}")
                extra[part] = self.spellings(
                    (k, self.group_of(v, groups, f"{key}.{part}.{k}"), f"{key}.{part}.{k}")
                    for k, v in table.items()
                )
        elif kind == "derived":
            extra["derived_from"] = self.text(raw["derived_from"], f"{key}.derived_from")
            table = self.table(raw["map"], f"{key}.map")
            extra["mapping"] = {
                k: self.group_of(v, groups, f"{key}.map.{k}") for k, v in table.items()
            }
        else:
            extra["born_on"] = self.text(raw["born_on"], f"{key}.born_on")
            extra["bands"] = bands
        return Characteristic(name, kind, groups, ref, intersectional, **extra)

    def bands(self, raw: Any, key: str) -> tuple[tuple[str, int | None], ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(key, "must be a non-empty list of { group, below } tables")
        out: list[tuple[str, int | None]] = []
        for i, band in enumerate(raw):
            k = f"{key}[{i}]"
            last = i == len(raw) - 1
            self.keys(band, k, {"group", "below"}, {"group"} if last else {"group", "below"})
            if last and "below" in band:
                raise self.fail(f"{k}.below", "the last band has no 'below'")
            below = band.get("below")
            if below is not None:
                if not isinstance(below, int) or isinstance(below, bool):
                    raise self.fail(f"{k}.below", "must be an integer")
                previous = out[-1][1] if out else None
                if previous is not None and below <= previous:
                    raise self.fail(f"{k}.below", "bands' 'below' must increase")
            out.append((self.text(band["group"], f"{k}.group"), below))
        return tuple(out)

    def check_derived(
        self, c: Characteristic, by_name: dict[str, Characteristic], key: str
    ) -> None:
        base = by_name.get(c.derived_from)
        if base is None:
            raise self.fail(f"{key}.derived_from", f"{c.derived_from!r} is not a characteristic")
        if base.kind == "derived":
            raise self.fail(f"{key}.derived_from", f"{base.name!r} is itself derived")
        unknown = set(c.mapping) - set(base.groups)
        if unknown:
            raise self.fail(f"{key}.map", f"{sorted(unknown)} are not groups of {base.name!r}")
        missing = [g for g in base.groups if g not in c.mapping]
        if missing:
            raise self.fail(f"{key}.map", f"incomplete: no group for {missing}")


def load_config(path: str | Path | None) -> Config:
    """The section 8 configuration at ``path``, or :data:`DEFAULT_CONFIG` for None."""
    if path is None:
        return DEFAULT_CONFIG
    path = Path(path)
    with open(path, "rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return _ConfigReader(path).read(doc)


# ---------------------------------------------------------------------------------------
# Section 1: reading landing files
# ---------------------------------------------------------------------------------------


class UnreadableFile(Exception):
    """A landing file that cannot be read at all (recorded as failed, section 3)."""


def _landing_files(landing_dir: Path, prefix: str) -> list[Path]:
    """``prefix*.csv`` / ``prefix*.parquet`` files, sorted by file name.

    Name order matters: for applicants the row of the file whose name sorts last wins.
    """
    out = []
    for p in landing_dir.iterdir():
        name = p.name.lower()
        if p.is_file() and name.startswith(prefix) and name.endswith((".csv", ".parquet")):
            out.append(p)
    return sorted(out, key=lambda p: p.name)


def _to_text(value: Any) -> str | None:
    """Parquet cell → text, so CSV and Parquet rows go through the same rules."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def read_rows(path: Path, required: Iterable[str]) -> list[dict[str, str | None]]:
    """All data rows of a CSV or Parquet file, keys = trimmed lower-case column names.

    CSV: UTF-8 with or without BOM (``utf-8-sig``), LF/CRLF and RFC 4180 quoting
    (``csv`` module with ``newline=''``). Missing trailing cells are None.
    Raises :class:`UnreadableFile` when the file cannot be parsed or lacks a
    required column.
    """
    try:
        if path.suffix.lower() == ".parquet":
            table = pq.read_table(path)
            names = [n.strip().lower() for n in table.column_names]
            rows = [
                {names[i]: _to_text(v) for i, v in enumerate(r.values())} for r in table.to_pylist()
            ]
        else:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh, strict=True)
                header = next(reader, None)
                if header is None:
                    raise UnreadableFile("empty file")
                names = [h.strip().lower() for h in header]
                rows = []
                for cells in reader:
                    rows.append(
                        {n: (cells[i] if i < len(cells) else None) for i, n in enumerate(names)}
                    )
    except UnreadableFile:
        raise
    except Exception as exc:
        raise UnreadableFile(f"cannot be read: {exc}") from exc
    missing = [c for c in required if c not in names]
    if missing:
        raise UnreadableFile(f"missing required column(s): {', '.join(missing)}")
    return rows


# ---------------------------------------------------------------------------------------
# Timestamps and dates
# ---------------------------------------------------------------------------------------

#: Section 1.2 (v1.2, exactly): ``YYYY-MM-DD``, optionally ``T`` or a space and
#: ``hh:mm[:ss[.fraction]]``, optionally ``Z`` or ``±hh:mm``. Nothing else parses.
_TS_RE = re.compile(
    r"""(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})
        (?:[T\x20](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?
           (?P<tz>Z|[+-]\d{2}:\d{2})?)?""",
    re.VERBOSE,
)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 date or date-time of section 1.2 → aware UTC datetime, or None.

    A bare date is midnight UTC and a date-time without offset is UTC; fractional
    seconds are kept to the microsecond; the value is trimmed first (like every matched
    value). Impossible dates and times (``2024-13-45``, ``25:00``) are None.
    """
    if value is None:
        return None
    m = _TS_RE.fullmatch(str(value).strip())
    if not m:
        return None
    try:
        if m["h"] is None:
            return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), tzinfo=UTC)
        tz = UTC
        off = m["tz"]
        if off and off != "Z":
            sign = 1 if off[0] == "+" else -1
            hours, minutes = int(off[1:3]), int(off[4:6])
            if hours > 23 or minutes > 59:
                return None
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        dt = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"]),
            int(m["mi"]),
            int(m["s"] or 0),
            int((m["f"] or "0")[:6].ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError:
        return None
    return dt.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """ISO calendar date (``YYYY-MM-DD``, trimmed) or None (e.g. ``TBC``, ``1990-02-30``)."""
    if value is None:
        return None
    v = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


def _midnight_utc(d: date) -> datetime:
    """Dates of the optional inputs are 00:00 UTC (section 7)."""
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _days(delta: timedelta) -> float:
    """Exact UTC seconds / 86,400 (sections 7 and 9)."""
    return delta.total_seconds() / 86400


# ---------------------------------------------------------------------------------------
# Section 3: events, rejection and de-duplication
# ---------------------------------------------------------------------------------------

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "applicant_id",
    "campaign_id",
    "stage",
    "outcome",
    "occurred_at",
)
CONFLICT_REASON = "conflicting duplicate event_id"


@dataclass(frozen=True)
class Event:
    """An accepted event, canonical values only."""

    event_id: str
    applicant_id: str
    campaign_id: str
    stage: str
    outcome: str
    occurred_at: datetime


@dataclass
class _Candidate:
    file: str
    row_number: int
    raw: dict[str, str | None]
    event: Event | None  # None when rejected by rules 1-3
    reason: str | None


def _check_event(raw: dict[str, str | None], config: Config) -> tuple[Event | None, str | None]:
    """Rules 1-3 in contract order; the first failing rule gives the reason."""
    for col in EVENT_COLUMNS:
        if _blank(raw.get(col)):
            return None, f"missing required field: {col}"
    stage = config.stage(raw["stage"])
    if stage is None:
        return None, f"unknown stage: {raw['stage']!r}"
    outcome = config.outcome(raw["outcome"])
    if outcome is None:
        return None, f"unknown outcome: {raw['outcome']!r}"
    ts = parse_timestamp(raw["occurred_at"])
    if ts is None:
        return None, f"unparseable occurred_at: {raw['occurred_at']!r}"
    # Ids are trimmed of surrounding white space, like every other matched value.
    return (
        Event(
            event_id=str(raw["event_id"]).strip(),
            applicant_id=str(raw["applicant_id"]).strip(),
            campaign_id=str(raw["campaign_id"]).strip(),
            stage=stage,
            outcome=outcome,
            occurred_at=ts,
        ),
        None,
    )


def _delivered_content(raw: Mapping[str, str | None], columns: Iterable[str]) -> tuple:
    """ "Content" for every duplicate rule (v1.2): the table's columns as delivered, trimmed.

    Case-sensitive (``passed`` and ``Success`` differ, ``2023-01-01`` and
    ``2023-01-01T00:00:00Z`` differ). A blank cell and a missing column are the same.
    Interpretation: "the row's columns of that table" are the columns the contract
    defines for the table; extra delivered columns are kept but are not content (as the
    six fields of an event are its content).
    """
    return tuple("" if raw.get(c) is None else str(raw.get(c)).strip() for c in columns)


@dataclass
class LoadedEvents:
    accepted: list[Event]
    rejected: list[dict[str, Any]]
    failed_files: list[dict[str, str]]


def load_events(landing_dir: Path, config: Config = DEFAULT_CONFIG) -> LoadedEvents:
    """Read every events file, apply rules 1-4, de-duplicate identical re-deliveries.

    Rule 4 (v1.2 wording): only rows that pass rules 1-3 take part; copies of one
    ``event_id`` whose six delivered fields differ (trimmed, case-sensitive) are all
    rejected.
    """
    candidates: list[_Candidate] = []
    failed: list[dict[str, str]] = []
    for path in _landing_files(landing_dir, "events"):
        try:
            rows = read_rows(path, EVENT_COLUMNS)
        except UnreadableFile as exc:
            failed.append({"file": path.name, "reason": str(exc)})
            continue
        for i, raw in enumerate(rows, start=1):
            event, reason = _check_event(raw, config)
            candidates.append(_Candidate(path.name, i, raw, event, reason))

    by_id: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        if c.event is not None:
            by_id[c.event.event_id].append(c)
    for copies in by_id.values():
        if len({_delivered_content(c.raw, EVENT_COLUMNS) for c in copies}) > 1:
            for c in copies:
                c.reason = CONFLICT_REASON

    accepted: dict[str, Event] = {}
    rejected: list[dict[str, Any]] = []
    for c in candidates:
        if c.reason is not None:
            rejected.append(
                {"file": c.file, "row_number": c.row_number, "reason": c.reason, "row": dict(c.raw)}
            )
        else:
            assert c.event is not None
            accepted.setdefault(c.event.event_id, c.event)  # identical copies count once
    return LoadedEvents(list(accepted.values()), rejected, failed)


# ---------------------------------------------------------------------------------------
# Applicants (section 1.1) and optional inputs (sections 6 and 9)
# ---------------------------------------------------------------------------------------


def load_applicants(landing_dir: Path) -> dict[str, dict[str, str | None]]:
    """applicant_id → winning row: last file by name, then the later row in that file."""
    out: dict[str, dict[str, str | None]] = {}
    for path in _landing_files(landing_dir, "applicants"):
        try:
            rows = read_rows(path, ("applicant_id",))
        except UnreadableFile:
            continue
        for raw in rows:
            if _blank(raw.get("applicant_id")):
                continue
            out[str(raw["applicant_id"]).strip()] = raw
    return out


@dataclass
class _Keyed:
    """Accepted rows of an optional input (key → parsed row) and its rejected rows."""

    accepted: dict[tuple, dict[str, Any]]
    rejected: list[dict[str, Any]]


def _keyed_optional(
    landing_dir: Path,
    prefix: str,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    check: Callable[[dict[str, str | None]], tuple[tuple, dict[str, Any]] | str],
) -> _Keyed:
    """Generic loader of sections 6 and 9: validate rows, then the duplicate-key rule.

    ``check(raw)`` returns (key, parsed row) or a rejection reason. Rows rejected for
    another reason take no part in the key rule; copies of a key whose content
    (:func:`_delivered_content` of ``columns``) differs are all rejected; identical
    copies count once.
    """
    cands: list[tuple[str, int, dict, tuple[tuple, dict[str, Any]] | str]] = []
    rejected: list[dict[str, Any]] = []
    for path in _landing_files(landing_dir, prefix):
        try:
            rows = read_rows(path, required)
        except UnreadableFile as exc:
            rejected.append({"file": path.name, "row_number": None, "reason": str(exc)})
            continue
        for i, raw in enumerate(rows, start=1):
            missing = [c for c in required if _blank(raw.get(c))]
            result = f"missing required field: {missing[0]}" if missing else check(raw)
            cands.append((path.name, i, raw, result))
    contents: dict[tuple, set[tuple]] = defaultdict(set)
    for _f, _i, raw, result in cands:
        if not isinstance(result, str):
            contents[result[0]].add(_delivered_content(raw, columns))
    accepted: dict[tuple, dict[str, Any]] = {}
    for fname, i, raw, result in cands:
        if not isinstance(result, str) and len(contents[result[0]]) > 1:
            result = f"conflicting duplicate {prefix} key"
        if isinstance(result, str):
            rejected.append({"file": fname, "row_number": i, "reason": result, "row": raw})
        else:
            accepted.setdefault(result[0], result[1])
    return _Keyed(accepted, rejected)


def _strip_or_none(v: Any) -> str | None:
    return None if _blank(v) else str(v).strip()


def load_campaigns(landing_dir: Path) -> dict[str, str]:
    """campaign_id → entry_route (trimmed, compared exactly) from accepted rows."""

    def check(raw: dict) -> tuple[tuple, dict[str, Any]] | str:
        for col in ("opened_on", "closed_on"):
            if not _blank(raw.get(col)) and parse_date(raw[col]) is None:
                return f"unparseable {col}: {raw[col]!r}"
        return (str(raw["campaign_id"]).strip(),), {"entry_route": str(raw["entry_route"]).strip()}

    keyed = _keyed_optional(
        landing_dir,
        "campaigns",
        ("campaign_id", "entry_route", "title", "opened_on", "closed_on"),
        ("campaign_id", "entry_route"),
        check,
    )
    return {k[0]: v["entry_route"] for k, v in keyed.accepted.items()}


def _population_group(ch: Characteristic, value: Any, config: Config) -> str | None:
    """A population row's group: one of the characteristic's groups (section 8), or None.

    Group names match case-insensitively; a delivered characteristic also accepts its
    synonyms and prefixes ("aliases accepted", section 6). Not stated is not one of the
    configured groups and is rejected (it would never reach ``representation``, which
    shows stated groups only).
    """
    if ch.kind == "delivered":
        group, recognised = ch.match(value, config.not_stated)
        return group if recognised and group != NOT_STATED else None
    return next((g for g in ch.groups if _norm(g) == _norm(value)), None)


def load_population(
    landing_dir: Path, config: Config = DEFAULT_CONFIG
) -> dict[tuple[str, str], float]:
    """(characteristic, group) → population_share from accepted rows."""
    chars = {_norm(c.name): c for c in config.characteristics}

    def check(raw: dict) -> tuple[tuple, dict[str, Any]] | str:
        ch = chars.get(_norm(raw["characteristic"]))
        if ch is None:
            return f"unknown characteristic: {raw['characteristic']!r}"
        grp = _population_group(ch, raw["group_name"], config)
        if grp is None:
            return f"unknown group_name: {raw['group_name']!r}"
        try:
            share = float(str(raw["population_share"]).strip())
        except ValueError:
            return f"unparseable population_share: {raw['population_share']!r}"
        if not (0.0 <= share <= 1.0):  # NaN fails both comparisons
            return f"population_share outside [0, 1]: {share}"
        return (ch.name, grp), {"population_share": share}

    # Interpretation: the key is the canonical (characteristic, group), so two spellings
    # of one group are copies of one key; their content is still compared as delivered.
    keyed = _keyed_optional(
        landing_dir,
        "population",
        ("characteristic", "group_name", "population_share", "area", "source"),
        ("characteristic", "group_name", "population_share"),
        check,
    )
    return {k: v["population_share"] for k, v in keyed.accepted.items()}


@dataclass(frozen=True)
class Intervention:
    intervention_id: str
    name: str
    started_on: date
    ended_on: date | None
    stage: str | None
    campaign_id: str | None


def load_interventions(landing_dir: Path, config: Config = DEFAULT_CONFIG) -> list[Intervention]:
    """Accepted interventions, sorted by id; ``stage`` is a configured stage or None."""

    def check(raw: dict) -> tuple[tuple, dict[str, Any]] | str:
        started = parse_date(raw["started_on"])
        if started is None:
            return f"unparseable started_on: {raw['started_on']!r}"
        ended = None
        if not _blank(raw.get("ended_on")):
            ended = parse_date(raw["ended_on"])
            if ended is None:
                return f"unparseable ended_on: {raw['ended_on']!r}"
        stage = None
        if not _blank(raw.get("stage")):
            stage = config.stage(raw["stage"])
            if stage is None:
                return f"unknown stage: {raw['stage']!r}"
        iid = str(raw["intervention_id"]).strip()
        return (iid,), {
            "intervention_id": iid,
            "name": str(raw["name"]).strip(),
            "started_on": started,
            "ended_on": ended,
            "stage": stage,
            "campaign_id": _strip_or_none(raw.get("campaign_id")),
        }

    keyed = _keyed_optional(
        landing_dir,
        "interventions",
        ("intervention_id", "name", "started_on", "ended_on", "stage", "campaign_id"),
        ("intervention_id", "name", "started_on"),
        check,
    )
    return sorted(
        (Intervention(**v) for v in keyed.accepted.values()), key=lambda i: i.intervention_id
    )


@dataclass(frozen=True)
class Leaver:
    """An accepted leavers row (section 9); ``reason`` is kept but never published."""

    applicant_id: str
    left_on: datetime
    reason: str | None


def load_leavers(landing_dir: Path) -> _Keyed:
    """Accepted leavers rows (values are :class:`Leaver`) and the rejected ones.

    Key: ``applicant_id`` + ``left_on`` as delivered, trimmed; a copy with another
    ``reason`` conflicts; ``left_on`` is parsed like ``occurred_at``.
    """

    def check(raw: dict) -> tuple[tuple, dict[str, Any]] | str:
        left = parse_timestamp(raw["left_on"])
        if left is None:
            return f"unparseable left_on: {raw['left_on']!r}"
        person = str(raw["applicant_id"]).strip()
        leaver = Leaver(person, left, _strip_or_none(raw.get("reason")))
        return (person, str(raw["left_on"]).strip()), {"leaver": leaver}

    return _keyed_optional(
        landing_dir,
        "leavers",
        ("applicant_id", "left_on", "reason"),
        ("applicant_id", "left_on"),
        check,
    )


# ---------------------------------------------------------------------------------------
# Section 4: applications and their outcomes
# ---------------------------------------------------------------------------------------


@dataclass
class Application:
    """A funnel application: (applicant_id, campaign_id) with a first-stage outcome."""

    applicant_id: str
    campaign_id: str
    entry_route: str
    #: characteristic → group (Not stated included); age bands are per application
    groups: dict[str, str]
    #: stage → effective (latest) accepted event at that stage
    outcomes: dict[str, Event] = field(default_factory=dict)

    def outcome(self, stage: str) -> str | None:
        ev = self.outcomes.get(stage)
        return None if ev is None else ev.outcome


def applicant_groups(
    row: Mapping[str, str | None] | None, applied_on: date, config: Config = DEFAULT_CONFIG
) -> dict[str, str]:
    """Group of every configured characteristic for one application.

    No applicants row → Not stated everywhere. Columns were lower-cased and trimmed by
    :func:`read_rows`, so ``column`` / ``born_on`` match case-insensitively after trimming.
    Derived characteristics map their base's group; Not stated stays Not stated.
    """
    out: dict[str, str] = {}
    for ch in config.characteristics:
        if row is None or ch.kind == "derived":
            out[ch.name] = NOT_STATED
        elif ch.kind == "delivered":
            out[ch.name] = ch.match(row.get(_norm(ch.column)), config.not_stated)[0]
        else:
            out[ch.name] = ch.age_band(row.get(_norm(ch.born_on)), applied_on, config.not_stated)[0]
    for ch in config.characteristics:
        if ch.kind == "derived" and row is not None:
            base = out[ch.derived_from]
            out[ch.name] = NOT_STATED if base == NOT_STATED else ch.mapping[base]
    return out


def build_applications(
    events: list[Event],
    applicants: Mapping[str, Mapping[str, str | None]],
    campaigns: Mapping[str, str],
    config: Config = DEFAULT_CONFIG,
) -> list[Application]:
    """Effective outcome per application and stage; keep funnel applications only.

    The effective event is the latest ``occurred_at``, ties broken by the greatest
    ``event_id``. Applications without an accepted first-stage event are left out of
    every metric (section 4). The application date of an age band is the UTC date of
    the effective first-stage outcome (section 8).
    """
    latest: dict[tuple[str, str], dict[str, Event]] = defaultdict(dict)
    for ev in events:
        per_stage = latest[(ev.applicant_id, ev.campaign_id)]
        cur = per_stage.get(ev.stage)
        if cur is None or (ev.occurred_at, ev.event_id) > (cur.occurred_at, cur.event_id):
            per_stage[ev.stage] = ev
    apps = []
    for (applicant_id, campaign_id), per_stage in latest.items():
        first = per_stage.get(config.first_stage)
        if first is None:
            continue
        apps.append(
            Application(
                applicant_id=applicant_id,
                campaign_id=campaign_id,
                entry_route=campaigns.get(campaign_id, "Unknown"),
                groups=applicant_groups(
                    applicants.get(applicant_id), first.occurred_at.date(), config
                ),
                outcomes=per_stage,
            )
        )
    return apps


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------


def _div(num: float, den: float) -> float | None:
    """NULL wherever a denominator is 0."""
    return None if den == 0 else num / den


def wilson(passed: int, decided: int) -> tuple[float | None, float | None]:
    """Wilson 95% interval (z = 1.959963984540054, statsmodels' norm.ppf(0.975))."""
    if decided == 0:
        return None, None
    lo, hi = proportion_confint(passed, decided, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def fisher_p(a_passed: int, a_decided: int, b_passed: int, b_decided: int) -> float:
    """Two-sided Fisher exact test on [[a_passed, a_failed], [b_passed, b_failed]]."""
    table = [[a_passed, a_decided - a_passed], [b_passed, b_decided - b_passed]]
    return float(fisher_exact(table, alternative="two-sided").pvalue)


def air_interval(a: int, n1: int, c: int, n2: int) -> tuple[float, float]:
    """Section 10: 95% interval of (a/n₁)/(c/n₂) on the log scale.

    exp(ln r ± z·√(1/a − 1/n₁ + 1/c − 1/n₂)); with a = 0 every place uses a + 0.5,
    n₁ + 1, c + 0.5, n₂ + 1 (r included). Callers guarantee c > 0 and n₁, n₂ > 0 (the
    ratio exists).
    """
    fa, fn1, fc, fn2 = (a + 0.5, n1 + 1, c + 0.5, n2 + 1) if a == 0 else (a, n1, c, n2)
    log_r = math.log((fa / fn1) / (fc / fn2))
    half = Z95 * math.sqrt(1 / fa - 1 / fn1 + 1 / fc - 1 / fn2)
    return math.exp(log_r - half), math.exp(log_r + half)


def quantile_cont(values: list[float], q: float) -> float | None:
    """Linear-interpolation quantile (numpy default / DuckDB ``quantile_cont``)."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def km_at(durations: list[float], statuses: list[int], t: float) -> float | None:
    """Section 9's Kaplan-Meier S(t), written out from the contract's formula.

    The product over distinct leaving durations u ≤ t of (1 − d_u / n_u), d_u those
    leaving at u (status 1), n_u those whose duration is ≥ u; 1 when no leaving is at or
    before t; NULL when nobody's duration is ≥ t (nobody observed that long).
    """
    if not any(d >= t for d in durations):
        return None
    s = 1.0
    for u in sorted({d for d, st in zip(durations, statuses) if st == 1 and d <= t}):
        d_u = sum(1 for d, st in zip(durations, statuses) if st == 1 and d == u)
        n_u = sum(1 for d in durations if d >= u)
        s *= 1 - d_u / n_u
    return s


def logrank_p(durations: list[float], statuses: list[int], groups: list[int]) -> float | None:
    """Two-sided log-rank p-value (chi-square, 1 df) as ``statsmodels`` ``survdiff``.

    Interpretation (the contract is silent): NULL when the test has no variance - at
    every leaving time nobody of the other group is at risk (or everyone at risk
    leaves) - where ``survdiff`` raises ``LinAlgError`` (singular matrix).
    """
    try:
        _stat, p = survdiff(np.asarray(durations), np.asarray(statuses), np.asarray(groups))
    except np.linalg.LinAlgError:
        return None
    return None if math.isnan(p) else float(p)


@dataclass(frozen=True)
class Stratum:
    """One campaign's 2×2 table: the group's passed/decided and the reference group's."""

    a: int
    n1: int
    c: int
    n2: int

    @property
    def total(self) -> int:
        return self.n1 + self.n2


def mantel_haenszel(strata: list[Stratum]) -> dict[str, Any]:
    """Section 10's pooled figures over the strata (already filtered to informative ones).

    ``pooled_rate_ratio`` = Σ a·n₂/N ÷ Σ c·n₁/N; ``cmh_p_value`` from the chi-square
    without continuity correction; ``breslow_day_p_value`` from ``statsmodels``
    (``test_equal_odds(adjust=False)``), NULL with fewer than two strata or when the
    Mantel-Haenszel odds ratio Σ a(n₂−c)/N ÷ Σ (n₁−a)c/N is 0 or infinite.
    """
    if not strata:
        return {"pooled_rate_ratio": None, "cmh_p_value": None, "breslow_day_p_value": None}
    num = sum(s.a * s.n2 / s.total for s in strata)
    den = sum(s.c * s.n1 / s.total for s in strata)
    deviation = sum(s.a - s.n1 * (s.a + s.c) / s.total for s in strata)
    variance = sum(
        s.n1 * s.n2 * (s.a + s.c) * (s.total - s.a - s.c) / (s.total**2 * (s.total - 1))
        for s in strata
    )
    cmh = float(chi2.sf(deviation**2 / variance, 1))
    or_num = sum(s.a * (s.n2 - s.c) / s.total for s in strata)
    or_den = sum((s.n1 - s.a) * s.c / s.total for s in strata)
    bd = None
    if len(strata) >= 2 and or_num > 0 and or_den > 0:
        tables = [np.array([[s.a, s.n1 - s.a], [s.c, s.n2 - s.c]]) for s in strata]
        # Interpretation: statsmodels also returns NaN when the pooled odds ratio is exactly
        # 1 (its quadratic for the expected counts degenerates); NaN is published as NULL.
        with np.errstate(invalid="ignore", divide="ignore"):
            p = float(StratifiedTable(tables).test_equal_odds(adjust=False).pvalue)
        bd = None if math.isnan(p) else p
    return {
        "pooled_rate_ratio": None if den == 0 else num / den,
        "cmh_p_value": cmh,
        "breslow_day_p_value": bd,
    }


# ---------------------------------------------------------------------------------------
# Sections 5, 7 and 10: pass-rate tables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A way of grouping applications: a characteristic, a pair of them, or ``all``."""

    name: str
    group_of: Callable[[Application], str]
    reference: str | None  # None for ``all``
    #: a group that gets no ratio/test besides the reference group itself
    no_ratio: Callable[[str], bool]


def _all_dimension() -> Dimension:
    return Dimension("all", lambda a: "All", None, lambda g: True)


def _characteristic_dimension(ch: Characteristic) -> Dimension:
    return Dimension(
        ch.name, lambda a: a.groups[ch.name], ch.reference_group, lambda g: g == NOT_STATED
    )


def _single_dimensions(config: Config) -> list[Dimension]:
    """``all`` and every configured characteristic, in file order."""
    return [_all_dimension(), *(_characteristic_dimension(c) for c in config.characteristics)]


def _pair_dimensions(config: Config) -> list[Dimension]:
    """Every pair of intersectional characteristics; Not stated anywhere → no ratio."""
    return [
        Dimension(
            f"{c1.name} x {c2.name}",
            (lambda a, c1=c1, c2=c2: f"{a.groups[c1.name]} x {a.groups[c2.name]}"),
            f"{c1.reference_group} x {c2.reference_group}",
            lambda g: NOT_STATED in g.split(" x "),
        )
        for c1, c2 in config.intersectional_pairs()
    ]


@dataclass
class _Counts:
    passed: int = 0
    failed: int = 0
    withdrawn: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        return self.passed + self.failed + self.withdrawn


def _stage_counts(apps: list[Application], stage: str, config: Config) -> _Counts:
    """Outcomes at ``stage``; pending = passed the previous stage, no outcome here."""
    c = _Counts()
    order = config.stage_order(stage)
    prev = config.stages[order - 2] if order > 1 else None
    for a in apps:
        out = a.outcome(stage)
        if out is not None:
            setattr(c, out, getattr(c, out) + 1)
        elif prev is not None and a.outcome(prev) == "passed":
            c.pending += 1
    return c


def _by_group(apps: list[Application], dim: Dimension) -> dict[str, list[Application]]:
    out: dict[str, list[Application]] = defaultdict(list)
    for a in apps:
        out[dim.group_of(a)].append(a)
    return out


def pass_rate_rows(
    apps: list[Application], dims: list[Dimension], config: Config = DEFAULT_CONFIG
) -> list[dict[str, Any]]:
    """Section 5 rows (with section 10's interval) for one segment, computed within it.

    One row per dimension, group with at least one application in the segment, and each
    configured stage (zero-count stages included). ``reference_group`` is filled on every
    row of a characteristic, the reference group's own row included.
    """
    rows: list[dict[str, Any]] = []
    for dim in dims:
        by_group = _by_group(apps, dim)
        counts = {
            g: {s: _stage_counts(ga, s, config) for s in config.stages}
            for g, ga in by_group.items()
        }
        for g in sorted(by_group):
            for s in config.stages:
                c = counts[g][s]
                rate = _div(c.passed, c.decided)
                lo, hi = wilson(c.passed, c.decided)
                air = p = air_lo = air_hi = None
                if dim.reference is not None and g != dim.reference and not dim.no_ratio(g):
                    ref = counts.get(dim.reference, {}).get(s)
                    ref_rate = None if ref is None else _div(ref.passed, ref.decided)
                    if rate is not None and ref is not None and ref_rate:
                        air = rate / ref_rate
                        p = fisher_p(c.passed, c.decided, ref.passed, ref.decided)
                        air_lo, air_hi = air_interval(c.passed, c.decided, ref.passed, ref.decided)
                rows.append(
                    {
                        "characteristic": dim.name,
                        "group_name": g,
                        "stage": s,
                        "stage_order": config.stage_order(s),
                        "entered": c.decided + c.pending,
                        "passed": c.passed,
                        "failed": c.failed,
                        "withdrawn": c.withdrawn,
                        "pending": c.pending,
                        "pass_rate": rate,
                        "pass_rate_ci_low": lo,
                        "pass_rate_ci_high": hi,
                        "cumulative_pass_rate": _div(c.passed, len(by_group[g])),
                        "reference_group": dim.reference,
                        "adverse_impact_ratio": air,
                        "fisher_p_value": p,
                        # "after fisher_p_value" as section 10 says (the example CSVs put
                        # them after flagged; column order is not compared)
                        "air_ci_low": air_lo,
                        "air_ci_high": air_hi,
                        "flagged": bool(
                            air is not None and p is not None and air < 0.8 and p < 0.05
                        ),
                    }
                )
    return rows


def _segmented(
    apps: list[Application],
    seg_key: Callable[[Application], tuple],
    seg_cols: tuple[str, ...],
    config: Config,
) -> list[dict[str, Any]]:
    """Pass-rate rows per segment (every figure within it), the segment columns first."""
    segs: dict[tuple, list[Application]] = defaultdict(list)
    for a in apps:
        segs[seg_key(a)].append(a)
    out = []
    for key in sorted(segs):
        for r in pass_rate_rows(segs[key], _single_dimensions(config), config):
            out.append({**dict(zip(seg_cols, key)), **r})
    return out


def _application_year(a: Application, config: Config) -> int:
    """Section 10: UTC calendar year of the effective first-stage outcome."""
    return a.outcomes[config.first_stage].occurred_at.year


def pooled_stage_pass_rates(apps: list[Application], config: Config) -> list[dict[str, Any]]:
    """Section 10: Mantel-Haenszel pooling over campaigns, per characteristic, group, stage.

    Groups: every group with at least one application, except the reference group and
    Not stated. A campaign is a stratum when n₁ > 0, n₂ > 0 and 0 < a + c < N; the
    counts are sums over the strata only.
    """
    rows = []
    for ch in config.characteristics:
        cells: dict[tuple[str, str], list[Application]] = defaultdict(list)
        for a in apps:
            cells[(a.campaign_id, a.groups[ch.name])].append(a)
        campaigns = sorted({k for k, _ in cells})
        present = {a.groups[ch.name] for a in apps}
        for g in sorted(present - {ch.reference_group, NOT_STATED}):
            for s in config.stages:
                strata = []
                for k in campaigns:
                    grp = _stage_counts(cells.get((k, g), []), s, config)
                    ref = _stage_counts(cells.get((k, ch.reference_group), []), s, config)
                    st = Stratum(grp.passed, grp.decided, ref.passed, ref.decided)
                    if st.n1 > 0 and st.n2 > 0 and 0 < st.a + st.c < st.total:
                        strata.append(st)
                pooled = mantel_haenszel(strata)
                ratio, cmh = pooled["pooled_rate_ratio"], pooled["cmh_p_value"]
                rows.append(
                    {
                        "characteristic": ch.name,
                        "group_name": g,
                        "stage": s,
                        "stage_order": config.stage_order(s),
                        "reference_group": ch.reference_group,
                        "strata": len(strata),
                        "decided": sum(x.n1 for x in strata),
                        "passed": sum(x.a for x in strata),
                        "reference_decided": sum(x.n2 for x in strata),
                        "reference_passed": sum(x.c for x in strata),
                        **pooled,
                        "flagged": bool(
                            ratio is not None and cmh is not None and ratio < 0.8 and cmh < 0.05
                        ),
                    }
                )
    return rows


#: Segment columns of the pass-rate tables, in drop_out_points' order.
SEGMENT_COLUMNS: tuple[str, ...] = ("campaign_id", "entry_route", "application_year")


def drop_out_points(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Flagged rows of the pass-rate tables with parity figures and Holm p-values.

    The Holm family is one per source table: every non-NULL ``fisher_p_value`` of that
    table (all segments, flagged or not). The reference rate for parity is the reference
    group's ``pass_rate`` in the same segment, dimension and stage. Segment columns a
    source does not have are NULL; NULLs sort last.
    """
    out: list[dict[str, Any]] = []
    for name, rows in tables.items():
        idx = [i for i, r in enumerate(rows) if r["fisher_p_value"] is not None]
        holm: dict[int, float] = {}
        if idx:
            adj = multipletests([rows[i]["fisher_p_value"] for i in idx], method="holm")[1]
            holm = {i: float(v) for i, v in zip(idx, adj)}

        def where(r: dict[str, Any]) -> tuple:
            return (*(r.get(c) for c in SEGMENT_COLUMNS), r["characteristic"], r["stage"])

        ref_rate = {
            where(r): r["pass_rate"] for r in rows if r["group_name"] == r["reference_group"]
        }
        for i, r in enumerate(rows):
            if not r["flagged"]:
                continue
            decided = r["passed"] + r["failed"] + r["withdrawn"]
            expected = decided * ref_rate[where(r)]
            out.append(
                {
                    "source_table": name,
                    **{c: r.get(c) for c in SEGMENT_COLUMNS},
                    **{k: v for k, v in r.items() if k not in SEGMENT_COLUMNS},
                    "expected_passed_at_parity": expected,
                    "shortfall": expected - r["passed"],
                    "holm_p_value": holm[i],
                }
            )

    def nulls_last(v: Any) -> tuple:
        return (v is None, v if v is not None else "")

    out.sort(
        key=lambda r: (
            -r["shortfall"],
            r["source_table"],
            *(nulls_last(r[c]) for c in SEGMENT_COLUMNS),
            r["characteristic"],
            r["group_name"],
            r["stage_order"],
        )
    )
    return out


# ---------------------------------------------------------------------------------------
# Section 7: durations, representation, interventions
# ---------------------------------------------------------------------------------------


def stage_durations(
    apps: list[Application], config: Config = DEFAULT_CONFIG
) -> list[dict[str, Any]]:
    """Signed days from the previous stage's effective pass to the stage's outcome (2..N)."""
    rows = []
    for dim in _single_dimensions(config):
        by_group = _by_group(apps, dim)
        for g in sorted(by_group):
            for prev, s in pairwise(config.stages):
                days = []
                for a in by_group[g]:
                    cur, before = a.outcomes.get(s), a.outcomes.get(prev)
                    if cur is not None and before is not None and before.outcome == "passed":
                        days.append(_days(cur.occurred_at - before.occurred_at))
                rows.append(
                    {
                        "characteristic": dim.name,
                        "group_name": g,
                        "stage": s,
                        "stage_order": config.stage_order(s),
                        "n": len(days),
                        "median_days": quantile_cont(days, 0.5),
                        "p90_days": quantile_cont(days, 0.9),
                    }
                )
    return rows


def representation(
    apps: list[Application],
    population: Mapping[tuple[str, str], float],
    config: Config = DEFAULT_CONFIG,
) -> list[dict[str, Any]]:
    """Applicant / appointed (passed the final stage) shares among stated groups."""
    rows = []
    for ch in config.characteristics:
        n_apps: dict[str, int] = defaultdict(int)
        n_appointed: dict[str, int] = defaultdict(int)
        for a in apps:
            g = a.groups[ch.name]
            if g == NOT_STATED:
                continue
            n_apps[g] += 1
            if a.outcome(config.final_stage) == "passed":
                n_appointed[g] += 1
        tot_apps, tot_appointed = sum(n_apps.values()), sum(n_appointed.values())
        for g in ch.groups:
            pop = population.get((ch.name, g))
            if n_apps[g] == 0 and pop is None:
                continue
            a_share = _div(n_apps[g], tot_apps)
            p_share = _div(n_appointed[g], tot_appointed)
            rows.append(
                {
                    "characteristic": ch.name,
                    "group_name": g,
                    "applications": n_apps[g],
                    "applicant_share": a_share,
                    "appointed": n_appointed[g],
                    "appointed_share": p_share,
                    "population_share": pop,
                    "applicant_ratio": None if a_share is None or not pop else a_share / pop,
                    "appointed_ratio": None if p_share is None or not pop else p_share / pop,
                }
            )
    return rows


def intervention_effects(
    apps: list[Application],
    interventions: list[Intervention],
    config: Config = DEFAULT_CONFIG,
) -> list[dict[str, Any]]:
    """Before/after pass rates around each intervention, per stage and group.

    Each funnel application's effective outcome at the stage is placed by its
    ``occurred_at``: before = earlier than ``started_on`` 00:00 UTC; after = from
    ``started_on`` 00:00 UTC up to, not including, ``ended_on`` 00:00 UTC (or open).
    Outcomes at or after ``ended_on`` are in neither window. A blank stage is every
    configured stage.
    """
    rows = []
    for iv in interventions:
        start = _midnight_utc(iv.started_on)
        end = None if iv.ended_on is None else _midnight_utc(iv.ended_on)
        scope = [a for a in apps if iv.campaign_id is None or a.campaign_id == iv.campaign_id]
        for s in [iv.stage] if iv.stage else list(config.stages):
            for dim in _single_dimensions(config):
                tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
                for a in scope:
                    ev = a.outcomes.get(s)
                    if ev is None:
                        continue
                    t = tallies[dim.group_of(a)]
                    if ev.occurred_at < start:
                        t[0] += 1
                        t[1] += ev.outcome == "passed"
                    elif end is None or ev.occurred_at < end:
                        t[2] += 1
                        t[3] += ev.outcome == "passed"
                for g in sorted(tallies):
                    db, pb, da, pa = tallies[g]
                    if db + da == 0:
                        continue
                    rb, ra = _div(pb, db), _div(pa, da)
                    rows.append(
                        {
                            "intervention_id": iv.intervention_id,
                            "stage": s,
                            "stage_order": config.stage_order(s),
                            "characteristic": dim.name,
                            "group_name": g,
                            "decided_before": db,
                            "passed_before": pb,
                            "pass_rate_before": rb,
                            "decided_after": da,
                            "passed_after": pa,
                            "pass_rate_after": ra,
                            "pass_rate_difference": None if ra is None or rb is None else ra - rb,
                            "fisher_p_value": None
                            if db == 0 or da == 0
                            else fisher_p(pa, da, pb, db),
                        }
                    )
    return rows


# ---------------------------------------------------------------------------------------
# Section 9: recruits, leaving, retention and workforce flows
# ---------------------------------------------------------------------------------------


@dataclass
class Recruit:
    """A funnel application whose effective final-stage outcome is ``passed``."""

    app: Application
    start: datetime
    #: the earliest ``left_on`` of the leavers rows that belong to it
    leaving: datetime | None = None
    duration_days: float = 0.0

    @property
    def status(self) -> int:
        """1 with a leaving, else 0 (censored)."""
        return 0 if self.leaving is None else 1


def as_of_time(events: list[Event], leavers: list[Leaver]) -> datetime:
    """The latest ``occurred_at`` of any accepted event or ``left_on`` of any accepted
    leavers row - funnel or not, belonging to a recruit or not (section 9)."""
    instants = [e.occurred_at for e in events] + [lv.left_on for lv in leavers]
    return max(instants, default=datetime.min.replace(tzinfo=UTC))


def build_recruits(
    apps: list[Application], leavers: list[Leaver], as_of: datetime, config: Config
) -> list[Recruit]:
    """Recruits with their leaving and duration (section 9).

    A leavers row belongs to the person's recruit with the latest start on or before
    ``left_on`` (ties: the greatest ``campaign_id``); rows with no such recruit belong to
    none. Without a leaving, the duration runs to the start of the same person's next
    recruit, else to the as-of time. Interpretation: "next" is the next recruit in
    (start, campaign_id) order - the order the tie rule uses - so a same-instant second
    recruit ends the first at duration 0.
    """
    recruits: dict[str, list[Recruit]] = defaultdict(list)
    for a in apps:
        ev = a.outcomes.get(config.final_stage)
        if ev is not None and ev.outcome == "passed":
            recruits[a.applicant_id].append(Recruit(a, ev.occurred_at))
    for mine in recruits.values():
        mine.sort(key=lambda r: (r.start, r.app.campaign_id))
    for lv in leavers:
        owner = None
        for r in recruits.get(lv.applicant_id, []):  # ascending: the last match wins
            if r.start <= lv.left_on:
                owner = r
        if owner is not None and (owner.leaving is None or lv.left_on < owner.leaving):
            owner.leaving = lv.left_on
    out = []
    for mine in recruits.values():
        for i, r in enumerate(mine):
            if r.leaving is not None:
                end = r.leaving
            elif i + 1 < len(mine):
                end = mine[i + 1].start
            else:
                end = as_of
            r.duration_days = _days(end - r.start)
            out.append(r)
    return out


def retention(recruits: list[Recruit], config: Config) -> list[dict[str, Any]]:
    """``marts.retention``: Kaplan-Meier at 365/730 days, ratio and log-rank test per group."""
    rows = []
    for dim in _single_dimensions(config):
        by_group: dict[str, list[Recruit]] = defaultdict(list)
        for r in recruits:
            by_group[dim.group_of(r.app)].append(r)

        def km(rs: list[Recruit], t: float) -> float | None:
            return km_at([r.duration_days for r in rs], [r.status for r in rs], t)

        ref_rs = by_group.get(dim.reference or "", [])
        ref_12 = km(ref_rs, 365) if ref_rs else None
        for g in sorted(by_group):
            rs = by_group[g]
            r12 = km(rs, 365)
            ratio = p = None
            has_ratio = dim.reference is not None and g != dim.reference and not dim.no_ratio(g)
            if has_ratio and r12 is not None and ref_12:
                ratio = r12 / ref_12
                both = rs + ref_rs
                if any(r.status for r in both):
                    p = logrank_p(
                        [r.duration_days for r in both],
                        [r.status for r in both],
                        [0] * len(rs) + [1] * len(ref_rs),
                    )
            rows.append(
                {
                    "characteristic": dim.name,
                    "group_name": g,
                    "recruits": len(rs),
                    "leavers": sum(r.status for r in rs),
                    "retention_12_months": r12,
                    "retention_24_months": km(rs, 730),
                    "reference_group": dim.reference,
                    "retention_ratio": ratio,
                    "logrank_p_value": p,
                    "flagged": bool(p is not None and ratio is not None and p < 0.05 and ratio < 1),
                }
            )
    return rows


def financial_year(t: datetime) -> str:
    """UK financial year (1 April - 31 March, UTC) of an instant, labelled ``2021/22``."""
    start = t.year if t.month >= 4 else t.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


ALL_ROUTES = "All routes"


def workforce_flows(recruits: list[Recruit], config: Config) -> list[dict[str, Any]]:
    """``marts.workforce_flows``: hires and leavers by financial year, route and group.

    Hires count recruits by the year of their start; leavers count recruits with a
    leaving by the year of that leaving, with the recruit's route and groups. Every
    (year, route incl. ``All routes``, flow) with at least one recruit gets a row per
    characteristic and stated group, zeros included.
    """
    cells: dict[tuple[str, str, str], list[Application]] = defaultdict(list)
    for r in recruits:
        flows = [("hires", r.start)] + ([("leavers", r.leaving)] if r.leaving else [])
        for flow, when in flows:
            for route in (r.app.entry_route, ALL_ROUTES):
                cells[(financial_year(when), route, flow)].append(r.app)
    rows = []
    for (year, route, flow), members in sorted(cells.items()):
        for ch in config.characteristics:
            stated = [a for a in members if a.groups[ch.name] != NOT_STATED]
            for g in ch.groups:
                n = sum(1 for a in stated if a.groups[ch.name] == g)
                rows.append(
                    {
                        "financial_year": year,
                        "entry_route": route,
                        "flow": flow,
                        "characteristic": ch.name,
                        "group_name": g,
                        "total": len(members),
                        "stated": len(stated),
                        "group_count": n,
                        "share": _div(n, len(stated)),
                    }
                )
    return rows


# ---------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------

#: The pass-rate tables (sections 5, 7, 10), each a drop_out_points source.
PASS_RATE_TABLES: tuple[str, ...] = (
    "stage_pass_rates",
    "stage_pass_rates_by_campaign",
    "stage_pass_rates_by_entry_route",
    "intersectional_stage_pass_rates",
    "stage_pass_rates_by_year",
)


def compute_all(landing_dir: Path, config_path: str | Path | None = None) -> dict[str, Any]:
    """Every table of the contract v1.2 for one landing folder and configuration.

    ``config_path`` None is the built-in default (section 2); otherwise the section 8
    TOML file (:class:`ConfigError` when it is bad). Returns lists of row dicts under the
    mart table names (column names as in CONTRACT.md, NULL → None, booleans as bool),
    plus ``rejected_events`` (``file``, ``row_number`` - 1-based data row, header
    excluded -, ``reason``), ``rejected_leavers`` (the same), ``failed_files`` and
    ``accepted_event_count``.
    """
    config = load_config(config_path)
    landing_dir = Path(landing_dir)
    loaded = load_events(landing_dir, config)
    leavers = load_leavers(landing_dir)
    apps = build_applications(
        loaded.accepted, load_applicants(landing_dir), load_campaigns(landing_dir), config
    )
    leaver_rows = [v["leaver"] for v in leavers.accepted.values()]
    recruits = build_recruits(apps, leaver_rows, as_of_time(loaded.accepted, leaver_rows), config)

    def year(a: Application) -> tuple:
        return (_application_year(a, config),)

    rates = {
        "stage_pass_rates": pass_rate_rows(apps, _single_dimensions(config), config),
        "stage_pass_rates_by_campaign": _segmented(
            apps, lambda a: (a.campaign_id, a.entry_route), ("campaign_id", "entry_route"), config
        ),
        "stage_pass_rates_by_entry_route": _segmented(
            apps, lambda a: (a.entry_route,), ("entry_route",), config
        ),
        "intersectional_stage_pass_rates": pass_rate_rows(apps, _pair_dimensions(config), config),
        "stage_pass_rates_by_year": _segmented(apps, year, ("application_year",), config),
    }
    return {
        **rates,
        "drop_out_points": drop_out_points(rates),
        "pooled_stage_pass_rates": pooled_stage_pass_rates(apps, config),
        "stage_durations": stage_durations(apps, config),
        "representation": representation(apps, load_population(landing_dir, config), config),
        "intervention_effects": intervention_effects(
            apps, load_interventions(landing_dir, config), config
        ),
        "retention": retention(recruits, config),
        "workforce_flows": workforce_flows(recruits, config),
        "rejected_events": [
            {"file": r["file"], "row_number": r["row_number"], "reason": r["reason"]}
            for r in loaded.rejected
        ],
        "rejected_leavers": [
            {"file": r["file"], "row_number": r["row_number"], "reason": r["reason"]}
            for r in leavers.rejected
        ],
        "failed_files": loaded.failed_files,
        "accepted_event_count": len(loaded.accepted),
    }
