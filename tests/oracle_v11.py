"""FROZEN v1.1 copy of the oracle, for the tests of the pipeline as it is today.

The pipeline still implements contract v1.1, and v1.2 changed rules it is tested on
(``±hh:mm`` offsets only, trimmed duplicate content, the prefix rule, new columns and
tables), so its tests compare with this unchanged copy of ``tests/oracle.py`` as it was
at v1.1. Do not extend it: ``tests/oracle.py`` is the v1.2 oracle. Delete this file when
the pipeline implements v1.2 and its tests import ``oracle`` again.

Independent reference implementation ("oracle") of the funnel data contract.

This module recomputes every published table of ``/work/shared/CONTRACT.md``
(sections 1-7) from a landing folder in plain Python, so the tests can check the
DuckDB pipeline against figures that were *not* produced by the same SQL.

Independence is the point, hence:

* no DuckDB and no import from ``funnel_pipeline``: the vocabulary of section 2 is
  spelled out again below, from the contract text;
* statistics come from the reference libraries the contract names or implies
  (``statsmodels`` Wilson interval and Holm adjustment, ``scipy`` Fisher test);
* every rule is written as directly as possible from the contract wording, with the
  interpretation of the ambiguous ones documented where they are applied (and
  verified against the independently computed samples in ``tests/fixtures``).

Public API: :func:`compute_all`.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

# ---------------------------------------------------------------------------------------
# Section 2: vocabulary (written independently of funnel_pipeline.contract)
# ---------------------------------------------------------------------------------------

STAGES: tuple[str, ...] = ("application", "sift", "assessment", "vetting", "appointment")
STAGE_ORDER: dict[str, int] = {s: i for i, s in enumerate(STAGES, start=1)}

_STAGE_ALIASES: dict[str, str] = {
    "application": "application",
    "apply": "application",
    "applied": "application",
    "sift": "sift",
    "paper sift": "sift",
    "application sift": "sift",
    "shortlisting": "sift",
    "assessment": "assessment",
    "search": "assessment",
    "online assessment": "assessment",
    "assessment centre": "assessment",
    "assessment center": "assessment",
    "oac": "assessment",
    "vetting": "vetting",
    "vetting check": "vetting",
    "security vetting": "vetting",
    "appointment": "appointment",
    "appointed": "appointment",
    "offer": "appointment",
    "appointment offer": "appointment",
}

_OUTCOME_ALIASES: dict[str, str] = {
    "passed": "passed",
    "pass": "passed",
    "successful": "passed",
    "success": "passed",
    "failed": "failed",
    "fail": "failed",
    "unsuccessful": "failed",
    "withdrawn": "withdrawn",
    "withdrew": "withdrawn",
    "withdraw": "withdrawn",
    "withdrawal": "withdrawn",
}

NOT_STATED = "Not stated"

#: Characteristics in contract order; canonical groups with the reference group first.
GROUPS: dict[str, tuple[str, ...]] = {
    "sex": ("Male", "Female", NOT_STATED),
    "ethnicity": ("White", "Asian", "Black", "Mixed", "Other", NOT_STATED),
    "ethnic_minority": ("No", "Yes", NOT_STATED),
    "disability": ("No", "Yes", NOT_STATED),
    "sexual_orientation": ("Heterosexual", "Gay or Lesbian", "Bisexual", "Other", NOT_STATED),
    "lgbt_plus": ("No", "Yes", NOT_STATED),
}
CHARACTERISTICS: tuple[str, ...] = tuple(GROUPS)
REFERENCE: dict[str, str] = {c: g[0] for c, g in GROUPS.items()}

#: Section 7: intersectional pairs are drawn from these, "first of the pair in that order".
INTERSECTIONAL_BASE: tuple[str, ...] = ("sex", "ethnic_minority", "disability", "lgbt_plus")

_SEX: dict[str, str] = {
    "male": "Male",
    "m": "Male",
    "man": "Male",
    "female": "Female",
    "f": "Female",
    "woman": "Female",
}
_DISABILITY: dict[str, str] = {"yes": "Yes", "no": "No"}
_ORIENTATION: dict[str, str] = {
    "heterosexual": "Heterosexual",
    "straight": "Heterosexual",
    "gay or lesbian": "Gay or Lesbian",
    "gay": "Gay or Lesbian",
    "lesbian": "Gay or Lesbian",
    "gay man": "Gay or Lesbian",
    "gay woman": "Gay or Lesbian",
    "bisexual": "Bisexual",
    "other": "Other",
}
#: Explicit "did not say" spellings; they map to Not stated like unrecognised values.
_NOT_STATED_SPELLINGS = frozenset({"", "prefer not to say", "not stated", "unknown"})


def _norm(value: Any) -> str:
    """Vocabulary matching key: case-insensitive, surrounding white space ignored."""
    return "" if value is None else str(value).strip().lower()


def canonical_stage(value: Any) -> str | None:
    """Canonical stage for a delivered spelling, or None when not in the vocabulary."""
    return _STAGE_ALIASES.get(_norm(value))


def canonical_outcome(value: Any) -> str | None:
    """Canonical outcome for a delivered spelling, or None when not in the vocabulary."""
    return _OUTCOME_ALIASES.get(_norm(value))


def _ethnicity(value: Any) -> str | None:
    """ONS ethnicity, high-level or detailed, mapped by its leading words (section 2).

    ``White…``/``Asian…``/``Black…``/``Mixed…`` map by their first word (so
    ``Black, Black British, …: African`` is Black and ``Mixed or Multiple …`` is
    Mixed); ``Other ethnic group…`` or ``Arab`` (and the high-level ``Other``) → Other.
    """
    v = _norm(value)
    for word, group in (
        ("white", "White"),
        ("asian", "Asian"),
        ("black", "Black"),
        ("mixed", "Mixed"),
    ):
        if re.match(rf"{word}\b", v):
            return group
    if v in ("other", "arab") or re.match(r"other ethnic group\b", v):
        return "Other"
    return None


def recognised_group(characteristic: str, value: Any) -> str | None:
    """Canonical *stated* group of a raw value, or None when blank/not stated/unknown."""
    v = _norm(value)
    if characteristic == "sex":
        return _SEX.get(v)
    if characteristic == "ethnicity":
        return _ethnicity(value)
    if characteristic == "ethnic_minority":
        eth = _ethnicity(value)
        return None if eth is None else ("No" if eth == "White" else "Yes")
    if characteristic == "disability":
        return _DISABILITY.get(v)
    if characteristic == "sexual_orientation":
        return _ORIENTATION.get(v)
    if characteristic == "lgbt_plus":
        so = _ORIENTATION.get(v)
        return None if so is None else ("No" if so == "Heterosexual" else "Yes")
    raise ValueError(characteristic)


#: Which applicants column each characteristic is derived from.
_SOURCE_COLUMN: dict[str, str] = {
    "sex": "sex",
    "ethnicity": "ethnicity",
    "ethnic_minority": "ethnicity",
    "disability": "disability",
    "sexual_orientation": "sexual_orientation",
    "lgbt_plus": "sexual_orientation",
}


def applicant_groups(row: dict[str, Any] | None) -> dict[str, str]:
    """Canonical group of every characteristic; no applicants row → Not stated everywhere."""
    if row is None:
        return {c: NOT_STATED for c in CHARACTERISTICS}
    return {
        c: recognised_group(c, row.get(_SOURCE_COLUMN[c])) or NOT_STATED for c in CHARACTERISTICS
    }


def canonical_population_group(characteristic: str, value: Any) -> str | None:
    """Group of a population row: a canonical group or alias of section 2, else None.

    Canonical names are matched first (the derived ``ethnic_minority`` / ``lgbt_plus``
    groups are plain ``Yes``/``No``); ``Not stated`` is a canonical group too, so it is
    accepted (it never reaches the representation table, which has stated groups only).
    """
    for g in GROUPS[characteristic]:  # canonical names, incl. derived Yes/No and Not stated
        if _norm(value) == _norm(g):
            return g
    return recognised_group(characteristic, value)


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

_TS_RE = re.compile(
    r"""^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})
        (?:[T\s](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?
           \s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?$""",
    re.VERBOSE | re.IGNORECASE,
)


def parse_timestamp(value: Any) -> datetime | None:
    """ISO 8601 date or date-time → aware UTC datetime, or None when unparseable.

    * a bare date is midnight UTC (contract section 1.2);
    * a date-time without offset is taken as UTC (the contract stores in UTC and
      names no other zone; verified against the samples, which contain
      ``2022-02-17 10:01:07`` style values);
    * ``Z`` / ``+01:00`` / ``+0100`` / ``+01`` offsets are converted to UTC;
    * a space or ``T`` separates date and time; fractional seconds are kept to the
      microsecond;
    * anything else (``31/02/2023 10:00``, ``not a date``, impossible dates) is None.
    """
    if value is None:
        return None
    m = _TS_RE.match(str(value).strip())
    if not m:
        return None
    try:
        if m.group("h") is None:
            return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), tzinfo=UTC)
        micro = int((m["f"] or "0")[:6].ljust(6, "0"))
        tz = UTC
        off = m["tz"]
        if off and off.upper() != "Z":
            sign = 1 if off[0] == "+" else -1
            digits = off[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
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
            micro,
            tzinfo=tz,
        )
    except ValueError:
        return None
    return dt.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """ISO calendar date (``YYYY-MM-DD``) or None (e.g. ``TBC``)."""
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


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


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


#: Interpretation switches. The defaults reproduce the independently computed
#: samples in tests/fixtures; the alternatives are kept so a different reading can be
#: tried without rewriting the rules.
#:
#: Whether rows already rejected by rules 1-3 also take part in rule 4. The samples
#: cannot tell (no rejected row shares its event_id with another row, apart from
#: blank ids, which rule 1 rejects anyway). Default: no - a row with a reason is not
#: an event, and a blank/unparseable field cannot make a valid copy "conflicting".
DUPLICATES_INCLUDE_INVALID_ROWS = False
#: "raw" (samples): two copies are the same content only if the delivered text of the
#: six contract columns is identical. Re-deliveries spelling the same canonical
#: outcome differently (``passed`` vs ``Success``) ARE conflicting - with "canonical"
#: the samples are not reproduced.
DUPLICATE_CONTENT = "raw"


def _check_event(raw: dict[str, str | None]) -> tuple[Event | None, str | None]:
    """Rules 1-3 in contract order; the first failing rule gives the reason."""
    for col in EVENT_COLUMNS:
        if _blank(raw.get(col)):
            return None, f"missing required field: {col}"
    stage = canonical_stage(raw["stage"])
    if stage is None:
        return None, f"unknown stage: {raw['stage']!r}"
    outcome = canonical_outcome(raw["outcome"])
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


def _content_key(c: _Candidate) -> tuple:
    """What "same content" means for the duplicate rule (see ``DUPLICATE_CONTENT``).

    ``raw`` (default, reproduces the samples): the delivered text of the six
    contract columns, compared exactly; extra columns are ignored. ``canonical``:
    the canonical event - trimmed ids, canonical stage and outcome, occurred_at as a
    UTC instant.
    """
    if c.event is not None and DUPLICATE_CONTENT == "canonical":
        return ("ok", c.event)
    return ("raw", tuple(c.raw.get(k) for k in EVENT_COLUMNS))


@dataclass
class LoadedEvents:
    accepted: list[Event]
    rejected: list[dict[str, Any]]
    failed_files: list[dict[str, str]]


def load_events(landing_dir: Path) -> LoadedEvents:
    """Read every events file, apply rules 1-4, de-duplicate identical re-deliveries."""
    candidates: list[_Candidate] = []
    failed: list[dict[str, str]] = []
    for path in _landing_files(landing_dir, "events"):
        try:
            rows = read_rows(path, EVENT_COLUMNS)
        except UnreadableFile as exc:
            failed.append({"file": path.name, "reason": str(exc)})
            continue
        for i, raw in enumerate(rows, start=1):
            event, reason = _check_event(raw)
            candidates.append(_Candidate(path.name, i, raw, event, reason))

    # Rule 4: group by event_id the rows that take part in the duplicate rule.
    by_id: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        if c.event is not None:
            by_id[c.event.event_id].append(c)
        elif DUPLICATES_INCLUDE_INVALID_ROWS and not _blank(c.raw.get("event_id")):
            by_id[str(c.raw["event_id"]).strip()].append(c)
    for copies in by_id.values():
        if len({_content_key(c) for c in copies}) > 1:
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
# Applicants (section 1.1) and optional inputs (section 6)
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


def _keyed_optional(
    landing_dir: Path,
    prefix: str,
    required: tuple[str, ...],
    check: Callable[[dict[str, str | None]], tuple[tuple | None, dict | None, str | None]],
) -> tuple[dict[tuple, dict], list[dict[str, Any]]]:
    """Generic section-6 loader: validate rows, then the key-conflict rule.

    ``check(raw)`` returns (key, canonical content, reason). Rows with the same key
    and different canonical content are all rejected; identical copies count once.
    """
    cands: list[tuple[str, int, dict, tuple | None, dict | None, str | None]] = []
    rejected: list[dict[str, Any]] = []
    for path in _landing_files(landing_dir, prefix):
        try:
            rows = read_rows(path, required)
        except UnreadableFile as exc:
            rejected.append({"file": path.name, "row_number": None, "reason": str(exc)})
            continue
        for i, raw in enumerate(rows, start=1):
            missing = [c for c in required if _blank(raw.get(c))]
            if missing:
                cands.append(
                    (path.name, i, raw, None, None, f"missing required field: {missing[0]}")
                )
                continue
            key, content, reason = check(raw)
            cands.append((path.name, i, raw, key, content, reason))
    contents: dict[tuple, set] = defaultdict(set)
    for _f, _i, _raw, key, content, reason in cands:
        if reason is None:
            contents[key].add(tuple(sorted(content.items(), key=lambda kv: kv[0])))
    accepted: dict[tuple, dict] = {}
    for fname, i, raw, key, content, reason in cands:
        if reason is None and len(contents[key]) > 1:
            reason = f"conflicting duplicate {prefix} key"
        if reason is not None:
            rejected.append({"file": fname, "row_number": i, "reason": reason, "row": raw})
        else:
            accepted.setdefault(key, content)
    return accepted, rejected


def _strip_or_none(v: Any) -> str | None:
    return None if _blank(v) else str(v).strip()


def load_campaigns(landing_dir: Path) -> dict[str, str]:
    """campaign_id → entry_route (trimmed, compared exactly) from accepted rows."""

    def check(raw: dict) -> tuple:
        opened, closed = raw.get("opened_on"), raw.get("closed_on")
        for v in (opened, closed):
            if not _blank(v) and parse_date(v) is None:
                return None, None, f"unparseable date: {v!r}"
        cid = str(raw["campaign_id"]).strip()
        content = {
            "campaign_id": cid,
            "entry_route": str(raw["entry_route"]).strip(),
            "title": _strip_or_none(raw.get("title")),
            "opened_on": parse_date(opened),
            "closed_on": parse_date(closed),
        }
        return (cid,), content, None

    accepted, _ = _keyed_optional(landing_dir, "campaigns", ("campaign_id", "entry_route"), check)
    return {k[0]: v["entry_route"] for k, v in accepted.items()}


def load_population(landing_dir: Path) -> dict[tuple[str, str], float]:
    """(characteristic, canonical group) → population_share from accepted rows."""

    def check(raw: dict) -> tuple:
        ch = _norm(raw["characteristic"])
        if ch not in GROUPS:
            return None, None, f"unknown characteristic: {raw['characteristic']!r}"
        grp = canonical_population_group(ch, raw["group_name"])
        if grp is None:
            return None, None, f"unknown group_name: {raw['group_name']!r}"
        try:
            share = float(str(raw["population_share"]).strip())
        except ValueError:
            return None, None, f"unparseable population_share: {raw['population_share']!r}"
        if not (0.0 <= share <= 1.0) or math.isnan(share):
            return None, None, f"population_share outside [0, 1]: {share}"
        content = {
            "characteristic": ch,
            "group_name": grp,
            "population_share": share,
            "area": _strip_or_none(raw.get("area")),
            "source": _strip_or_none(raw.get("source")),
        }
        return (ch, grp), content, None

    accepted, _ = _keyed_optional(
        landing_dir, "population", ("characteristic", "group_name", "population_share"), check
    )
    return {k: v["population_share"] for k, v in accepted.items()}


@dataclass(frozen=True)
class Intervention:
    intervention_id: str
    name: str
    started_on: date
    ended_on: date | None
    stage: str | None
    campaign_id: str | None


def load_interventions(landing_dir: Path) -> list[Intervention]:
    """Accepted interventions, sorted by id."""

    def check(raw: dict) -> tuple:
        started = parse_date(raw["started_on"])
        if started is None:
            return None, None, f"unparseable started_on: {raw['started_on']!r}"
        ended = None
        if not _blank(raw.get("ended_on")):
            ended = parse_date(raw["ended_on"])
            if ended is None:
                return None, None, f"unparseable ended_on: {raw['ended_on']!r}"
        stage = None
        if not _blank(raw.get("stage")):
            stage = canonical_stage(raw["stage"])
            if stage is None:
                return None, None, f"unknown stage: {raw['stage']!r}"
        iid = str(raw["intervention_id"]).strip()
        content = {
            "intervention_id": iid,
            "name": str(raw["name"]).strip(),
            "started_on": started,
            "ended_on": ended,
            "stage": stage,
            "campaign_id": _strip_or_none(raw.get("campaign_id")),
        }
        return (iid,), content, None

    accepted, _ = _keyed_optional(
        landing_dir, "interventions", ("intervention_id", "name", "started_on"), check
    )
    return sorted((Intervention(**v) for v in accepted.values()), key=lambda i: i.intervention_id)


# ---------------------------------------------------------------------------------------
# Section 4: applications and their outcomes
# ---------------------------------------------------------------------------------------


@dataclass
class Application:
    """A funnel application: (applicant_id, campaign_id) with an application outcome."""

    applicant_id: str
    campaign_id: str
    entry_route: str
    groups: dict[str, str]
    #: stage → effective (latest) accepted event at that stage
    outcomes: dict[str, Event] = field(default_factory=dict)

    def outcome(self, stage: str) -> str | None:
        ev = self.outcomes.get(stage)
        return None if ev is None else ev.outcome


def build_applications(
    events: list[Event],
    applicants: dict[str, dict[str, str | None]],
    campaigns: dict[str, str],
) -> list[Application]:
    """Effective outcome per application and stage; keep funnel applications only.

    The effective event is the latest ``occurred_at``, ties broken by the greatest
    ``event_id``. Applications without an accepted ``application`` event are left
    out of every metric (section 4).
    """
    latest: dict[tuple[str, str], dict[str, Event]] = defaultdict(dict)
    for ev in events:
        per_stage = latest[(ev.applicant_id, ev.campaign_id)]
        cur = per_stage.get(ev.stage)
        if cur is None or (ev.occurred_at, ev.event_id) > (cur.occurred_at, cur.event_id):
            per_stage[ev.stage] = ev
    apps = []
    for (applicant_id, campaign_id), per_stage in latest.items():
        if "application" not in per_stage:
            continue
        apps.append(
            Application(
                applicant_id=applicant_id,
                campaign_id=campaign_id,
                entry_route=campaigns.get(campaign_id, "Unknown"),
                groups=applicant_groups(applicants.get(applicant_id)),
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


def quantile_cont(values: list[float], q: float) -> float | None:
    """Linear-interpolation quantile (numpy default / DuckDB ``quantile_cont``)."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


# ---------------------------------------------------------------------------------------
# Section 5 / 7: pass-rate tables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """A way of grouping applications: a characteristic, a pair of them, or ``all``."""

    name: str
    group_of: Callable[[Application], str]
    reference: str | None  # None for ``all``
    #: a group that gets no ratio/test besides the reference group itself
    no_ratio: Callable[[str], bool]


def _single_dimensions() -> list[Dimension]:
    dims = [Dimension("all", lambda a: "All", None, lambda g: True)]
    for ch in CHARACTERISTICS:
        dims.append(
            Dimension(ch, (lambda a, ch=ch: a.groups[ch]), REFERENCE[ch], lambda g: g == NOT_STATED)
        )
    return dims


def _pair_dimensions() -> list[Dimension]:
    dims = []
    for c1, c2 in combinations(INTERSECTIONAL_BASE, 2):
        dims.append(
            Dimension(
                f"{c1} x {c2}",
                (lambda a, c1=c1, c2=c2: f"{a.groups[c1]} x {a.groups[c2]}"),
                f"{REFERENCE[c1]} x {REFERENCE[c2]}",
                lambda g: NOT_STATED in g.split(" x "),
            )
        )
    return dims


@dataclass
class _Counts:
    passed: int = 0
    failed: int = 0
    withdrawn: int = 0
    pending: int = 0

    @property
    def decided(self) -> int:
        return self.passed + self.failed + self.withdrawn


def _stage_counts(apps: list[Application], stage: str) -> _Counts:
    c = _Counts()
    prev = STAGES[STAGE_ORDER[stage] - 2] if STAGE_ORDER[stage] > 1 else None
    for a in apps:
        out = a.outcome(stage)
        if out is not None:
            setattr(c, out, getattr(c, out) + 1)
        elif prev is not None and a.outcome(prev) == "passed":
            c.pending += 1
    return c


def pass_rate_rows(apps: list[Application], dims: list[Dimension]) -> list[dict[str, Any]]:
    """Section 5 rows for one segment (all figures computed within ``apps``).

    One row per dimension, group with at least one application in the segment, and
    each of the five stages (zero-count stages included). ``reference_group`` is
    filled on every row of a characteristic, the reference group's own row included.
    """
    rows: list[dict[str, Any]] = []
    for dim in dims:
        by_group: dict[str, list[Application]] = defaultdict(list)
        for a in apps:
            by_group[dim.group_of(a)].append(a)
        counts = {g: {s: _stage_counts(ga, s) for s in STAGES} for g, ga in by_group.items()}
        for g in sorted(by_group):
            n_apps = len(by_group[g])
            for s in STAGES:
                c = counts[g][s]
                rate = _div(c.passed, c.decided)
                lo, hi = wilson(c.passed, c.decided)
                air = p = None
                if dim.reference is not None and g != dim.reference and not dim.no_ratio(g):
                    ref = counts.get(dim.reference, {}).get(s)
                    ref_rate = None if ref is None else _div(ref.passed, ref.decided)
                    if rate is not None and ref_rate is not None and ref_rate != 0:
                        air = rate / ref_rate
                        p = fisher_p(c.passed, c.decided, ref.passed, ref.decided)
                rows.append(
                    {
                        "characteristic": dim.name,
                        "group_name": g,
                        "stage": s,
                        "stage_order": STAGE_ORDER[s],
                        "entered": c.decided + c.pending,
                        "passed": c.passed,
                        "failed": c.failed,
                        "withdrawn": c.withdrawn,
                        "pending": c.pending,
                        "pass_rate": rate,
                        "pass_rate_ci_low": lo,
                        "pass_rate_ci_high": hi,
                        "cumulative_pass_rate": _div(c.passed, n_apps),
                        "reference_group": dim.reference,
                        "adverse_impact_ratio": air,
                        "fisher_p_value": p,
                        "flagged": bool(
                            air is not None and p is not None and air < 0.8 and p < 0.05
                        ),
                    }
                )
    return rows


def _segmented(
    apps: list[Application], seg_key: Callable[[Application], tuple], seg_cols: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Pass-rate rows per segment, the segment columns first."""
    segs: dict[tuple, list[Application]] = defaultdict(list)
    for a in apps:
        segs[seg_key(a)].append(a)
    out = []
    for key in sorted(segs):
        for r in pass_rate_rows(segs[key], _single_dimensions()):
            out.append({**dict(zip(seg_cols, key)), **r})
    return out


# ---------------------------------------------------------------------------------------
# Section 7: drop-out points
# ---------------------------------------------------------------------------------------


def drop_out_points(tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Flagged rows of the four pass-rate tables with parity figures and Holm p-values.

    The Holm family is one per source table: every non-NULL ``fisher_p_value`` of
    that table (all segments, flagged or not). The reference rate for parity is the
    reference group's ``pass_rate`` in the same segment, dimension and stage.
    """
    out: list[dict[str, Any]] = []
    for name, rows in tables.items():
        idx = [i for i, r in enumerate(rows) if r["fisher_p_value"] is not None]
        holm = {}
        if idx:
            adj = multipletests([rows[i]["fisher_p_value"] for i in idx], method="holm")[1]
            holm = {i: float(v) for i, v in zip(idx, adj)}
        ref_rate = {
            (r.get("campaign_id"), r.get("entry_route"), r["characteristic"], r["stage"]): r[
                "pass_rate"
            ]
            for r in rows
            if r["group_name"] == r["reference_group"]
        }
        for i, r in enumerate(rows):
            if not r["flagged"]:
                continue
            decided = r["passed"] + r["failed"] + r["withdrawn"]
            rr = ref_rate[
                (r.get("campaign_id"), r.get("entry_route"), r["characteristic"], r["stage"])
            ]
            expected = decided * rr
            out.append(
                {
                    "source_table": name,
                    "campaign_id": r.get("campaign_id"),
                    "entry_route": r.get("entry_route"),
                    **{k: v for k, v in r.items() if k not in ("campaign_id", "entry_route")},
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
            nulls_last(r["campaign_id"]),
            nulls_last(r["entry_route"]),
            r["characteristic"],
            r["group_name"],
            r["stage_order"],
        )
    )
    return out


# ---------------------------------------------------------------------------------------
# Section 7: durations, representation, interventions
# ---------------------------------------------------------------------------------------


def stage_durations(apps: list[Application]) -> list[dict[str, Any]]:
    """Signed days between the effective outcome at a stage and the previous stage's pass."""
    rows = []
    for dim in _single_dimensions():
        by_group: dict[str, list[Application]] = defaultdict(list)
        for a in apps:
            by_group[dim.group_of(a)].append(a)
        for g in sorted(by_group):
            for s in STAGES[1:]:
                prev = STAGES[STAGE_ORDER[s] - 2]
                days = []
                for a in by_group[g]:
                    cur, before = a.outcomes.get(s), a.outcomes.get(prev)
                    if cur is not None and before is not None and before.outcome == "passed":
                        days.append((cur.occurred_at - before.occurred_at).total_seconds() / 86400)
                rows.append(
                    {
                        "characteristic": dim.name,
                        "group_name": g,
                        "stage": s,
                        "stage_order": STAGE_ORDER[s],
                        "n": len(days),
                        "median_days": quantile_cont(days, 0.5),
                        "p90_days": quantile_cont(days, 0.9),
                    }
                )
    return rows


def representation(
    apps: list[Application], population: dict[tuple[str, str], float]
) -> list[dict[str, Any]]:
    """Applicant / appointed shares among stated groups against population shares."""
    rows = []
    for ch in CHARACTERISTICS:
        n_apps: dict[str, int] = defaultdict(int)
        n_appointed: dict[str, int] = defaultdict(int)
        for a in apps:
            g = a.groups[ch]
            if g == NOT_STATED:
                continue
            n_apps[g] += 1
            if a.outcome("appointment") == "passed":
                n_appointed[g] += 1
        tot_apps, tot_appointed = sum(n_apps.values()), sum(n_appointed.values())
        for g in GROUPS[ch]:
            if g == NOT_STATED:
                continue
            pop = population.get((ch, g))
            if n_apps[g] == 0 and pop is None:
                continue
            a_share = _div(n_apps[g], tot_apps)
            p_share = _div(n_appointed[g], tot_appointed)
            rows.append(
                {
                    "characteristic": ch,
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
    apps: list[Application], interventions: list[Intervention]
) -> list[dict[str, Any]]:
    """Before/after pass rates around each intervention, per stage and group.

    Each funnel application's effective outcome at the stage is placed by its
    ``occurred_at``: before = earlier than ``started_on`` 00:00 UTC; after = from
    ``started_on`` 00:00 UTC up to, not including, ``ended_on`` 00:00 UTC (or open).
    Outcomes at or after ``ended_on`` are in neither window.
    """
    rows = []
    for iv in interventions:
        start = _midnight_utc(iv.started_on)
        end = None if iv.ended_on is None else _midnight_utc(iv.ended_on)
        scope = [a for a in apps if iv.campaign_id is None or a.campaign_id == iv.campaign_id]
        for s in [iv.stage] if iv.stage else list(STAGES):
            for dim in _single_dimensions():
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
                            "stage_order": STAGE_ORDER[s],
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
# Entry point
# ---------------------------------------------------------------------------------------


def compute_all(landing_dir: Path) -> dict[str, Any]:
    """Every table of the contract for one landing folder.

    Returns lists of row dicts (column names as in CONTRACT.md sections 5 and 7,
    NULL → None, booleans as bool) under the mart table names, plus
    ``rejected_events`` (``file``, ``row_number`` - 1-based data row, header
    excluded -, ``reason``), ``failed_files`` and ``accepted_event_count``.
    """
    landing_dir = Path(landing_dir)
    loaded = load_events(landing_dir)
    applicants = load_applicants(landing_dir)
    campaigns = load_campaigns(landing_dir)
    population = load_population(landing_dir)
    interventions = load_interventions(landing_dir)
    apps = build_applications(loaded.accepted, applicants, campaigns)

    spr = pass_rate_rows(apps, _single_dimensions())
    by_campaign = _segmented(
        apps, lambda a: (a.campaign_id, a.entry_route), ("campaign_id", "entry_route")
    )
    by_route = _segmented(apps, lambda a: (a.entry_route,), ("entry_route",))
    inter = pass_rate_rows(apps, _pair_dimensions())
    return {
        "stage_pass_rates": spr,
        "stage_pass_rates_by_campaign": by_campaign,
        "stage_pass_rates_by_entry_route": by_route,
        "intersectional_stage_pass_rates": inter,
        "drop_out_points": drop_out_points(
            {
                "stage_pass_rates": spr,
                "stage_pass_rates_by_campaign": by_campaign,
                "stage_pass_rates_by_entry_route": by_route,
                "intersectional_stage_pass_rates": inter,
            }
        ),
        "stage_durations": stage_durations(apps),
        "representation": representation(apps, population),
        "intervention_effects": intervention_effects(apps, interventions),
        "rejected_events": [
            {"file": r["file"], "row_number": r["row_number"], "reason": r["reason"]}
            for r in loaded.rejected
        ],
        "failed_files": loaded.failed_files,
        "accepted_event_count": len(loaded.accepted),
    }
