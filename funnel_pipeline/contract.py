"""The data contract's vocabulary (CONTRACT.md section 2), in one place.

Every rule that maps a delivered value to a canonical one lives here. The SQL never
spells a stage, an alias or a group: it joins `core.vocabulary`, a small table written
from these constants at the start of each run (see `vocabulary_rows`). Change a rule
here, run the rebuild job, and every table follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

# --- Stages and outcomes -------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    order: int
    aliases: tuple[str, ...]


STAGES: tuple[Stage, ...] = (
    Stage("application", 1, ("apply", "applied")),
    Stage("sift", 2, ("paper sift", "application sift", "shortlisting")),
    Stage(
        "assessment",
        3,
        (
            "search",
            "online assessment",
            "assessment centre",
            "assessment center",
            "oac",
        ),
    ),
    Stage("vetting", 4, ("vetting check", "security vetting")),
    Stage("appointment", 5, ("appointed", "offer", "appointment offer")),
)
STAGE_ORDER: dict[str, int] = {s.name: s.order for s in STAGES}
STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)

OUTCOMES: dict[str, tuple[str, ...]] = {
    "passed": ("pass", "successful", "success"),
    "failed": ("fail", "unsuccessful"),
    "withdrawn": ("withdrew", "withdraw", "withdrawal"),
}

# --- Protected characteristics ----------------------------------------------------------

NOT_STATED = "Not stated"
#: Values that mean "the person did not say" (recognised, so not reported as unknown).
NOT_STATED_VALUES: tuple[str, ...] = ("", "prefer not to say", "not stated", "unknown")


@dataclass(frozen=True)
class Characteristic:
    """A protected characteristic: its canonical groups, reference group first."""

    name: str
    groups: tuple[str, ...]
    #: base column it is read from (itself for a delivered characteristic)
    source: str
    #: extra spellings (lower case) → canonical group, besides the group names themselves
    synonyms: dict[str, str]

    @property
    def reference_group(self) -> str:
        return self.groups[0]

    @property
    def all_groups(self) -> tuple[str, ...]:
        return (*self.groups, NOT_STATED)


SEX = Characteristic(
    "sex",
    ("Male", "Female"),
    "sex",
    {"f": "Female", "woman": "Female", "m": "Male", "man": "Male"},
)
ETHNICITY = Characteristic(
    "ethnicity",
    ("White", "Asian", "Black", "Mixed", "Other"),
    "ethnicity",
    {"arab": "Other"},
)
ETHNIC_MINORITY = Characteristic(
    "ethnic_minority",
    ("No", "Yes"),
    "ethnicity",
    {},
)
DISABILITY = Characteristic("disability", ("No", "Yes"), "disability", {})
SEXUAL_ORIENTATION = Characteristic(
    "sexual_orientation",
    ("Heterosexual", "Gay or Lesbian", "Bisexual", "Other"),
    "sexual_orientation",
    {
        "straight": "Heterosexual",
        "gay": "Gay or Lesbian",
        "lesbian": "Gay or Lesbian",
        "gay man": "Gay or Lesbian",
        "gay woman": "Gay or Lesbian",
    },
)
LGBT_PLUS = Characteristic("lgbt_plus", ("No", "Yes"), "sexual_orientation", {})

CHARACTERISTICS: tuple[Characteristic, ...] = (
    SEX,
    ETHNICITY,
    ETHNIC_MINORITY,
    DISABILITY,
    SEXUAL_ORIENTATION,
    LGBT_PLUS,
)
CHARACTERISTIC_BY_NAME: dict[str, Characteristic] = {c.name: c for c in CHARACTERISTICS}
#: The characteristics delivered in the applicants file (the others are derived).
DELIVERED_CHARACTERISTICS: tuple[str, ...] = (
    "sex",
    "ethnicity",
    "disability",
    "sexual_orientation",
)

#: Ethnicity: a detailed ONS label maps by its leading words (lower case prefix → group).
ETHNICITY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("white", "White"),
    ("asian", "Asian"),
    ("black", "Black"),
    ("mixed", "Mixed"),
    ("other ethnic group", "Other"),
)
#: "Leading words": the prefix, then the end of the value or a non-letter (`White: Irish`).
ETHNICITY_PREFIX_PATTERN = r"^{prefix}($|[^a-z])"
#: Derived characteristics: the group of the base characteristic → derived group.
DERIVED_GROUPS: dict[str, dict[str, str]] = {
    "ethnic_minority": {
        "White": "No",
        "Asian": "Yes",
        "Black": "Yes",
        "Mixed": "Yes",
        "Other": "Yes",
        NOT_STATED: NOT_STATED,
    },
    "lgbt_plus": {
        "Heterosexual": "No",
        "Gay or Lesbian": "Yes",
        "Bisexual": "Yes",
        "Other": "Yes",
        NOT_STATED: NOT_STATED,
    },
}

#: Characteristics crossed in `marts.intersectional_stage_pass_rates`, in this order.
INTERSECTIONAL_CHARACTERISTICS: tuple[str, ...] = (
    "sex",
    "ethnic_minority",
    "disability",
    "lgbt_plus",
)
INTERSECTIONAL_PAIRS: tuple[tuple[str, str], ...] = tuple(
    combinations(INTERSECTIONAL_CHARACTERISTICS, 2)
)
INTERSECTION_SEPARATOR = " x "

ALL_CHARACTERISTIC = "all"
ALL_GROUP = "All"
UNKNOWN_ENTRY_ROUTE = "Unknown"

#: Adverse-impact "four-fifths" rule and significance level of CONTRACT.md section 5.
ADVERSE_IMPACT_THRESHOLD = 0.8
SIGNIFICANCE_LEVEL = 0.05
#: z for a two-sided 95% Wilson interval, exactly as the contract states it.
WILSON_Z = 1.959963984540054


# --- Mapping helpers (Python side; the SQL side uses `vocabulary_rows`) -----------------


def normalise(value: str | None) -> str:
    """Case-insensitive, surrounding-white-space-insensitive form used for every match."""
    return "" if value is None else value.strip().lower()


def canonical_stage(value: str | None) -> str | None:
    key = normalise(value)
    for stage in STAGES:
        if key == stage.name or key in stage.aliases:
            return stage.name
    return None


def canonical_outcome(value: str | None) -> str | None:
    key = normalise(value)
    for outcome, aliases in OUTCOMES.items():
        if key == outcome or key in aliases:
            return outcome
    return None


def canonical_group(characteristic: str, value: str | None) -> tuple[str, bool]:
    """Map a delivered value to (canonical group, recognised).

    Unrecognised values become Not stated, and `recognised` is False so a data-quality
    check can report them.
    """
    key = normalise(value)
    if key in NOT_STATED_VALUES:
        return NOT_STATED, True
    char = CHARACTERISTIC_BY_NAME[characteristic]
    for group in char.groups:
        if key == group.lower():
            return group, True
    if key in char.synonyms:
        return char.synonyms[key], True
    if characteristic == "ethnicity":
        for prefix, group in ETHNICITY_PREFIXES:
            if re.match(ETHNICITY_PREFIX_PATTERN.format(prefix=re.escape(prefix)), key):
                return group, True
    return NOT_STATED, False


def vocabulary_rows() -> list[tuple[str, str, str, int | None]]:
    """(domain, lower-case spelling, canonical value, stage order) for `core.vocabulary`.

    Domains: `stage`, `outcome`, and each delivered characteristic (exact spellings only;
    ethnicity prefixes are in `ethnicity_prefix`); `ethnic_minority` / `lgbt_plus` map a
    base group to the derived group; `reference_group` lists the six characteristics
    (canonical = reference group, stage_order = position) and `intersectional` the four
    crossed in the intersectional mart, in pair order; `groups:<characteristic>` the
    canonical groups of each of the six (stage_order = position, Not stated last);
    `characteristic_source` the delivered column each of the six is read from.
    """
    rows: list[tuple[str, str, str, int | None]] = []
    for stage in STAGES:
        for spelling in (stage.name, *stage.aliases):
            rows.append(("stage", spelling, stage.name, stage.order))
    for outcome, aliases in OUTCOMES.items():
        for spelling in (outcome, *aliases):
            rows.append(("outcome", spelling, outcome, None))
    for name in DELIVERED_CHARACTERISTICS:
        char = CHARACTERISTIC_BY_NAME[name]
        for spelling in NOT_STATED_VALUES:
            rows.append((name, spelling, NOT_STATED, None))
        for group in char.groups:
            rows.append((name, group.lower(), group, None))
        for spelling, group in char.synonyms.items():
            rows.append((name, spelling, group, None))
    for prefix, group in ETHNICITY_PREFIXES:
        rows.append(("ethnicity_prefix", prefix, group, None))
    for derived, mapping in DERIVED_GROUPS.items():
        for base_group, group in mapping.items():
            rows.append((derived, base_group, group, None))
    for position, char in enumerate(CHARACTERISTICS, start=1):
        rows.append(("reference_group", char.name, char.reference_group, position))
    for position, name in enumerate(INTERSECTIONAL_CHARACTERISTICS, start=1):
        rows.append(("intersectional", name, CHARACTERISTIC_BY_NAME[name].reference_group, position))
    for char in CHARACTERISTICS:
        rows.append(("characteristic_source", char.name, char.source, None))
        for position, group in enumerate(char.all_groups, start=1):
            rows.append((group_domain(char.name), group.lower(), group, position))
    return rows


def group_domain(characteristic: str) -> str:
    """`core.vocabulary` domain listing a characteristic's canonical groups, in order
    (reference group first, Not stated last): spelling = lower-case group name."""
    return f"groups:{characteristic}"
