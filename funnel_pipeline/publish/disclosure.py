"""Disclosure control for published count tables: primary and secondary suppression.

Pure functions, no I/O, so the rules can be tested by themselves.

* Primary: a count from 1 to threshold − 1 is suppressed (0 is shown: it discloses no
  person).
* Secondary, by linear relations: the table publishes relations between cells
  (`Relation`: a cell equals the sum of others — a total and its parts, or two cells
  that are the same count under two names). Whenever a relation has exactly one
  suppressed cell, that cell could be solved for, so one more cell of the relation is
  suppressed: the smallest non-zero part that is shown, else any part, else the total.
  Repeated until no relation has exactly one suppressed cell.
* Secondary, by differencing: for nested counts shown side by side (every application
  counted in B is counted in A), A − B is itself a count of people; when it is from 1
  to threshold − 1, B is suppressed (then the relations above are re-checked).

The fixed point is reached because every step suppresses one more cell and no step
un-suppresses one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

Cell = Hashable


@dataclass(frozen=True)
class Relation:
    """`total` = sum of `parts` holds in the published table."""

    total: Cell
    parts: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


def is_primary(count: int, threshold: int) -> bool:
    return 1 <= count < threshold


def suppress(counts: Mapping[Cell, int], relations: Iterable[Relation],
             nested: Iterable[tuple[Cell, Cell]], threshold: int) -> set[Cell]:
    """Cells to show as suppressed, primary and secondary.

    `nested` holds (A, B) pairs where B's applications are a subset of A's.
    """
    if threshold < 1:
        raise ValueError("suppression threshold must be at least 1")
    relations = list(relations)
    nested = list(nested)
    hidden = {cell for cell, value in counts.items() if is_primary(value, threshold)}
    changed = True
    while changed:
        changed = False
        for outer, inner in nested:
            if outer in hidden or inner in hidden:
                continue
            if is_primary(counts[outer] - counts[inner], threshold):
                hidden.add(inner)
                changed = True
        for relation in relations:
            unknown = [c for c in relation.cells if c in hidden]
            if len(unknown) != 1:
                continue
            hidden.add(_partner(relation, unknown[0], counts, hidden))
            changed = True
    return hidden


def _partner(relation: Relation, suppressed: Cell, counts: Mapping[Cell, int],
             hidden: set[Cell]) -> Cell:
    """The cell to suppress alongside `suppressed` in `relation`."""
    parts = [c for c in relation.parts if c != suppressed and c not in hidden]
    non_zero = [c for c in parts if counts[c] > 0]
    for pool in (non_zero, parts):
        if pool:
            return min(pool, key=lambda c: (counts[c], str(c)))
    return relation.total
