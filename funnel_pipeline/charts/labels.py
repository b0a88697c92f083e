"""Plain-English names, colours and ordering shared by every chart.

Charts are read by a recruitment lead, not by the person who wrote the SQL, so nothing
on a chart may show a column name or a bare `Yes`/`No`: names come from the force's
funnel configuration (its `label` and `group_labels`). Colours are fixed per group
(Okabe–Ito, safe for the common colour-vision deficiencies) so that one group keeps one
colour across every chart of a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from funnel_pipeline import inert
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, ALL_GROUP, NOT_STATED, FunnelConfig

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


@dataclass(frozen=True)
class Labels:
    """Display names, group order and colours of one funnel configuration.

    Every name comes from the force's configuration (labels where it gives them) and is
    made inert exactly once, here: for Plotly (`medium="chart"`, `inert.chart`) or as
    plain text for a Dagster table (`medium="text"`, which React shows as text).
    Builders never escape.
    """

    config: FunnelConfig
    medium: str = "chart"
    _stages: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stages", {s.name: s.label for s in self.config.stages})

    def _out(self, text: str, limit: int) -> str:
        return inert.chart(text, limit) if self.medium == "chart" else inert.shorten(text, limit)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.config.stages)

    @property
    def characteristic_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.config.characteristics)

    def stage_label(self, stage: str) -> str:
        return self._out(self._stages.get(stage, stage.replace("_", " ").capitalize()), 30)

    def characteristic_label(self, characteristic: str) -> str:
        """Display name of a characteristic (intersections such as `sex x disability` too)."""
        if characteristic == ALL_CHARACTERISTIC:
            return "All applicants"
        parts = []
        for name in characteristic.split(" x "):
            char = next((c for c in self.config.characteristics if c.name == name), None)
            parts.append(char.label if char else name.replace("_", " "))
        return self._out(" × ".join(parts), 60)

    def group_label(self, characteristic: str, group: str) -> str:
        """Display name of a group: its configured label (`Yes` of disability reads
        `Disabled`), else the group; a bare Yes / No with its characteristic."""
        if characteristic == ALL_CHARACTERISTIC:
            return "All applicants"
        parts = []
        for name, g in zip(characteristic.split(" x "), group.split(" x ")):
            char = next((c for c in self.config.characteristics if c.name == name), None)
            if char is not None and g in char.group_labels:
                parts.append(char.group_labels[g])
            elif char is not None and g.lower() in ("yes", "no"):
                parts.append(f"{char.label}: {g}")
            else:
                parts.append(g)
        return self._out(" × ".join(parts), 50)

    def group_order(self, characteristic: str, groups: list[str]) -> list[str]:
        """Configured order (Not stated last); unknown groups sorted after."""
        names = characteristic.split(" x ")
        chars = [next((c for c in self.config.characteristics if c.name == n), None) for n in names]

        def key(group: str) -> tuple:
            parts = group.split(" x ")
            return tuple(c.all_groups.index(p) if c and p in c.all_groups else 99
                         for c, p in zip(chars, parts)) + (group,)

        return sorted(groups, key=key)

    def group_colours(self, characteristic: str, groups: list[str], reference: str | None
                      ) -> dict[str, str]:
        """A stable colour per group: reference dark grey, Not stated light grey, others palette."""
        colours: dict[str, str] = {}
        i = 0
        for g in self.group_order(characteristic, groups):
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


def pct(value: float | None, digits: int = 0) -> str:
    """`0.456` → `46%`; missing → `–`."""
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.{digits}%}"
