"""Disclosure control for published count tables: what is shown, what is hidden, and
proof that no hidden count can be worked out.

Pure functions, no I/O, so the rules can be tested by themselves.

A table is a set of count cells and the facts a reader knows about them:

* `Relation`: a cell is the sum of others (a characteristic's groups add up to its
  Total; a derived group is the sum of its base groups, e.g. ethnic minority = every
  group but White).
* `Limit`: a sum of cells is at most another sum (progressed to assessment ≤ sifted ≤
  applicants; appointed + failed at the final stage ≤ applicants; leavers ≤ recruits).
* `Rule`: the threshold t and an optional rounding base b: a shown count is exact, or
  rounded to the nearest multiple of b (halves up), which tells a reader only an interval.

`suppress` hides:

1. **Primary**: every count from 1 to t − 1 (zero is shown: it discloses no person).
2. **Totals**: in every relation that holds a hidden cell, at least two cells are hidden,
   and while its total is shown the hidden parts hold at least t people together (else a
   reader subtracts the shown parts and learns the hidden ones are all small).
3. **Reader's view**: for every hidden cell, the range of values consistent with
   everything published (the bounds a linear programme finds from all relations and
   limits at once, each shown figure as its exact value or rounding interval, hidden
   cells only known to be ≥ 0) is more than one value; for a primary cell it reaches t,
   so a reader cannot tell it from a count that would have been shown.

Steps 2 and 3 add cells until nothing is left to fix, always the one that holds the fewest
people among those that help (so headline figures stay shown wherever a smaller cell
protects as well). Nothing is ever un-hidden, so the loop ends. `reader_ranges` is the
same linear programme, exposed so callers can report what a reader could infer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Cell = Hashable

#: LP tolerance: bounds are integers, so anything closer than this is the same value
_EPS = 1e-6


@dataclass(frozen=True)
class Relation:
    """`total` = sum of `parts` holds in the published table."""

    total: Cell
    parts: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class Limit:
    """sum of `smaller` ≤ sum of `larger` holds for the true counts (a reader knows it)."""

    smaller: tuple[Cell, ...]
    larger: tuple[Cell, ...]

    @property
    def cells(self) -> tuple[Cell, ...]:
        return (*self.smaller, *self.larger)


@dataclass(frozen=True)
class Rule:
    """How counts are published: hidden below `threshold`, rounded to `rounding_base`."""

    threshold: int = 5
    rounding_base: int | None = None

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError("suppression threshold must be at least 1")
        if self.rounding_base is not None:
            if self.rounding_base < 1:
                raise ValueError("rounding base must be at least 1")
            if self.threshold > 1 and self._round(self.threshold) < self.threshold:
                raise ValueError(f"rounding to {self.rounding_base} would show a count of "
                                 f"{self.threshold} as {self._round(self.threshold)}, "
                                 "below the threshold")

    def is_primary(self, count: int) -> bool:
        return 1 <= count < self.threshold

    def _round(self, count: int) -> int:
        base = self.rounding_base or 1
        return base * ((count + base // 2) // base)

    def shown(self, count: int) -> int:
        """The figure published for a count that is not hidden."""
        return self._round(count) if self.rounding_base else count

    def known_range(self, shown: int) -> tuple[int, int]:
        """What a reader knows of a count from its shown figure: [low, high]."""
        if not self.rounding_base:
            return shown, shown
        base, half = self.rounding_base, self.rounding_base // 2
        if shown == 0:  # 0 rounds from 0, or from counts below base - half that are shown
            top = base - half - 1
            return 0, top if top >= self.threshold else 0
        return max(shown - half, self.threshold), shown - half + base - 1


def is_primary(count: int, threshold: int) -> bool:
    return Rule(threshold).is_primary(count)


# --- suppression -----------------------------------------------------------------------


def suppress(counts: Mapping[Cell, int], relations: Iterable[Relation],
             limits: Iterable[Limit], rule: Rule) -> set[Cell]:
    """Cells to show as suppressed, primary and secondary (module docstring)."""
    relations, limits = list(relations), list(limits)
    hidden = {cell for cell, value in counts.items() if rule.is_primary(value)}
    primary = frozenset(hidden)
    while True:
        if not rule.rounding_base:  # exact figures: step 2 is implied by step 3, and cheaper
            _protect_totals(counts, relations, hidden, rule.threshold)
        fixes = _reader_fixes(counts, relations, limits, rule, hidden, primary)
        if not fixes:
            return hidden
        hidden |= fixes


def _cost(cell: Cell, counts: Mapping[Cell, int]) -> tuple:
    """Hide the cell holding the fewest people first; a stable order among equals."""
    return counts[cell], repr(cell)


def _protect_totals(counts: Mapping[Cell, int], relations: list[Relation], hidden: set[Cell],
                    threshold: int) -> None:
    """Step 2 to a fixed point: no relation with a lone hidden cell, no shown total whose
    hidden parts hold fewer than `threshold` people."""
    by_cell: dict[Cell, list[Relation]] = defaultdict(list)
    for relation in relations:
        for cell in relation.cells:
            by_cell[cell].append(relation)
    queue = [r for r in relations if any(c in hidden for c in r.cells)]
    while queue:
        relation = queue.pop()
        while True:
            unknown = [c for c in relation.cells if c in hidden]
            if not unknown:
                break
            parts_held = sum(counts[c] for c in unknown if c != relation.total)
            short = relation.total not in hidden and parts_held < threshold
            if len(unknown) >= 2 and not short:
                break
            partner = _partner(relation, counts, hidden)
            if partner is None:
                break
            hidden.add(partner)
            queue.extend(by_cell[partner])


def _partner(relation: Relation, counts: Mapping[Cell, int], hidden: set[Cell]) -> Cell | None:
    """The cell to hide with the relation's hidden ones: the smallest non-zero shown part
    (a hidden zero protects nothing), else the total, else any shown part."""
    parts = sorted((c for c in relation.parts if c not in hidden), key=lambda c: _cost(c, counts))
    non_zero = [c for c in parts if counts[c] > 0]
    if non_zero:
        return non_zero[0]
    if relation.total not in hidden:
        return relation.total
    return parts[0] if parts else None


# --- the reader's view (linear programme) ------------------------------------------------


def _bounds(counts: Mapping[Cell, int], rule: Rule, hidden: set[Cell]
            ) -> dict[Cell, tuple[float, float]]:
    return {cell: (0.0, math.inf) if cell in hidden
            else tuple(float(b) for b in rule.known_range(rule.shown(value)))
            for cell, value in counts.items()}


@dataclass
class _Part:
    """One connected part of the programme, its matrices built once."""

    cells: list[Cell]
    index: dict[Cell, int]
    a_ub: Any
    a_eq: Any
    bounds: list[tuple[float, float | None]]


class _Programme:
    """Every relation and limit of one table as one sparse linear programme, solved per
    connected part (cells joined by a fact and not already known to one value).

    Solving every hidden cell's extremes one by one is slow (at 200 hidden cells, a few
    hundred programmes of a thousand variables). `certify` first looks for feasible
    tables, which prove at once every cell they move far enough: the true table itself,
    then one programme (all parts as independent blocks) pushing every unproven cell
    towards its goal together, again for those it left.
    Only the cells still unproven are solved alone, and those solutions say what fails.
    """

    def __init__(self, counts: Mapping[Cell, int], relations: list[Relation],
                 limits: list[Limit], bounds: dict[Cell, tuple[float, float]]) -> None:
        self.counts, self.bounds = counts, bounds
        self.facts: list[tuple[dict[Cell, float], bool]] = []  # coefficients, is equality
        for r in relations:
            row: dict[Cell, float] = defaultdict(float)
            row[r.total] += 1.0
            for p in r.parts:
                row[p] -= 1.0
            self.facts.append((dict(row), True))
        for limit in limits:
            row = defaultdict(float)
            for c in limit.smaller:
                row[c] += 1.0
            for c in limit.larger:
                row[c] -= 1.0
            self.facts.append((dict(row), False))
        parent: dict[Cell, Cell] = {}

        def find(c: Cell) -> Cell:
            while parent.setdefault(c, c) != c:
                parent[c] = parent[parent[c]]
                c = parent[c]
            return c

        free_of = [[c for c in row if bounds[c][0] != bounds[c][1]] for row, _ in self.facts]
        for free in free_of:
            for c in free[1:]:
                parent[find(c)] = find(free[0])
        self._find = find
        self._facts_by_root: dict[Cell, list[tuple[dict[Cell, float], bool]]] = defaultdict(list)
        for fact, free in zip(self.facts, free_of):
            if free:  # a fact of values all known already tells nothing
                self._facts_by_root[find(free[0])].append(fact)
        self._parts: dict[Cell, _Part | None] = {}

    def _part(self, cell: Cell) -> _Part | None:
        """The connected part holding `cell` (None when it is in no fact)."""
        root = self._find(cell)
        if root not in self._parts:
            self._parts[root] = self._build([root])
        return self._parts[root]

    def _build(self, roots: Iterable[Cell]) -> _Part | None:
        """One programme over the parts of `roots` (independent blocks, solved together)."""
        from scipy.sparse import csr_array

        facts = [fact for root in roots for fact in self._facts_by_root.get(root, ())]
        if not facts:
            return None
        cells = sorted({c for row, _ in facts for c in row}, key=repr)
        index = {c: i for i, c in enumerate(cells)}

        def matrix(rows: list[dict[Cell, float]]) -> Any:
            if not rows:
                return None
            data, ri, ci = [], [], []
            for n, r in enumerate(rows):
                for c, v in r.items():
                    data.append(v)
                    ri.append(n)
                    ci.append(index[c])
            return csr_array((data, (ri, ci)), shape=(len(rows), len(cells)))

        return _Part(cells, index, matrix([r for r, eq in facts if not eq]),
                     matrix([r for r, eq in facts if eq]),
                     [(self.bounds[c][0], None if math.isinf(self.bounds[c][1])
                       else self.bounds[c][1]) for c in cells])

    def _linprog(self, part: _Part, objective: list[float], extra: int = 0,
                 extra_rows: Any = None, extra_bounds: list | None = None) -> Any:
        """min objective·x over the part (with `extra` helper variables and ≤ 0 rows)."""
        from scipy.optimize import linprog
        from scipy.sparse import hstack, vstack

        a_ub, a_eq = part.a_ub, part.a_eq
        if extra:
            a_ub, a_eq = (None if m is None else hstack([m, _zeros(m.shape[0], extra)]).tocsr()
                          for m in (a_ub, a_eq))
            a_ub = extra_rows if a_ub is None else vstack([a_ub, extra_rows]).tocsr()
        rows_ub = 0 if a_ub is None else a_ub.shape[0]
        rows_eq = 0 if a_eq is None else a_eq.shape[0]
        result = linprog(objective, A_ub=a_ub, b_ub=[0.0] * rows_ub if rows_ub else None,
                         A_eq=a_eq, b_eq=[0.0] * rows_eq if rows_eq else None,
                         bounds=part.bounds + (extra_bounds or []), method="highs")
        if result.status not in (0, 3):
            raise RuntimeError(f"disclosure check could not be solved: {result.message}")
        return result

    def solve(self, cell: Cell, maximise: bool) -> tuple[float, list[Cell]]:
        """(optimum, helpers): the extreme value of `cell` a reader can reach, and the shown
        cells whose hiding would move it further (from the LP's bound marginals)."""
        part = self._part(cell)
        if part is None:  # in no fact: only its own bounds
            return self.bounds[cell][1 if maximise else 0], []
        objective = [0.0] * len(part.cells)
        objective[part.index[cell]] = -1.0 if maximise else 1.0
        result = self._linprog(part, objective)
        if result.status == 3:  # unbounded
            return math.inf, []
        # minimising ±x: a negative upper marginal → a higher bound improves the optimum;
        # a positive lower marginal → a lower bound does (and hiding lowers it to 0)
        upper, lower = result.upper.marginals, result.lower.marginals
        helpers = [c for c, i in part.index.items()
                   if (upper[i] < -_EPS or (lower[i] > _EPS and self.bounds[c][0] > 0))
                   and not math.isinf(self.bounds[c][1])]  # hidden cells are [0, inf)
        return float(result.x[part.index[cell]]), helpers

    def certify(self, goals: Mapping[Cell, tuple[float, float]]) -> set[Cell]:
        """Cells proven safe by some feasible table: `goals[c] = (low, high)` is met when a
        feasible table has c ≤ low or c ≥ high. Tries the true table, then programmes
        moving every open cell towards its goal at once (upwards, then downwards)."""
        proven = {c for c, (low, high) in goals.items()
                  if self.counts[c] <= low + _EPS or self.counts[c] >= high - _EPS}
        cells = [c for c in goals if c not in proven and self._part(c) is not None]
        part = self._build(dict.fromkeys(self._find(c) for c in cells))
        for upward in (True, False):
            while part is not None:  # pushing many cells at once trades some off: push the rest
                todo = [c for c in cells if c not in proven and (upward or goals[c][0] >= 0)]
                point = self._push(part, todo, goals, upward) if todo else None
                if point is None:
                    break
                reached = {c for c in todo if (
                    point[part.index[c]] >= goals[c][1] - _EPS if upward
                    else point[part.index[c]] <= goals[c][0] + _EPS)}
                if not reached:
                    break
                proven |= reached
        return proven

    def _push(self, part: _Part, cells: list[Cell], goals: Mapping[Cell, tuple[float, float]],
              upward: bool) -> Any:
        """A feasible table maximising Σ min(c, goal) (or, downward, Σ max(c, goal)) over
        `cells`: helper y_c ≤ c (≥ c), y_c within the goal, maximise Σ y_c (minimise)."""
        from scipy.sparse import csr_array

        n, k = len(part.cells), len(cells)
        sign = 1.0 if upward else -1.0
        data, ri, ci = [], [], []
        for j, c in enumerate(cells):  # upward: y - x <= 0; downward: x - y <= 0
            data += [sign, -sign]
            ri += [j, j]
            ci += [n + j, part.index[c]]
        rows = csr_array((data, (ri, ci)), shape=(k, n + k))
        bounds = [(0.0, goals[c][1]) if upward else (goals[c][0], None) for c in cells]
        objective = [0.0] * n + [-sign] * k
        result = self._linprog(part, objective, extra=k, extra_rows=rows, extra_bounds=bounds)
        return result.x if result.status == 0 else None


def _zeros(rows: int, columns: int) -> Any:
    from scipy.sparse import csr_array

    return csr_array((rows, columns))


def reader_ranges(counts: Mapping[Cell, int], relations: Iterable[Relation],
                  limits: Iterable[Limit], rule: Rule, hidden: set[Cell]
                  ) -> dict[Cell, tuple[float, float]]:
    """For each hidden cell, the lowest and highest value a reader can show it may take."""
    programme = _Programme(counts, list(relations), list(limits), _bounds(counts, rule, hidden))
    return {cell: (programme.solve(cell, False)[0], programme.solve(cell, True)[0])
            for cell in sorted(hidden, key=repr)}


def _reader_fixes(counts: Mapping[Cell, int], relations: list[Relation], limits: list[Limit],
                  rule: Rule, hidden: set[Cell], primary: frozenset) -> set[Cell]:
    """Step 3: one more cell to hide for every hidden cell a reader can pin down (or, for a
    primary cell, bound below the threshold)."""
    programme = _Programme(counts, relations, limits, _bounds(counts, rule, hidden))
    # a primary cell must be able to reach the threshold; any other hidden cell must be
    # able to differ from its true value (either way)
    goals = {c: (-math.inf, float(rule.threshold)) if c in primary
             else (counts[c] - 1.0, counts[c] + 1.0) for c in hidden}
    proven = programme.certify(goals)
    fixes: set[Cell] = set()
    for cell in sorted(set(hidden) - proven, key=repr):
        low_goal, high_goal = goals[cell]
        high, helpers = programme.solve(cell, maximise=True)
        if high >= high_goal - _EPS:
            continue
        if low_goal > -math.inf:
            low, low_helpers = programme.solve(cell, maximise=False)
            if low <= low_goal + _EPS:
                continue
            helpers = helpers + low_helpers
        if fixes & set(helpers):
            continue  # this round already hides a cell that loosens it
        cheapest = _cheapest(helpers, cell, counts, [*relations, *limits], hidden)
        if cheapest is not None:
            fixes.add(cheapest)
    return fixes


def _cheapest(helpers: list[Cell], cell: Cell, counts: Mapping[Cell, int],
              relations: list[Relation | Limit], hidden: set[Cell]) -> Cell | None:
    """The helper holding the fewest people; without one (a degenerate optimum), the
    smallest shown cell nearest to the pinned cell through relations and limits; None
    when nothing related is shown."""
    if helpers:
        return min(helpers, key=lambda c: _cost(c, counts))
    # the shown cells nearest to it through the relations and limits: those of its own,
    # else of those of their cells, and so on (every related cell may be hidden while a
    # chain further out, or a limit such as leavers <= appointed, still pins it)
    reached, frontier = {cell}, {cell}
    while frontier:
        linked = {c for r in relations if frontier & set(r.cells) for c in r.cells} - reached
        near = [c for c in linked if c not in hidden]
        if near:
            non_zero = [c for c in near if counts[c] > 0] or near
            return min(non_zero, key=lambda c: _cost(c, counts))
        reached |= linked
        frontier = linked
    # nothing related is shown: hiding more cannot help (what a reader still knows comes
    # from the bounds of hidden cells); the blocking publication checks have the last word
    return None
