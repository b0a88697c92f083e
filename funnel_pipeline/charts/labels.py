"""Plain-English names, colours and ordering shared by every chart.

Charts are read by a recruitment lead, not by the person who wrote the SQL, so nothing
on a chart may show a column name or a bare `Yes`/`No`. Colours are fixed per group
(Okabe–Ito, safe for the common colour-vision deficiencies) so that one group keeps one
colour across every chart of a run.
"""

from __future__ import annotations

import math
import textwrap

from funnel_pipeline.contract import (
    ALL_CHARACTERISTIC,
    ALL_GROUP,
    CHARACTERISTIC_BY_NAME,
    NOT_STATED,
    STAGE_NAMES,
)

STAGE_LABELS: dict[str, str] = {
    "application": "Application",
    "sift": "Sift",
    "assessment": "Assessment (SEARCH)",
    "vetting": "Vetting",
    "appointment": "Appointment",
}
assert tuple(STAGE_LABELS) == STAGE_NAMES, "stage labels out of step with the contract"

CHARACTERISTIC_LABELS: dict[str, str] = {
    ALL_CHARACTERISTIC: "All applicants",
    "sex": "Sex",
    "ethnicity": "Ethnicity",
    "ethnic_minority": "Ethnic minority background",
    "disability": "Disability",
    "sexual_orientation": "Sexual orientation",
    "lgbt_plus": "LGBT+",
}

#: Derived characteristics have Yes/No groups, meaningless on their own in a legend.
_GROUP_LABELS: dict[tuple[str, str], str] = {
    ("ethnic_minority", "Yes"): "Ethnic minority",
    ("ethnic_minority", "No"): "White",
    ("disability", "Yes"): "Disabled",
    ("disability", "No"): "Not disabled",
    ("lgbt_plus", "Yes"): "LGBT+",
    ("lgbt_plus", "No"): "Heterosexual",
}

#: Okabe–Ito, without yellow (unreadable on white) and vermillion (kept for warnings).
GROUP_PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#8C6D31",  # brown (extra, for long group lists)
)
REFERENCE_COLOUR = "#3C3C3C"
NOT_STATED_COLOUR = "#A6A6A6"
ALL_COLOUR = "#7F7F7F"
WARNING_COLOUR = "#D55E00"


def stage_label(stage: str) -> str:
    """Display name of a stage (the stage itself if it is not in the contract)."""
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def characteristic_label(characteristic: str) -> str:
    """Display name of a characteristic (intersections such as `sex x disability` too)."""
    if characteristic in CHARACTERISTIC_LABELS:
        return CHARACTERISTIC_LABELS[characteristic]
    parts = characteristic.split(" x ")
    return " × ".join(CHARACTERISTIC_LABELS.get(p, p.replace("_", " ")) for p in parts)


def group_label(characteristic: str, group: str) -> str:
    """Display name of a group: `Yes` of `disability` reads `Disabled`."""
    if characteristic == ALL_CHARACTERISTIC:
        return "All applicants"
    parts_c = characteristic.split(" x ")
    parts_g = group.split(" x ")
    if len(parts_c) == len(parts_g) > 1:
        return " × ".join(_GROUP_LABELS.get(cg, cg[1]) for cg in zip(parts_c, parts_g))
    return _GROUP_LABELS.get((characteristic, group), group)


def _intersection_order(characteristic: str, groups: list[str]) -> list[str]:
    """`sex x disability` groups in the order of their parts' canonical groups."""
    chars = [CHARACTERISTIC_BY_NAME.get(c) for c in characteristic.split(" x ")]

    def key(group: str) -> tuple[int, ...]:
        parts = group.split(" x ")
        return tuple(
            c.all_groups.index(p) if c and p in c.all_groups else 99 for c, p in zip(chars, parts)
        )

    return sorted(groups, key=lambda g: (key(g), g))


def group_order(characteristic: str, groups: list[str]) -> list[str]:
    """Canonical order (reference first, Not stated last); unknown groups sorted after."""
    if " x " in characteristic:
        return _intersection_order(characteristic, groups)
    char = CHARACTERISTIC_BY_NAME.get(characteristic)
    canonical = list(char.all_groups) if char else []
    known = [g for g in canonical if g in groups]
    rest = sorted(g for g in groups if g not in canonical and g != NOT_STATED)
    tail = [NOT_STATED] if NOT_STATED in groups and NOT_STATED not in known else []
    return known + rest + tail


def group_colours(characteristic: str, groups: list[str], reference: str | None) -> dict[str, str]:
    """A stable colour per group: reference dark grey, Not stated light grey, others palette."""
    colours: dict[str, str] = {}
    i = 0
    for g in group_order(characteristic, groups):
        if g == reference:
            colours[g] = REFERENCE_COLOUR
        elif g == NOT_STATED:
            colours[g] = NOT_STATED_COLOUR
        elif g == ALL_GROUP:
            colours[g] = ALL_COLOUR
        else:
            colours[g] = GROUP_PALETTE[i % len(GROUP_PALETTE)]
            i += 1
    return colours


def wrap(text: str, width: int) -> str:
    """Wrap for Plotly, which never wraps titles itself (`<br>` between lines)."""
    return "<br>".join(
        "<br>".join(textwrap.wrap(para, width=width)) or "" for para in text.split("\n")
    )


def pct(value: float | None, digits: int = 0) -> str:
    """`0.456` → `46%`; missing → `–`."""
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}%}"
