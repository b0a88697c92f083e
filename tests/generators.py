"""Seeded generators of section 8 configurations and landing folders consistent with them.

The contract's acceptance checks use hidden configurations and data (other stage names,
characteristics, column names and sizes), so the pipeline's property tests need more
than the two fixture configurations. These generators provide that variety from one
integer seed each - plain :class:`random.Random`, so a failing case is reproduced from
its seed alone and hypothesis can drive them with ``st.integers()``::

    @given(st.integers(min_value=0, max_value=2**32 - 1))
    def test_something(tmp_path_factory, seed):
        config_path, landing = write_case(tmp_path_factory.mktemp("case"), seed)

* :func:`random_config` → the TOML text of a random **valid** configuration: 2-10 stages
  with aliases, outcome aliases (some keys replaced, some kept), not-stated spellings,
  1-8 characteristics mixing delivered, derived and age-band ones, reference groups not
  always first, columns named differently from the characteristic, some intersectional,
  a random ``sift_stage``.
* :func:`write_landing` → a landing folder for any configuration text (it reads the TOML
  itself): events as CSV (BOM, CRLF, odd header case) and Parquet, stage and outcome
  aliases in odd case and spacing, bad rows of every kind of section 3, identical and
  conflicting duplicates, superseding and out-of-sequence events, orphans; applicants
  with synonyms, prefix spellings, unrecognised values, good and bad dates of birth, a
  later file overriding an earlier one; campaigns with a missing and a bad row; leavers
  with conflicts, identical copies, second leavings, rows before the start and for
  people never recruited.

Nothing here imports the oracle or the pipeline: the generators only write files.
"""

from __future__ import annotations

import csv
import json
import random
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# ---------------------------------------------------------------------------------------
# Configurations
# ---------------------------------------------------------------------------------------

_STAGE_POOL = (
    "application", "eligibility", "sift", "online test", "assessment", "interview",
    "fitness", "medical", "references", "biometric vetting", "vetting", "training",
    "probation", "appointment",
)  # fmt: skip
_CHARACTERISTIC_POOL = (
    "sex", "ethnicity", "disability", "religion", "gender_identity", "sexual_orientation",
    "first_language", "care_leaver", "caring_responsibility", "veteran", "region",
)  # fmt: skip
_GROUP_WORDS = (
    "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India",
    "Juliet", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa",
)  # fmt: skip
_NOT_STATED_POOL = ("prefer not to say", "not stated", "unknown", "declined", "withheld", "n/k")
_DEFAULT_NOT_STATED = ("prefer not to say", "not stated", "unknown")
_DEFAULT_OUTCOME_ALIASES = {
    "passed": ["pass", "successful", "success"],
    "failed": ["fail", "unsuccessful"],
    "withdrawn": ["withdrew", "withdraw", "withdrawal"],
}


def _q(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML for these characters)."""
    return json.dumps(value, ensure_ascii=False)


def _inline_table(mapping: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_q(k)} = {_q(v)}" for k, v in mapping.items()) + " }"


def _odd_case(rng: random.Random, text: str) -> str:
    """The same spelling in another case, sometimes with surrounding white space."""
    choice = rng.random()
    if choice < 0.25:
        text = text.upper()
    elif choice < 0.5:
        text = text.title()
    elif choice < 0.6:
        text = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    if rng.random() < 0.2:
        text = rng.choice([" ", "  ", "\t"]) + text + rng.choice(["", " ", "  "])
    return text


def _stage_lines(rng: random.Random, names: list[str]) -> list[str]:
    lines = []
    for i, name in enumerate(names):
        aliases = [f"{name} stage", f"step {i + 1}", f"{name[:3]}-{i}", f"{name} check"]
        chosen = rng.sample(aliases, rng.randint(0, 3))
        lines += ["[[stage]]", f"name = {_q(name)}"]
        if chosen or rng.random() < 0.3:
            lines.append(f"aliases = [{', '.join(_q(a) for a in chosen)}]")
    return lines


def _outcome_lines(rng: random.Random) -> list[str]:
    """[outcomes] with some keys replaced (new aliases only) and the others omitted."""
    if rng.random() < 0.3:
        return []
    lines = ["[outcomes]"]
    for outcome, short in (("passed", "ok"), ("failed", "no"), ("withdrawn", "left")):
        if rng.random() < 0.5:
            aliases = [f"{short}-{k}" for k in range(rng.randint(0, 3))]
            if rng.random() < 0.5:
                aliases.append(rng.choice(_DEFAULT_OUTCOME_ALIASES[outcome]))
            lines.append(f"{outcome} = [{', '.join(_q(a) for a in aliases)}]")
    return lines


def _common_lines(rng: random.Random, groups: list[str]) -> list[str]:
    """The optional keys every kind shares: a reference group (not always the first)."""
    lines = []
    if rng.random() < 0.5:
        lines.append(f"reference_group = {_q(rng.choice(groups))}")
    if rng.random() < 0.4:
        lines.append("intersectional = true")
    return lines


def _delivered_block(rng: random.Random, name: str) -> tuple[list[str], list[str]]:
    """A delivered characteristic: groups, maybe another column, synonyms and prefixes."""
    groups = rng.sample(_GROUP_WORDS, rng.randint(2, 5))
    lines = [f"name = {_q(name)}"]
    if rng.random() < 0.4:
        lines.append(f"column = {_q(rng.choice([name.upper(), name + '_value', 'Q ' + name]))}")
    lines.append(f"groups = [{', '.join(_q(g) for g in groups)}]")
    # The words of _GROUP_WORDS differ in their first two letters: synonyms never clash.
    synonyms = {f"{g[:2].lower()}{len(g)}": g for g in groups if rng.random() < 0.6}
    if synonyms:
        lines.append(f"synonyms = {_inline_table(synonyms)}")
    prefixes: dict[str, str] = {}
    for g in groups:
        if rng.random() < 0.5:
            prefixes[f"{g.lower()} group"] = g
            if rng.random() < 0.5:  # a longer prefix naming another group: longest wins
                prefixes[f"{g.lower()} group other"] = rng.choice(groups)
    if prefixes:
        lines.append(f"prefixes = {_inline_table(prefixes)}")
    return lines + _common_lines(rng, groups), groups


def _age_block(rng: random.Random, name: str) -> tuple[list[str], list[str]]:
    """An age-band characteristic: 2-4 bands with increasing limits, the last open."""
    limits = sorted(rng.sample(range(18, 70), rng.randint(1, 3)))
    groups = [f"Under {limits[0]}"]
    groups += [f"{lo} to {hi - 1}" for lo, hi in pairwise(limits)]
    groups.append(f"{limits[-1]} and over")
    bands = [f"{{ group = {_q(g)}, below = {b} }}" for g, b in zip(groups, limits)]
    bands.append(f"{{ group = {_q(groups[-1])} }}")
    lines = [
        f"name = {_q(name)}",
        f"born_on = {_q(rng.choice(['date_of_birth', 'DOB', ' Birth Date ']))}",
        f"bands = [{', '.join(bands)}]",
    ]
    return lines + _common_lines(rng, groups), groups


def _derived_block(
    rng: random.Random, name: str, base: str, base_groups: list[str]
) -> tuple[list[str], list[str]]:
    """A characteristic derived from ``base``: a map covering every base group."""
    groups = rng.sample(["Yes", "No", "Partly", "Other"], rng.randint(2, 3))
    mapping = {g: rng.choice(groups) for g in base_groups}
    lines = [
        f"name = {_q(name)}",
        f"derived_from = {_q(base)}",
        f"groups = [{', '.join(_q(g) for g in groups)}]",
        f"map = {_inline_table(mapping)}",
    ]
    return lines + _common_lines(rng, groups), groups


def random_config(seed: int) -> str:
    """The TOML text of a random valid section 8 configuration."""
    rng = random.Random(seed)
    stages = rng.sample(_STAGE_POOL, rng.randint(2, 10))
    lines = [f"# generated configuration, seed {seed}"]
    lines += _stage_lines(rng, stages)
    lines += _outcome_lines(rng)
    if rng.random() < 0.6:
        spellings = rng.sample(_NOT_STATED_POOL, rng.randint(1, 4))
        lines += ["[not_stated]", f"spellings = [{', '.join(_q(s) for s in spellings)}]"]

    delivered_names = iter(rng.sample(_CHARACTERISTIC_POOL, len(_CHARACTERISTIC_POOL)))
    bases: list[tuple[str, list[str]]] = []  # non-derived characteristics so far
    blocks: list[list[str]] = []
    for i in range(rng.randint(1, 8)):
        roll = rng.random()
        if bases and roll < 0.25:
            base, base_groups = rng.choice(bases)
            block, _groups = _derived_block(rng, f"{base}_derived_{i}", base, base_groups)
        elif roll < 0.45:
            block, groups = _age_block(rng, "age_band" if i == 0 else f"age_band_{i}")
            bases.append((block[0].split(" = ")[1].strip('"'), groups))
        else:
            name = next(delivered_names)
            block, groups = _delivered_block(rng, name)
            bases.append((name, groups))
        blocks.append(block)
    # Mostly in definition order; sometimes a derived characteristic comes before its base
    # (the contract does not order them).
    if rng.random() < 0.2:
        rng.shuffle(blocks)
    for block in blocks:
        lines += ["[[characteristic]]", *block]
    if rng.random() < 0.6:
        lines += ["[publication]", f"sift_stage = {_q(rng.choice(stages))}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Landing folders
# ---------------------------------------------------------------------------------------

EVENT_HEADER = ["event_id", "applicant_id", "campaign_id", "stage", "outcome", "occurred_at"]


def _write_csv(path: Path, header: list[str], rows: list[list[str]], rng: random.Random) -> None:
    """CSV with a random dialect of section 1: BOM or not, LF or CRLF, RFC 4180 quoting."""
    encoding = "utf-8-sig" if rng.random() < 0.3 else "utf-8"
    terminator = "\r\n" if rng.random() < 0.4 else "\n"
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh, lineterminator=terminator)
        writer.writerow(header)
        writer.writerows(rows)


def _write_parquet(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """Parquet with every column as text (blank cells as nulls, now and then)."""
    columns = {
        h: pa.array([r[i] if r[i] != "" else None for r in rows], type=pa.string())
        for i, h in enumerate(header)
    }
    pq.write_table(pa.table(columns), path)


def _write_table(
    folder: Path, stem: str, header: list[str], rows: list[list[str]], rng: random.Random
) -> None:
    """CSV or Parquet; column names in odd case and spacing now and then."""
    header = [_odd_case(rng, h) if rng.random() < 0.3 else h for h in header]
    if rng.random() < 0.3:
        _write_parquet(folder / f"{stem}.parquet", header, rows)
    else:
        _write_csv(folder / f"{stem}.csv", header, rows, rng)


def _timestamp(rng: random.Random, t: datetime) -> str:
    """One instant in any of the section 1.2 spellings (a bare date only at midnight)."""
    roll = rng.random()
    if roll < 0.15 and t == t.replace(hour=0, minute=0, second=0, microsecond=0):
        return t.strftime("%Y-%m-%d")
    if roll < 0.5:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if roll < 0.7:
        return t.strftime("%Y-%m-%d %H:%M:%S")
    if roll < 0.85:
        return (t + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+01:00")
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Spellings:
    """Delivered spellings of one configuration's stages, outcomes and groups."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.stages: list[str] = [s["name"] for s in doc["stage"]]
        self.stage_spellings = {s["name"]: [s["name"], *s.get("aliases", [])] for s in doc["stage"]}
        given = doc.get("outcomes", {})
        self.outcome_spellings = {
            o: [o, *given.get(o, _DEFAULT_OUTCOME_ALIASES[o])] for o in _DEFAULT_OUTCOME_ALIASES
        }
        self.not_stated = list(doc.get("not_stated", {}).get("spellings", _DEFAULT_NOT_STATED))
        self.characteristics: list[dict[str, Any]] = doc.get("characteristic", [])

    def stage(self, rng: random.Random, stage: str) -> str:
        return _odd_case(rng, rng.choice(self.stage_spellings[stage]))

    def outcome(self, rng: random.Random, outcome: str) -> str:
        return _odd_case(rng, rng.choice(self.outcome_spellings[outcome]))

    def value(self, rng: random.Random, ch: dict[str, Any]) -> str:
        """A delivered value of a delivered characteristic: any way of spelling a group."""
        roll = rng.random()
        if roll < 0.08:
            return ""
        if roll < 0.16:
            return _odd_case(rng, rng.choice(self.not_stated))
        if roll < 0.22:
            return rng.choice(["Martian", "??", "n/a", "other-ish"])  # unrecognised
        synonyms, prefixes = ch.get("synonyms", {}), ch.get("prefixes", {})
        if roll < 0.4 and synonyms:
            return _odd_case(rng, rng.choice(list(synonyms)))
        if roll < 0.6 and prefixes:
            prefix = rng.choice(list(prefixes))
            tail = rng.choice(["", ": detail", " - note", "-2", ",x", "ish"])  # "ish": unrecognised
            return _odd_case(rng, prefix + tail)
        return _odd_case(rng, rng.choice(ch["groups"]))

    def birth_date(self, rng: random.Random, applied: date) -> str:
        """A date of birth: mostly valid, some 29 Feb, birthdays on the day, bad ones."""
        roll = rng.random()
        if roll < 0.05:
            return ""
        if roll < 0.08:
            return _odd_case(rng, rng.choice(self.not_stated))
        if roll < 0.11:
            return rng.choice(["02/03/1991", "1990-02-30", "19900101", "soon"])
        if roll < 0.13:
            return (applied + timedelta(days=rng.randint(1, 400))).isoformat()  # after
        if roll < 0.18:
            return f"{rng.choice([1992, 1996, 2000])}-02-29"
        age = rng.randint(17, 64)
        if roll < 0.25:  # birthday on the application date (29 Feb: a leap year 16 back)
            years = 16 + 4 * (age // 4) if (applied.month, applied.day) == (2, 29) else age
            return applied.replace(year=applied.year - years).isoformat()
        return (applied - timedelta(days=int(age * 365.25) + rng.randint(0, 364))).isoformat()


@dataclass
class _Application:
    person: str
    campaign: str
    applied: datetime


def _plan_events(
    rng: random.Random, sp: _Spellings, apps: list[_Application]
) -> tuple[list[list[str]], list[tuple[str, datetime]]]:
    """Event rows for the planned applications, and the (person, start) of the recruits.

    A planned recruit may still not be one (its final event can be spoiled later): the
    leavers of people never recruited are part of the data too.
    """
    rows: list[list[str]] = []
    recruits: list[tuple[str, datetime]] = []
    n = 0

    def emit(app: _Application, stage: str, outcome: str, t: datetime) -> None:
        nonlocal n
        n += 1
        rows.append(
            [
                f"E{n:06d}",
                app.person,
                app.campaign,
                sp.stage(rng, stage),
                sp.outcome(rng, outcome),
                _timestamp(rng, t),
            ]
        )

    for app in apps:
        t = app.applied
        stages = sp.stages if rng.random() > 0.04 else sp.stages[1:]  # orphans: no 1st stage
        for stage in stages:
            if rng.random() < 0.06:  # pending: no outcome yet, the walk stops
                break
            outcome = rng.choices(["passed", "failed", "withdrawn"], [0.7, 0.22, 0.08])[0]
            emit(app, stage, outcome, t)
            if rng.random() < 0.05:  # a later event supersedes (an appeal, a correction)
                t += timedelta(days=rng.randint(1, 20))
                outcome = rng.choice(["passed", "failed"])
                emit(app, stage, outcome, t)
            if outcome != "passed":
                if rng.random() < 0.05 and stage != sp.stages[-1]:  # out of sequence
                    later = rng.choice(sp.stages[sp.stages.index(stage) + 1 :])
                    emit(app, later, "passed", t + timedelta(days=3))
                break
            if stage == sp.stages[-1]:
                recruits.append((app.person, t))
            t += timedelta(days=rng.randint(0, 40), seconds=rng.randint(0, 86399))
    return rows, recruits


def _spoil_events(rng: random.Random, rows: list[list[str]]) -> list[list[str]]:
    """Add the bad rows of section 3 and duplicates to well-formed event rows."""
    out = [list(r) for r in rows]
    if not rows:
        return out
    for k in range(rng.randint(3, 8)):
        bad = list(rng.choice(rows))
        bad[0] = f"BAD{k:03d}"
        kind = rng.randrange(4)
        if kind == 0:
            bad[rng.randrange(6)] = rng.choice(["", "  "])
        elif kind == 1:
            bad[3] = "orientation day"
        elif kind == 2:
            bad[4] = "maybe"
        else:
            bad[5] = rng.choice(["31/02/2023 10:00", "not a date", "2024-13-45", "2023-1-5"])
        out.append(bad)
    for _ in range(rng.randint(1, 4)):  # identical re-deliveries (counted once)
        out.append(list(rng.choice(rows)))
    for _ in range(rng.randint(1, 3)):  # conflicting copy: the outcome in another case
        conflict = list(rng.choice(rows))
        conflict[4] = conflict[4].strip().swapcase() or "passed"
        out.append(conflict)
    rng.shuffle(out)
    return out


def _leaver_rows(
    rng: random.Random, recruits: list[tuple[str, datetime]], people: list[str]
) -> list[list[str]]:
    rows: list[list[str]] = []
    reasons = ["Resigned", "Transferred", "Dismissed", "Retired", "Other"]
    for person, start in recruits:
        if rng.random() < 0.45:
            continue
        if rng.random() < 0.15:  # on the start instant, or exactly 1 or 2 years after it
            left = start + timedelta(days=rng.choice([0, 365, 730]))
            text = _timestamp(rng, left)
        else:
            left = start + timedelta(days=rng.uniform(1, 1500))
            text = left.strftime("%Y-%m-%d") if rng.random() < 0.5 else _timestamp(rng, left)
        row = [person, text, rng.choice(reasons)]
        rows.append(row)
        roll = rng.random()
        if roll < 0.1:
            rows.append(list(row))  # identical copy
        elif roll < 0.18:
            rows.append([person, text, "Corrected reason"])  # conflict: every copy rejected
        elif roll < 0.26:
            later = left + timedelta(days=rng.randint(1, 300))
            rows.append([person, later.strftime("%Y-%m-%d"), "Left again"])  # not the leaving
    if recruits:
        person, start = rng.choice(recruits)
        rows.append([person, (start - timedelta(days=30)).strftime("%Y-%m-%d"), "before start"])
    rows.append([rng.choice(people), "2022-06-30", "perhaps never recruited"])
    rows.append(["", "2023-01-01", "blank id"])
    rows.append([rng.choice(people), "next week", "unparseable"])
    rng.shuffle(rows)
    return rows


def write_landing(folder: Path, config_toml: str, seed: int) -> Path:
    """Write a random landing folder consistent with ``config_toml`` into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sp = _Spellings(tomllib.loads(config_toml))

    campaigns = [f"C{seed % 97}-{k}" for k in range(rng.randint(1, 4))]
    routes = ["PCDA", "DHEP", "Police Now", "Transferee"]
    people = [f"P{seed % 89:02d}{k:05d}" for k in range(rng.randint(40, 160))]
    base = datetime(2019, 1, 1, tzinfo=UTC)
    apps: list[_Application] = []
    for person in people:
        for campaign in rng.sample(campaigns, 1 if rng.random() < 0.85 else min(2, len(campaigns))):
            applied = base + timedelta(days=rng.randint(0, 6 * 365), seconds=rng.randint(0, 86399))
            if rng.random() < 0.1:
                applied = applied.replace(hour=0, minute=0, second=0)
            apps.append(_Application(person, campaign, applied))
    apps.sort(key=lambda a: a.applied)

    events, starts = _plan_events(rng, sp, apps)
    events = _spoil_events(rng, events)
    cut = rng.randint(0, len(events))
    _write_table(folder, "events_a", EVENT_HEADER, events[:cut], rng)
    shuffled = EVENT_HEADER[:]
    rng.shuffle(shuffled)  # another column order
    order = [EVENT_HEADER.index(h) for h in shuffled]
    _write_table(folder, "events_b", shuffled, [[r[i] for i in order] for r in events[cut:]], rng)
    if rng.random() < 0.3:
        (folder / "events_garbage.csv").write_text("this is not,an events file\n1,2\n")

    _write_applicants(folder, rng, sp, people, apps)

    campaign_rows = [[c, rng.choice(routes), f"{c} intake"] for c in campaigns[1:]]
    campaign_rows.append([f"C{seed % 97}-bad", "", "bad row: blank route"])
    _write_table(folder, "campaigns", ["campaign_id", "entry_route", "title"], campaign_rows, rng)

    leavers = _leaver_rows(rng, starts, people)
    _write_table(folder, "leavers", ["applicant_id", "left_on", "reason"], leavers, rng)
    return folder


def _write_applicants(
    folder: Path, rng: random.Random, sp: _Spellings, people: list[str], apps: list[_Application]
) -> None:
    """Applicants in two files (the later overrides some rows); some people have none."""
    applied_on = {a.person: a.applied.date() for a in apps}
    delivered = [c for c in sp.characteristics if "groups" in c and "derived_from" not in c]
    aged = [c for c in sp.characteristics if "born_on" in c]
    header = ["applicant_id"]
    header += [c.get("column", c["name"]) for c in delivered if rng.random() < 0.9]
    # two age characteristics may read the same date-of-birth column: one column each name
    # (a file naming a column twice is rejected: docs/LANDING.md)
    header += list(dict.fromkeys(c["born_on"] for c in aged))
    header.append("notes")
    by_column = {c.get("column", c["name"]): c for c in delivered}

    def row(person: str) -> list[str]:
        cells = [person]
        for h in header[1:-1]:
            if h in by_column:
                cells.append(sp.value(rng, by_column[h]))
            else:
                cells.append(sp.birth_date(rng, applied_on.get(person, date(2022, 6, 1))))
        return [*cells, "kept as an extra column"]

    known = [p for p in people if rng.random() < 0.93]
    rows = [row(p) for p in known]
    _write_table(folder, "applicants_01", header, rows, rng)
    overrides = [row(p) for p in rng.sample(known, min(len(known), rng.randint(0, 10)))]
    _write_table(folder, "applicants_02", header, overrides, rng)


def write_case(folder: Path, seed: int) -> tuple[Path, Path]:
    """A generated (configuration file, landing folder) pair under ``folder``."""
    config_text = random_config(seed)
    config_path = folder / "funnel.toml"
    folder.mkdir(parents=True, exist_ok=True)
    config_path.write_text(config_text, encoding="utf-8")
    return config_path, write_landing(folder / "landing", config_text, seed)
