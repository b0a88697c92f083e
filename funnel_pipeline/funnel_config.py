"""A force's own funnel: the configuration file of docs/CONTRACT.md section 8, read and checked.

Why a module of its own: stages, outcomes and characteristics are a force's
configuration, not our code. This is the one place that reads them; everything
downstream (SQL, suites, charts, publication, summary) reads the validated result, mostly
through the `config.*` tables `vocabulary.py` writes from it. No other module names a
stage or a characteristic (tests/unit/test_structure.py checks it).

`FUNNEL_CONFIG` names the file; unset, the built-in default applies
(`default_funnel.toml` beside this module: contract section 2 exactly, plus display
labels). A bad file raises `ConfigError` naming the file, the key and the problem, before
anything is read or written.

Keys beyond section 8 that this project defines (docs/CONFIGURATION.md), all optional:
`label` on a stage or a characteristic, `group_labels` (group → display name) on a
characteristic, and in `[publication]`: `threshold` (smallest count shown, default 5),
`rounding_base` (round shown counts to a multiple, e.g. 5), `title`, `source`, `contact`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from funnel_pipeline.causes import FunnelError

NOT_STATED = "Not stated"
ALL_CHARACTERISTIC = "all"
ALL_GROUP = "All"
INTERSECTION_SEPARATOR = " x "
OUTCOMES = ("passed", "failed", "withdrawn")
DEFAULT_OUTCOME_ALIASES: dict[str, tuple[str, ...]] = {
    "passed": ("pass", "successful", "success"),
    "failed": ("fail", "unsuccessful"),
    "withdrawn": ("withdrew", "withdraw", "withdrawal"),
}
DEFAULT_NOT_STATED: tuple[str, ...] = ("prefer not to say", "not stated", "unknown")
DEFAULT_NAME = "built-in default (funnel_pipeline/default_funnel.toml)"
DEFAULT_THRESHOLD = 5


class ConfigError(FunnelError):
    """The configuration file is not a valid section 8 file: names file, key and problem."""


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    aliases: tuple[str, ...]
    label: str


@dataclass(frozen=True)
class Band:
    group: str
    #: the first band whose `below` exceeds the age; None for the last band
    below: int | None


@dataclass(frozen=True)
class Characteristic:
    """One monitored characteristic: delivered (read from a column), derived (mapped from
    another characteristic's group) or an age band (from a date of birth)."""

    name: str
    position: int
    kind: str  # delivered / derived / age
    groups: tuple[str, ...]  # canonical groups in display order (Not stated not included)
    reference_group: str
    label: str
    group_labels: Mapping[str, str]
    intersectional: bool = False
    #: delivered: applicants-file column (matched trimmed, case-insensitive); age: born_on
    column: str | None = None
    #: delivered: lower-case spelling → group (group names and synonyms; not_stated apart)
    spellings: Mapping[str, str] = field(default_factory=dict)
    #: delivered: lower-case leading words → group
    prefixes: Mapping[str, str] = field(default_factory=dict)
    #: derived: the base characteristic and base group → group
    derived_from: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: age: the bands, in order
    bands: tuple[Band, ...] = ()

    @property
    def all_groups(self) -> tuple[str, ...]:
        """Canonical groups with Not stated last (the order of tables and charts)."""
        return (*self.groups, NOT_STATED)

    def group_label(self, group: str) -> str:
        return self.group_labels.get(group, group)


@dataclass(frozen=True)
class Publication:
    sift_stage: str
    threshold: int = DEFAULT_THRESHOLD
    rounding_base: int | None = None
    title: str = "Police recruitment: applicants and appointments by protected characteristic"
    source: str = "Recruitment system records, processed by funnel-pipeline"
    contact: str = "[contact name and e-mail]"


@dataclass(frozen=True)
class FunnelConfig:
    """A validated funnel. `name` is where it came from; `sha256` identifies what it
    means for the tables (labels and publication wording excluded), so a changed file
    recomputes everything and a relabelled one does not."""

    name: str
    stages: tuple[Stage, ...]
    outcomes: Mapping[str, tuple[str, ...]]
    not_stated: tuple[str, ...]
    characteristics: tuple[Characteristic, ...]
    publication: Publication
    #: the file's text: recorded with each run (config.applied), so every step of a run
    #: uses the funnel the run started with even if the file changes meanwhile
    source_text: str = ""

    @property
    def first_stage(self) -> Stage:
        return self.stages[0]

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    @property
    def sift_stage(self) -> Stage:
        return next(s for s in self.stages if s.name == self.publication.sift_stage)

    def characteristic(self, name: str) -> Characteristic:
        return next(c for c in self.characteristics if c.name == name)

    @property
    def intersections(self) -> tuple[tuple[Characteristic, Characteristic], ...]:
        """Every pair of intersectional characteristics, in file order."""
        marked = [c for c in self.characteristics if c.intersectional]
        return tuple((a, b) for i, a in enumerate(marked) for b in marked[i + 1:])

    def semantics(self) -> dict[str, Any]:
        """What the tables depend on (no labels, no publication wording)."""
        return {
            "stages": [[s.name, sorted(s.aliases)] for s in self.stages],
            "outcomes": {k: sorted(v) for k, v in self.outcomes.items()},
            "not_stated": sorted(self.not_stated),
            "characteristics": [
                {k: v for k, v in asdict(c).items() if k not in ("label", "group_labels")}
                for c in self.characteristics],
            "sift_stage": self.publication.sift_stage,
        }

    @property
    def sha256(self) -> str:
        text = json.dumps(self.semantics(), sort_keys=True, ensure_ascii=False, default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- reading ---------------------------------------------------------------------------


def load_config(path: str | Path | None) -> FunnelConfig:
    """The funnel of the file at `path`, or the built-in default when `path` is empty."""
    if path is None or not str(path).strip():
        text = resources.files("funnel_pipeline").joinpath("default_funnel.toml").read_text(
            encoding="utf-8")
        return parse_config(text, DEFAULT_NAME)
    where = Path(path)
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{where}: the configuration file does not exist (FUNNEL_CONFIG)")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: the configuration file cannot be read as UTF-8 text "
                          f"({type(exc).__name__})") from exc
    return parse_config(text, str(where))


def parse_config(text: str, name: str) -> FunnelConfig:
    """Validate a section 8 TOML text; `name` is how errors name the file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc
    return dataclasses.replace(_Reader(name).funnel(data), source_text=text)


def _norm(value: str) -> str:
    return value.strip().lower()


class _Reader:
    """Reads one file; every error names the file and the key (`characteristic[2].map`)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.name}: {key}: {problem}")

    # typed getters ---------------------------------------------------------------------

    def keys(self, table: Mapping[str, Any], key: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                            f"unknown key (allowed here: {', '.join(sorted(allowed))})")

    def text(self, table: Mapping[str, Any], key: str, where: str, *,
             required: bool = True) -> str | None:
        if key not in table:
            if required:
                raise self.fail(f"{where}.{key}" if where else key, "required key is missing")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}" if where else key, "must be a non-blank string")
        return value.strip()

    def texts(self, table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where}.{key}", "must be a list of non-blank strings")
        return tuple(v.strip() for v in value)

    def mapping(self, table: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and k.strip() and isinstance(v, str) and v.strip()
                for k, v in value.items()):
            raise self.fail(f"{where}.{key}", "must be a table of non-blank strings")
        return {k.strip(): v.strip() for k, v in value.items()}

    def flag(self, table: Mapping[str, Any], key: str, where: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be true or false")
        return value

    def whole(self, table: Mapping[str, Any], key: str, where: str, minimum: int) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"{where}.{key}", f"must be a whole number of at least {minimum}")
        return value

    def tables(self, data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"must be written as [[{key}]] tables")
        return value

    # the file -----------------------------------------------------------------------------

    def funnel(self, data: dict[str, Any]) -> FunnelConfig:
        self.keys(data, "", {"stage", "outcomes", "not_stated", "characteristic", "publication"})
        stages = self.stages(self.tables(data, "stage"))
        outcomes = self.outcomes(data.get("outcomes", {}))
        not_stated = self.not_stated(data.get("not_stated", {}))
        characteristics = self.characteristics(self.tables(data, "characteristic"), not_stated)
        publication = self.publication(data.get("publication", {}), stages)
        return FunnelConfig(self.name, stages, outcomes, not_stated, characteristics, publication)

    def stages(self, rows: list[dict[str, Any]]) -> tuple[Stage, ...]:
        if len(rows) < 2:
            raise self.fail("stage", "at least two [[stage]] tables are needed (in funnel order)")
        claimed: dict[str, str] = {}
        stages = []
        for order, row in enumerate(rows, start=1):
            where = f"stage[{order}]"
            self.keys(row, where, {"name", "aliases", "label"})
            name = self.text(row, "name", where)
            where = f"stage[{order}] ({name})"
            aliases = self.texts(row, "aliases", where)
            for spelling in (name, *aliases):
                self.claim(claimed, spelling, where, where + ".aliases")
            label = self.text(row, "label", where, required=False) or name.replace("_", " ").capitalize()
            stages.append(Stage(name, order, aliases, label))
        return tuple(stages)

    def outcomes(self, table: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(table, dict):
            raise self.fail("outcomes", "must be a table")
        self.keys(table, "outcomes", set(OUTCOMES))
        result = {o: tuple(self.texts(table, o, "outcomes")) if o in table
                  else DEFAULT_OUTCOME_ALIASES[o] for o in OUTCOMES}
        claimed: dict[str, str] = {}
        for outcome, aliases in result.items():
            for spelling in (outcome, *aliases):
                self.claim(claimed, spelling, f"outcomes.{outcome}", f"outcomes.{outcome}")
        return result

    def claim(self, claimed: dict[str, str], spelling: str, owner: str, key: str) -> None:
        """Record that `spelling` (trimmed, case-insensitive) means `owner`; a spelling
        that would mean two things is the error "a spelling claimed twice"."""
        norm = _norm(spelling)
        if claimed.get(norm, owner) != owner:
            raise self.fail(key, f"the spelling '{spelling}' is claimed twice (it already "
                                 f"means {claimed[norm]})")
        claimed[norm] = owner

    def not_stated(self, table: Any) -> tuple[str, ...]:
        if not isinstance(table, dict):
            raise self.fail("not_stated", "must be a table")
        self.keys(table, "not_stated", {"spellings"})
        spellings = self.texts(table, "spellings", "not_stated") if "spellings" in table \
            else DEFAULT_NOT_STATED
        return tuple(dict.fromkeys(_norm(s) for s in spellings))

    def characteristics(self, rows: list[dict[str, Any]], not_stated: tuple[str, ...]
                        ) -> tuple[Characteristic, ...]:
        if not rows:
            raise self.fail("characteristic", "at least one [[characteristic]] table is needed")
        names: dict[str, str] = {}
        wheres = []
        for position, row in enumerate(rows, start=1):
            name = self.text(row, "name", f"characteristic[{position}]")
            where = f"characteristic[{position}] ({name})"
            if name.lower() == ALL_CHARACTERISTIC or INTERSECTION_SEPARATOR in name:
                raise self.fail(where + ".name", f"'{name}' cannot be a characteristic: 'all' and "
                                                 f"names containing '{INTERSECTION_SEPARATOR}' "
                                                 "are reserved")
            if name.lower() in names:
                raise self.fail(where + ".name", f"duplicate characteristic (also "
                                                 f"{names[name.lower()]})")
            names[name.lower()] = where
            if "derived_from" in row and "born_on" in row:
                raise self.fail(where, "give derived_from or born_on, not both")
            wheres.append((position, row, name, where))
        # delivered and age bands first: a derived characteristic may be listed before its base
        built: dict[str, Characteristic] = {}
        for position, row, name, where in wheres:
            if "born_on" in row:
                built[name] = self.age(row, where, name, position)
            elif "derived_from" not in row:
                built[name] = self.delivered(row, where, name, position, not_stated)
        for position, row, name, where in wheres:
            if "derived_from" in row:
                built[name] = self.derived(row, where, name, position, built,
                                           {n for _, r, n, _ in wheres if "derived_from" in r})
        return tuple(built[name] for _, _, name, _ in wheres)

    def groups(self, row: dict[str, Any], where: str) -> tuple[str, ...]:
        groups = self.texts(row, "groups", where)
        if not groups:
            raise self.fail(where + ".groups", "at least one group is needed")
        seen: set[str] = set()
        for group in groups:
            if _norm(group) in (_norm(NOT_STATED), _norm(ALL_GROUP)):
                raise self.fail(where + ".groups", f"'{group}' cannot be a group: Not stated and "
                                                   "All are the pipeline's own")
            if INTERSECTION_SEPARATOR in group:
                raise self.fail(where + ".groups", f"'{group}' cannot be a group: "
                                                   f"'{INTERSECTION_SEPARATOR}' joins the groups "
                                                   "of an intersection")
            if _norm(group) in seen:
                raise self.fail(where + ".groups", f"duplicate group '{group}'")
            seen.add(_norm(group))
        return groups

    def common(self, row: dict[str, Any], where: str, name: str, groups: tuple[str, ...]
               ) -> dict[str, Any]:
        reference = self.text(row, "reference_group", where, required=False) or groups[0]
        if reference not in groups:
            raise self.fail(where + ".reference_group",
                            f"'{reference}' is not one of its groups ({', '.join(groups)})")
        group_labels = self.mapping(row, "group_labels", where)
        for group in group_labels:
            if group not in (*groups, NOT_STATED):
                raise self.fail(where + ".group_labels", f"'{group}' is not one of its groups")
        label = self.text(row, "label", where, required=False) or name.replace("_", " ").capitalize()
        return {"reference_group": reference, "group_labels": group_labels, "label": label,
                "intersectional": self.flag(row, "intersectional", where)}

    def target(self, group: str, groups: tuple[str, ...], key: str) -> str:
        for candidate in groups:
            if candidate == group:
                return candidate
        raise self.fail(key, f"maps to '{group}', which is not one of its groups "
                             f"({', '.join(groups)})")

    def delivered(self, row: dict[str, Any], where: str, name: str, position: int,
                  not_stated: tuple[str, ...]) -> Characteristic:
        self.keys(row, where, {"name", "column", "groups", "reference_group", "synonyms",
                               "prefixes", "intersectional", "label", "group_labels"})
        groups = self.groups(row, where)
        column = self.text(row, "column", where, required=False) or name
        claimed: dict[str, str] = {s: NOT_STATED for s in not_stated}
        for group in groups:
            self.claim(claimed, group, group, where + ".groups")
        for spelling, group in self.mapping(row, "synonyms", where).items():
            target = self.target(group, groups, f"{where}.synonyms.{spelling}")
            self.claim(claimed, spelling, target, f"{where}.synonyms")
        prefixes: dict[str, str] = {}
        for prefix, group in self.mapping(row, "prefixes", where).items():
            target = self.target(group, groups, f"{where}.prefixes.{prefix}")
            self.claim(prefixes, prefix, target, f"{where}.prefixes")
        spellings = {k: v for k, v in claimed.items() if v != NOT_STATED}
        return Characteristic(name=name, position=position, kind="delivered", groups=groups,
                              column=column, spellings=spellings, prefixes=prefixes,
                              **self.common(row, where, name, groups))

    def derived(self, row: dict[str, Any], where: str, name: str, position: int,
                built: dict[str, Characteristic], derived: set[str]) -> Characteristic:
        self.keys(row, where, {"name", "derived_from", "groups", "map", "reference_group",
                               "intersectional", "label", "group_labels"})
        base = self.text(row, "derived_from", where)
        if base in derived:
            raise self.fail(where + ".derived_from", f"'{base}' is itself derived: a derived "
                                                     "characteristic must come from a delivered "
                                                     "one or an age band")
        if base not in built:
            raise self.fail(where + ".derived_from", f"'{base}' is not a characteristic of "
                                                     "this file")
        groups = self.groups(row, where)
        mapping = self.mapping(row, "map", where)
        base_groups = built[base].groups
        for base_group, group in mapping.items():
            if base_group not in base_groups:
                raise self.fail(f"{where}.map.{base_group}", f"'{base_group}' is not a group of "
                                                             f"{base} ({', '.join(base_groups)})")
            self.target(group, groups, f"{where}.map.{base_group}")
        missing = [g for g in base_groups if g not in mapping]
        if missing:
            raise self.fail(where + ".map", f"incomplete: it does not map {', '.join(missing)} "
                                            f"(every group of {base} needs a group)")
        return Characteristic(name=name, position=position, kind="derived", groups=groups,
                              derived_from=base, mapping=mapping,
                              **self.common(row, where, name, groups))

    def age(self, row: dict[str, Any], where: str, name: str, position: int) -> Characteristic:
        self.keys(row, where, {"name", "born_on", "bands", "reference_group", "intersectional",
                               "label", "group_labels"})
        column = self.text(row, "born_on", where)
        rows = row.get("bands")
        if not isinstance(rows, list) or not rows or not all(isinstance(b, dict) for b in rows):
            raise self.fail(where + ".bands", "must be a list of { group = …, below = … } tables")
        bands = []
        previous: int | None = None
        for i, band in enumerate(rows, start=1):
            key = f"{where}.bands[{i}]"
            self.keys(band, key, {"group", "below"})
            group = self.text(band, "group", key)
            below = self.whole(band, "below", key, 0)
            last = i == len(rows)
            if last and below is not None:
                raise self.fail(key + ".below", "the last band must have no 'below' (it takes "
                                                "every older age)")
            if not last and below is None:
                raise self.fail(key + ".below", "required on every band but the last")
            if below is not None and previous is not None and below <= previous:
                raise self.fail(key + ".below", f"{below} does not increase (the band before "
                                                f"ends below {previous})")
            previous = below if below is not None else previous
            bands.append(Band(group, below))
        groups = self.groups({"groups": [b.group for b in bands]}, where + ".bands")
        return Characteristic(name=name, position=position, kind="age", groups=groups,
                              column=column, bands=tuple(bands),
                              **self.common(row, where, name, groups))

    def publication(self, table: Any, stages: tuple[Stage, ...]) -> Publication:
        if not isinstance(table, dict):
            raise self.fail("publication", "must be a table")
        self.keys(table, "publication", {"sift_stage", "threshold", "rounding_base", "title",
                                         "source", "contact"})
        given = self.text(table, "sift_stage", "publication", required=False) or stages[1].name
        # any spelling of a stage names it, as in the events files
        sift = next((s.name for s in stages
                     if _norm(given) in {_norm(x) for x in (s.name, *s.aliases)}), None)
        if sift is None:
            raise self.fail("publication.sift_stage", f"'{given}' is not a stage "
                                                      f"({', '.join(s.name for s in stages)})")
        defaults = Publication(sift)
        threshold = self.whole(table, "threshold", "publication", 1) or DEFAULT_THRESHOLD
        rounding_base = self.whole(table, "rounding_base", "publication", 1)
        try:  # the disclosure rule's own consistency check (e.g. threshold 6, base 5: 6 → 5)
            from funnel_pipeline.publish.disclosure import Rule

            Rule(threshold, rounding_base)
        except ValueError as exc:
            raise self.fail("publication.rounding_base", str(exc)) from exc
        return Publication(
            sift_stage=sift,
            threshold=threshold,
            rounding_base=rounding_base,
            title=self.text(table, "title", "publication", required=False) or defaults.title,
            source=self.text(table, "source", "publication", required=False) or defaults.source,
            contact=self.text(table, "contact", "publication", required=False) or defaults.contact,
        )


def describe(config: FunnelConfig) -> str:
    """The funnel as a reviewer reads it (`funnel check-config`): stages with their
    aliases and roles, characteristics with their groups and reference groups."""
    lines = [f"Funnel configuration: {config.name}", (f"sha256 (what the tables depend on): "
             f"{config.sha256}"), "", f"Stages ({len(config.stages)}, in funnel order):"]
    for s in config.stages:
        roles = [r for r, on in (("enters the funnel", s.order == 1),
                                 ("sift stage of the publication", s.name == config.sift_stage.name),
                                 ("final stage: appointment, recruits", s == config.final_stage))
                 if on]
        aliases = ", ".join(s.aliases) or "no aliases"
        lines.append(f"  {s.order}. {s.name} ({s.label}); also: {aliases}"
                     + (f"  [{'; '.join(roles)}]" if roles else ""))
    lines += ["", "Outcomes:"]
    lines += [f"  {o}: also {', '.join(a) or 'no aliases'}" for o, a in config.outcomes.items()]
    lines += ["", f"Not stated: blank, {', '.join(config.not_stated)}", "",
              f"Characteristics ({len(config.characteristics)}, in report order):"]
    for c in config.characteristics:
        how = {"delivered": f"column '{c.column}'",
               "derived": f"derived from {c.derived_from}",
               "age": f"age bands from column '{c.column}'"}[c.kind]
        groups = ", ".join(f"{g}*" if g == c.reference_group else g for g in c.all_groups)
        lines.append(f"  {c.position}. {c.name} ({c.label}; {how}"
                     + ("; intersectional" if c.intersectional else "") + ")")
        lines.append(f"     groups: {groups}   (* = reference group)")
        if c.kind == "derived":
            lines.append("     map: " + ", ".join(f"{b} → {g}" for b, g in c.mapping.items()))
        if c.kind == "age":
            lines.append("     bands: " + ", ".join(
                f"{b.group} (under {b.below})" if b.below is not None else f"{b.group} (the rest)"
                for b in c.bands))
        if c.prefixes:
            lines.append("     leading words: " + ", ".join(f"'{p}' → {g}" for p, g in c.prefixes.items()))
    pairs = ", ".join(f"{a.name} x {b.name}" for a, b in config.intersections) or "none"
    p = config.publication
    lines += ["", f"Intersections: {pairs}",
              f"Publication: sift stage {p.sift_stage}, counts under {p.threshold} suppressed"
              + (f", shown counts rounded to multiples of {p.rounding_base}" if p.rounding_base else "")]
    return "\n".join(lines)
