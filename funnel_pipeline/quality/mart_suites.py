"""The mart suites, written once here and generated into ``expectations/mart_*.json``.

Why a generator: the pass-rate marts share one metric definition
(``sql/marts/group_stage_metrics.sql``), so they share most invariants; writing them
once keeps the suites from drifting apart. The JSON files stay the reviewed artefact
(``tests/e2e/test_validation_checks.py`` fails when they differ from this module's output):

    python -m funnel_pipeline.quality.mart_suites          # rewrite expectations/mart_*.json

Every mart expectation is blocking (``severity: error``): the marts are validated in the
``staging`` schema and published only when all of them pass (``assets/marts.py``).
Queries follow GX's ``{batch}`` rules on DuckDB: a query containing ``JOIN`` must alias
the batch itself (``{batch} as b``); without a join GX adds the alias.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from funnel_pipeline import marts

#: tolerance for comparing computed fractions (docs/CONTRACT.md §5: "Checks compare to 1e-9")
EPS = "1e-9"

#: pass-rate marts (the registry's) → the columns that identify a segment within the table
PASS_RATE_SEGMENTS: dict[str, tuple[str, ...]] = {m.name: m.segments for m in marts.PASS_RATE_MARTS}
_COUNTS = ("entered", "passed", "failed", "withdrawn", "pending")


def _exp(type_: str, kwargs: dict[str, Any], check_name: str, description: str,
         severity: str = "error") -> dict[str, Any]:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"check_name": check_name, "severity": severity, "description": description},
    }


def _rows(query: str, check_name: str, description: str, severity: str = "error"
          ) -> dict[str, Any]:
    return _exp("unexpected_rows_expectation", {"unexpected_rows_query": query}, check_name,
                description, severity)


def _between(column: str, low: float | None, high: float | None, check_name: str,
             description: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"column": column}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    return _exp("expect_column_values_to_be_between", kwargs, check_name, description)


def _unit(column: str, what: str) -> dict[str, Any]:
    return _between(column, 0, 1, f"{column}_in_unit_interval",
                    f"Every {what} is a fraction between 0 and 1 (or empty where undefined).")


def _partition(segment: tuple[str, ...]) -> str:
    return ", ".join((*segment, "characteristic", "group_name"))


def _counts_rules() -> list[dict[str, Any]]:
    return [
        _rows("select * from {batch} where entered is distinct from "
              "passed + failed + withdrawn + pending",
              "entered_equals_outcomes_plus_pending",
              "At every stage, the applications entered equal those passed, failed, withdrawn "
              "and still pending: no application is lost or counted twice."),
        _rows("select * from {batch} where least(passed, failed, withdrawn, pending) < 0",
              "counts_not_negative",
              "No count of passed, failed, withdrawn or pending applications is negative."),
    ]


def _rate_rules() -> list[dict[str, Any]]:
    return [
        _unit("pass_rate", "pass rate"),
        _unit("pass_rate_ci_low", "lower bound of a pass rate's 95% interval"),
        _unit("pass_rate_ci_high", "upper bound of a pass rate's 95% interval"),
        _unit("cumulative_pass_rate", "cumulative pass rate"),
        _rows("select * from {batch} where (pass_rate is null) <> (pass_rate_ci_low is null) "
              "or (pass_rate is null) <> (pass_rate_ci_high is null) "
              f"or pass_rate_ci_low > pass_rate + {EPS} or pass_rate > pass_rate_ci_high + {EPS}",
              "interval_contains_rate",
              "Every pass rate lies inside its own 95% interval (low <= rate <= high), and a "
              "rate and its interval are either all present or all empty."),
        _unit("fisher_p_value", "Fisher exact test p-value"),
        _rows("select * from {batch} where (adverse_impact_ratio is null) <> (air_ci_low is null) "
              "or (adverse_impact_ratio is null) <> (air_ci_high is null) "
              "or air_ci_low > air_ci_high or air_ci_low <= 0 "
              f"or passed > 0 and (air_ci_low > adverse_impact_ratio + {EPS} "
              f"or adverse_impact_ratio > air_ci_high + {EPS})",
              "ratio_inside_its_interval",
              "Every adverse-impact ratio lies inside its own 95% interval (0 < low <= ratio <= "
              "high), and a ratio and its interval are either all present or all empty "
              "(docs/CONTRACT.md section 10). A group with no pass has ratio 0 and the interval of "
              "the corrected counts (a + 0.5 …), which lies above it."),
    ]


def _sequence_rules(segment: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rules comparing a stage with the one before it, within a group and segment."""
    lagged = (
        "select * from (select *, "
        f"lag(passed) over (partition by {_partition(segment)} order by stage_order) "
        "as previous_passed, "
        f"lag(cumulative_pass_rate) over (partition by {_partition(segment)} order by stage_order) "
        "as previous_cumulative_pass_rate "
        "from {batch})"
    )
    return [
        _rows(f"{lagged} where entered < previous_passed",
              "passers_enter_next_stage",
              "Every application that passed a stage is counted at the next stage (decided "
              "there or pending): a group never enters a stage with fewer applications than "
              "passed the stage before."),
        _rows(f"{lagged} where entered = previous_passed "
              f"and cumulative_pass_rate > previous_cumulative_pass_rate + {EPS}",
              "cumulative_pass_rate_never_rises",
              "A group's cumulative pass rate never rises from one stage to the next. The only "
              "allowed exception is a stage that out-of-sequence outcomes entered (counted at "
              "their own stage, docs/CONTRACT.md section 4), i.e. where more applications entered "
              "the stage than passed the one before."),
    ]


def _sum_to_all(segment: tuple[str, ...], all_rows: str) -> dict[str, Any]:
    """Group counts per characteristic, stage (and segment) equal the `all` row's."""
    keys = ", ".join((*segment, "stage_order"))
    on = " and ".join(f"a.{k} is not distinct from g.{k}" for k in (*segment, "stage_order"))
    differs = " or ".join(f"g.{c} is distinct from a.{c}" for c in _COUNTS)
    sums = ", ".join(f"sum({c}) as {c}" for c in _COUNTS)
    chars = ("(select distinct characteristic from {batch} as c0 "
             "where characteristic <> 'all')")
    query = (
        f"select a.stage_order from {all_rows} as a cross join {chars} as ch "
        f"left join (select characteristic, {keys}, {sums} from {{batch}} as b "
        f"where characteristic <> 'all' group by characteristic, {keys}) as g "
        f"on g.characteristic = ch.characteristic and {on} "
        f"where {differs}"
    )
    where = "segment and stage" if segment else "stage"
    return _rows(query, "group_counts_sum_to_all",
                 f"For every characteristic and {where}, the groups' entered, passed, failed, "
                 "withdrawn and pending counts add up to the 'all' row: every application "
                 "is in exactly one group.")


def pass_rate_suite(mart: str) -> dict[str, Any]:
    segment = PASS_RATE_SEGMENTS[mart]
    if mart == "intersectional_stage_pass_rates":
        # no 'all' rows of its own: each pair of characteristics adds up to the overall
        # 'all' row of stage_pass_rates (validated in the same staging build)
        all_rows = "(select * from staging.stage_pass_rates where characteristic = 'all')"
    else:
        all_rows = "(select * from {batch} as a0 where characteristic = 'all')"
    return {
        "name": f"mart_{mart}",
        "meta": {
            "description": f"Invariants of marts.{mart}, checked on the staging build before "
                           "it is published; any failure keeps yesterday's marts.",
            "asset": f"marts/{mart}",
            "batch": {"table": f"staging.{mart}"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _rows("select 1 where not exists (select 1 from {batch}) "
                  "and exists (select 1 from core.applications where in_funnel)",
                  "not_empty",
                  "The table has rows whenever there is at least one application in the "
                  "funnel."),
            *_counts_rules(),
            *_rate_rules(),
            *_sequence_rules(segment),
            _sum_to_all(segment, all_rows),
        ],
    }


def drop_out_points_suite() -> dict[str, Any]:
    sources = " + ".join(
        f"(select count(*) from staging.{m} where flagged)" for m in PASS_RATE_SEGMENTS)
    return {
        "name": "mart_drop_out_points",
        "meta": {
            "description": "Invariants of marts.drop_out_points (the flagged rows of the "
                           "pass-rate marts), checked on the staging build before publication.",
            "asset": "marts/drop_out_points",
            "batch": {"table": "staging.drop_out_points"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _rows(f"select 1 where (select count(*) from {{batch}}) <> {sources}",
                  "lists_every_flagged_row",
                  "The table lists exactly as many rows as are flagged in the pass-rate "
                  "tables together: no drop-out point is lost or invented."),
            _exp("expect_column_values_to_be_in_set",
                 {"column": "flagged", "value_set": [True]}, "only_flagged_rows",
                 "Every row listed is flagged (adverse-impact ratio below 0.8 and p < 0.05)."),
            *_counts_rules(),
            *_rate_rules(),
            _unit("holm_p_value", "Holm-adjusted p-value"),
            _rows(f"select * from {{batch}} where holm_p_value < fisher_p_value - {EPS}",
                  "holm_not_below_raw_p",
                  "A Holm-adjusted p-value is never smaller than the p-value it adjusts."),
            _rows("select * from {batch} where shortfall is null or shortfall <= 0",
                  "shortfall_positive",
                  "Every flagged group passed fewer applications than it would have at the "
                  "reference group's rate (a positive shortfall)."),
        ],
    }


def stage_durations_suite() -> dict[str, Any]:
    query = (
        "select a.stage_order from {batch} as a join "
        "(select characteristic, stage_order, sum(n) as n from {batch} as b "
        "where characteristic <> 'all' group by characteristic, stage_order) as g "
        "on g.stage_order = a.stage_order "
        "where a.characteristic = 'all' and g.n <> a.n"
    )
    return {
        "name": "mart_stage_durations",
        "meta": {
            "description": "Invariants of marts.stage_durations, checked on the staging build "
                           "before publication.",
            "asset": "marts/stage_durations",
            "batch": {"table": "staging.stage_durations"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _between("n", 0, None, "n_not_negative", "No duration count is negative."),
            _rows("select s.stage from core.applications as a cross join config.stages as s "
                  "where a.in_funnel and s.stage_order > 1 "
                  "and a.outcomes[s.stage_order] is not null "
                  "and a.outcomes[s.stage_order - 1] = 'passed' "
                  "and a.occurred_at[s.stage_order] < a.occurred_at[s.stage_order - 1] "
                  "and (select count(*) from {batch}) >= 0",
                  "no_negative_durations",
                  "No outcome is dated before the pass at the stage before it. Negative "
                  "durations named here are kept in the medians and percentiles as delivered: "
                  "check the dates in the events files.", severity="warn"),
            _rows("select * from {batch} where (n = 0) <> (median_days is null) "
                  "or (n = 0) <> (p90_days is null)",
                  "quantiles_only_with_durations",
                  "A median and 90th percentile are given exactly where there is at least one "
                  "duration."),
            _rows(f"select * from {{batch}} where median_days > p90_days + {EPS}",
                  "median_not_above_p90",
                  "The median duration is never longer than the 90th-percentile duration."),
            _rows(query, "group_counts_sum_to_all",
                  "For every characteristic and stage, the groups' duration counts add up to "
                  "the 'all' row: every duration is in exactly one group."),
        ],
    }


def representation_suite() -> dict[str, Any]:
    sums = " or ".join(
        f"(sum({c}) is not null and abs(sum({c}) - 1) > {EPS})"
        for c in ("applicant_share", "appointed_share"))
    return {
        "name": "mart_representation",
        "meta": {
            "description": "Invariants of marts.representation, checked on the staging build "
                           "before publication.",
            "asset": "marts/representation",
            "batch": {"table": "staging.representation"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _between("applications", 0, None, "applications_not_negative",
                     "No count of applications is negative."),
            _rows("select * from {batch} where appointed < 0 or appointed > applications",
                  "appointed_within_applications",
                  "A group's appointments are between zero and its applications."),
            _unit("applicant_share", "applicant share"),
            _unit("appointed_share", "appointed share"),
            _unit("population_share", "population share"),
            _rows(f"select characteristic from {{batch}} group by characteristic having {sums}",
                  "shares_sum_to_one",
                  "Within each characteristic, the stated groups' applicant shares (and "
                  "appointed shares) add up to 1."),
        ],
    }


def intervention_effects_suite() -> dict[str, Any]:
    cols = ("decided_before", "passed_before", "decided_after", "passed_after")
    keys = ("intervention_id", "stage_order")
    on = " and ".join(f"g.{k} = a.{k}" for k in keys)
    differs = " or ".join(f"g.{c} <> a.{c}" for c in cols)
    sums = ", ".join(f"sum({c}) as {c}" for c in cols)
    query = (
        "select a.stage_order from {batch} as a join "
        f"(select characteristic, {', '.join(keys)}, {sums} from {{batch}} as b "
        f"where characteristic <> 'all' group by characteristic, {', '.join(keys)}) as g "
        f"on {on} where a.characteristic = 'all' and ({differs})"
    )
    return {
        "name": "mart_intervention_effects",
        "meta": {
            "description": "Invariants of marts.intervention_effects, checked on the staging "
                           "build before publication (the table may be empty: no interventions).",
            "asset": "marts/intervention_effects",
            "batch": {"table": "staging.intervention_effects"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _rows("select * from {batch} where passed_before < 0 or passed_after < 0 "
                  "or passed_before > decided_before or passed_after > decided_after",
                  "passed_within_decided",
                  "Before and after each intervention, passes are between zero and the "
                  "decided outcomes."),
            _unit("pass_rate_before", "pass rate before an intervention"),
            _unit("pass_rate_after", "pass rate after an intervention"),
            _between("pass_rate_difference", -1, 1, "pass_rate_difference_in_range",
                     "Every change in pass rate is between -1 and +1."),
            _unit("fisher_p_value", "Fisher exact test p-value"),
            _rows(query, "group_counts_sum_to_all",
                  "For every intervention, stage and characteristic, the groups' decided and "
                  "passed counts add up to the 'all' row."),
        ],
    }


# --- the publication (publish/annual_publication) ------------------------------------------

#: the disclosure rule of the build: threshold t, rounding base b (NULL: exact figures)
_RULE = "(select threshold as t, rounding_base as b from staging.publication_rule)"


def _shown_low(shown: str) -> str:
    """What a reader knows of a count from its shown text: the lowest value it can be."""
    n = f"try_cast({shown} as bigint)"  # a malformed count fails its own check, not this one
    return (f"(case when {shown} = '[c]' then 0 when r.b is null then {n} "
            f"when {n} = 0 then 0 else greatest({n} - r.b // 2, r.t) end)")


def _shown_high(shown: str) -> str:
    """… and the highest (NULL: unbounded, a hidden count)."""
    n = f"try_cast({shown} as bigint)"
    return (f"(case when {shown} = '[c]' then null when r.b is null then {n} "
            f"when {n} = 0 then (case when r.b - r.b // 2 - 1 >= r.t "
            f"then r.b - r.b // 2 - 1 else 0 end) else {n} - r.b // 2 + r.b - 1 end)")


def _cells(measures: tuple[str, ...], keys: tuple[str, ...], counts: str) -> str:
    """One row per published count: its keys, measure, shown text and true count n."""
    on = " and ".join(f"c.{k} = p.{k}" for k in keys)
    cols = ", ".join(f"p.{k}" for k in keys)
    return " union all ".join(
        f"select {cols}, '{m}' as measure, p.{m} as shown, c.{m} as n "
        f"from {{batch}} as p join {counts} as c on {on}" for m in measures)


def _not_recoverable_from_totals(measures: tuple[str, ...], keys: tuple[str, ...],
                                 counts: str) -> str:
    """Rows naming a total (a characteristic's groups and its Total row, or a derived
    group and its base groups) from which a reader could pin one hidden count, or show a
    hidden small count to be below the threshold, using that total alone: the sum of the
    hidden parts lies in [low(total) − Σ high(shown parts), high(total) − Σ low(shown
    parts)] (a hidden total alone: in [Σ low(parts), Σ high(parts)])."""
    period = keys[2]
    derived = (
        "select dg.characteristic, dg.base_group, dg.group_name, b.characteristic as base "
        "from config.derived_groups as dg "
        "join config.characteristics as d on d.characteristic = dg.characteristic "
        "join config.characteristics as b on b.position = d.base_position "
        "union all select d.characteristic, 'Not stated', 'Not stated', b.characteristic "
        "from config.characteristics as d join config.characteristics as b "
        "on b.position = d.base_position where d.kind = 'derived'")
    members = (
        "select characteristic as rel, null as rel_group, characteristic, group_name, "
        "group_name = 'Total' as is_total from (select distinct characteristic, group_name "
        "from {batch} as g0) as g "
        f"union all select distinct characteristic, group_name, characteristic, group_name, "
        f"true from ({derived}) as d1 "
        f"union all select characteristic, group_name, base, base_group, false "
        f"from ({derived}) as d2")
    return (
        f"with cells as ({_cells(measures, keys, counts)}), "
        f"members as ({members}), "
        "joined as (select m.rel, m.rel_group, x." + period + " as period, x.measure, m.is_total, "
        "x.shown = '[c]' as hidden, x.shown = '[c]' and x.n between 1 and r.t - 1 as small, "
        f"{_shown_low('x.shown')} as low, {_shown_high('x.shown')} as high, r.t "
        f"from members as m join cells as x on x.characteristic = m.characteristic "
        f"and x.group_name = m.group_name cross join {_RULE} as r), "
        "totals as (select rel, rel_group, period, measure, any_value(t) as t, "
        "count(*) filter (where hidden) as k, "
        "coalesce(bool_or(hidden and is_total), false) as total_hidden, "
        "coalesce(bool_or(small), false) as small, "
        "max(low) filter (where is_total) - coalesce(sum(high) filter (where not is_total "
        "and not hidden), 0) as parts_low, "
        "max(high) filter (where is_total) - coalesce(sum(low) filter (where not is_total "
        "and not hidden), 0) as parts_high, "
        "sum(low) filter (where not is_total) as whole_low, "
        "sum(high) filter (where not is_total) as whole_high "
        "from joined group by rel, rel_group, period, measure) "
        "select * from totals where k > 0 and ("
        "not total_hidden and ((k = 1 and greatest(parts_low, 0) >= parts_high) "
        "or (small and parts_high < t)) "
        "or total_hidden and k = 1 and (whole_low >= whole_high or (small and whole_high < t)))")


def _totals_same(measures: tuple[str, ...], period: str) -> str:
    """Periods whose Total row differs between characteristics (one cell, shown once)."""
    distinct = " or ".join(f"count(distinct {m}) > 1" for m in measures)
    return (f"select {period} from {{batch}} where group_name = 'Total' "  # GX aliases it
            f"group by {period} having {distinct}")


def publication_suite() -> dict[str, Any]:
    """The published table's disclosure control and faithfulness, as blocking checks.

    Why here too: docs/PUBLICATION.md's rules are tested in tests/, but a check on every
    run's staging build is what stops a future bug (or a changed threshold) from
    publishing a small count or one a reader can work out. marts.publication shows
    counts as text, "[c]" where suppressed; staging.publication_rule holds the rule the
    build used; the recoverability checks are the single-total and single-row forms of
    disclosure.py's reader's-view rule (which also solves them all together).
    """
    from funnel_pipeline.publish.publication import MEASURES as PUBLICATION_MEASURES
    from funnel_pipeline.publish.publication import NOT_APPLICABLE, RATE_DECIMALS, SUPPRESSED
    from funnel_pipeline.publish.publication import RATES as PUBLICATION_RATES

    keys = ("characteristic", "group_name", "year")
    on = " and ".join(f"c.{k} = p.{k}" for k in keys)
    # a shown count is the count, or (with a rounding base b) the nearest multiple of b
    rounded = {m: f"(case when r.b is null then c.{m} else (c.{m} + r.b // 2) // r.b * r.b end)"
               for m in PUBLICATION_MEASURES}
    differs = " or ".join(f"(p.{m} <> '{SUPPRESSED}' and p.{m} is distinct from {rounded[m]}::varchar)"
                          for m in PUBLICATION_MEASURES)
    malformed = " or ".join(f"not regexp_full_match(coalesce({m}, ''), '[0-9]+|\\[c\\]')"
                            for m in PUBLICATION_MEASURES)
    markers = f"('{SUPPRESSED}', '{NOT_APPLICABLE}')"
    bad_rate = " or ".join(
        f"({r} is null or {r} not in {markers} and "
        f"coalesce(try_cast({r} as double) not between 0 and 1, true))"
        for r in PUBLICATION_RATES)
    # a shown rate is its shown counts' ratio, rounded (publication.RATE_DECIMALS)
    half_unit = f"{0.5 * 10 ** -RATE_DECIMALS:.10f}"
    rate_differs = " or ".join(
        f"(coalesce(try_cast({d} as bigint), 0) > 0 and try_cast({n} as bigint) is not null "
        f"and abs(try_cast({r} as double) - try_cast({n} as bigint) / try_cast({d} as bigint))"
        f" > {half_unit} + {EPS})"
        for r, (n, d) in PUBLICATION_RATES.items())
    rate_hidden = " or ".join(
        f"coalesce({r} = '{SUPPRESSED}', false) <> ({n} = '{SUPPRESSED}' or {d} = '{SUPPRESSED}')"
        for r, (n, d) in PUBLICATION_RATES.items())
    rate_not_applicable = " or ".join(
        f"coalesce({r} = '{NOT_APPLICABLE}', false) <> coalesce({d} = '0', false)"
        for r, (_, d) in PUBLICATION_RATES.items())
    low = {m: _shown_low(f"p.{m}") for m in PUBLICATION_MEASURES}
    high = {m: _shown_high(f"p.{m}") for m in PUBLICATION_MEASURES}
    small = {m: f"(p.{m} = '{SUPPRESSED}' and c.{m} between 1 and r.t - 1)"
             for m in PUBLICATION_MEASURES}
    a, s, g, ap, fl = PUBLICATION_MEASURES

    def bounded(m: str, floor: str, top: str) -> str:
        """m hidden, and its row's other counts (m within [floor, top]) pin it or show a
        small m to be below the threshold."""
        return (f"(p.{m} = '{SUPPRESSED}' and {top} is not null and "
                f"({top} <= {floor} or {small[m]} and {top} < r.t))")

    stages = " or ".join([
        bounded(s, low[g], high[a]),                 # progressed ≤ sifted ≤ applicants
        bounded(g, "0", high[s]),
        bounded(ap, "0", f"{high[a]} - {low[fl]}"),  # appointed + failed ≤ applicants
        bounded(fl, "0", f"{high[a]} - {low[ap]}"),
    ])
    return {
        "name": "mart_publication",
        "meta": {
            "description": "Disclosure control and faithfulness of marts.publication (the "
                           "annual publication's recruitment tables), checked on the staging "
                           "build before it replaces the published tables and files.",
            "asset": "publish/annual_publication",
            "batch": {"table": "staging.publication"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            *(_exp("expect_column_values_to_not_be_in_set",
                   {"column": m, "value_set": {"$PARAMETER": "small_counts"}},
                   f"{m}_no_small_count_shown",
                   f"No '{m}' count from 1 to the suppression threshold minus 1 is published "
                   "(the configuration's [publication] threshold; such counts show as [c]).")
              for m in PUBLICATION_MEASURES),
            _rows(f"select * from {{batch}} where {malformed}", "counts_are_numbers_or_suppressed",
                  "Every published count is a whole number or [c]."),
            _rows("select p.year from {batch} as p left join staging.publication_counts as c "
                  f"on {on} cross join {_RULE} as r where c.year is null or {differs}",
                  "shown_counts_equal_the_counts",
                  "Every count shown (not [c]) equals the count computed from the "
                  "applications for its characteristic, group and year (rounded to the "
                  "nearest multiple of the [publication] rounding_base, when one is set)."),
            _rows(f"select * from {{batch}} where {bad_rate}", "rates_in_unit_interval",
                  "Every published rate is [c], [z] or a fraction between 0 and 1."),
            _rows(f"select * from {{batch}} where {rate_differs}", "rates_equal_their_counts",
                  "Every rate shown with both its counts shown equals their ratio, rounded to "
                  f"{RATE_DECIMALS} decimals."),
            _rows(f"select * from {{batch}} where {rate_hidden}", "rate_suppressed_with_its_counts",
                  "A rate is [c] exactly when its numerator or denominator count is (a "
                  "rate would otherwise reveal a hidden count)."),
            _rows(f"select * from {{batch}} where {rate_not_applicable}",
                  "rate_not_applicable_without_denominator",
                  "A rate is [z] (not applicable) exactly when its denominator is a shown 0."),
            _rows(_totals_same(PUBLICATION_MEASURES, "year"), "totals_same_in_every_table",
                  "Each year's Total row shows the same figures for every characteristic (it "
                  "is one count: shown in one table and hidden in another, it would give "
                  "the hidden one away)."),
            _rows(_not_recoverable_from_totals(PUBLICATION_MEASURES, keys,
                                               "staging.publication_counts"),
                  "hidden_counts_not_recoverable_from_totals",
                  "No total (a characteristic's groups and its Total row, or a combined "
                  "group and the groups it combines) lets a reader work out a hidden count, "
                  "or show that a hidden small count is below the threshold: a hidden cell "
                  "is never alone in a total, and hidden parts of a shown total hold at "
                  "least the threshold together (with rounding: as far as the rounding "
                  "intervals allow)."),
            _rows("select p.year from {batch} as p join staging.publication_counts as c "
                  f"on {on} cross join {_RULE} as r where {stages}",
                  "hidden_counts_not_recoverable_from_the_stages",
                  "No row lets a reader work out a hidden count from its other counts "
                  "(progressed ≤ sifted ≤ applicants; appointed + failed at the final stage ≤ "
                  "applicants), or show that a hidden small count is below the threshold."),
        ],
    }


def publication_leavers_suite() -> dict[str, Any]:
    """The published leavers table (issue 17): the same disclosure rules."""
    from funnel_pipeline.publish.publication import LEAVERS, SUPPRESSED

    keys = ("characteristic", "group_name", "financial_year")
    on = " and ".join(f"c.{k} = p.{k}" for k in keys)
    rounded = f"(case when r.b is null then c.{LEAVERS} else (c.{LEAVERS} + r.b // 2) // r.b * r.b end)"
    return {
        "name": "mart_publication_leavers",
        "meta": {
            "description": "Disclosure control and faithfulness of marts.publication_leavers "
                           "(the annual publication's leavers by financial year), checked on "
                           "the staging build before it replaces the published tables and "
                           "files.",
            "asset": "publish/annual_publication",
            "batch": {"table": "staging.publication_leavers"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py",
        },
        "expectations": [
            _exp("expect_column_values_to_not_be_in_set",
                 {"column": LEAVERS, "value_set": {"$PARAMETER": "small_counts"}},
                 "leavers_no_small_count_shown",
                 "No count of leavers from 1 to the suppression threshold minus 1 is "
                 "published (such counts show as [c])."),
            _rows(f"select * from {{batch}} where not regexp_full_match(coalesce({LEAVERS}, ''), "
                  "'[0-9]+|\\[c\\]')", "leavers_are_numbers_or_suppressed",
                  "Every published count of leavers is a whole number or [c]."),
            _rows("select p.financial_year from {batch} as p left join "
                  f"staging.publication_leaver_counts as c on {on} cross join {_RULE} as r "
                  f"where c.financial_year is null or (p.{LEAVERS} <> '{SUPPRESSED}' and "
                  f"p.{LEAVERS} is distinct from {rounded}::varchar)",
                  "shown_leavers_equal_the_counts",
                  "Every count of leavers shown equals the count of marts.workforce_flows for "
                  "its characteristic, group and financial year (rounded when a rounding "
                  "base is set)."),
            _rows(_totals_same((LEAVERS,), "financial_year"), "leaver_totals_same_in_every_table",
                  "Each financial year's Total of leavers is the same for every "
                  "characteristic."),
            _rows(_not_recoverable_from_totals((LEAVERS,), keys,
                                               "staging.publication_leaver_counts"),
                  "hidden_leavers_not_recoverable_from_totals",
                  "No total lets a reader work out a hidden count of leavers, or show that a "
                  "hidden small count is below the threshold."),
        ],
    }


def _meta(mart: str, description: str) -> dict[str, Any]:
    return {"description": description, "asset": f"marts/{mart}",
            "batch": {"table": f"staging.{mart}"},
            "generated_by": "funnel_pipeline/quality/mart_suites.py"}


def pooled_suite() -> dict[str, Any]:
    strata = (
        "select characteristic, group_name, stage_order, count(*) as strata, sum(decided) as "
        "decided, sum(passed) as passed, sum(reference_decided) as reference_decided, "
        "sum(reference_passed) as reference_passed from staging.stage_pass_rates_by_campaign "
        "where decided > 0 and reference_decided > 0 and passed + reference_passed > 0 "
        "and passed + reference_passed < decided + reference_decided "
        "group by characteristic, group_name, stage_order")
    sums = ("select d.characteristic, d.group_name, d.stage_order, "
            "d.passed + d.failed + d.withdrawn as decided, d.passed, "
            "r.passed + r.failed + r.withdrawn as reference_decided, r.passed as reference_passed "
            "from staging.stage_pass_rates_by_campaign as d "
            "join staging.stage_pass_rates_by_campaign as r on r.campaign_id = d.campaign_id "
            "and r.characteristic = d.characteristic and r.group_name = d.reference_group "
            "and r.stage_order = d.stage_order")
    by_campaign = strata.replace("from staging.stage_pass_rates_by_campaign", f"from ({sums}) as k")
    differs = " or ".join(f"p.{c} is distinct from coalesce(s.{c}, 0)" for c in
                          ("strata", "decided", "passed", "reference_decided", "reference_passed"))
    return {
        "name": "mart_pooled_stage_pass_rates",
        "meta": _meta("pooled_stage_pass_rates", "Invariants of marts.pooled_stage_pass_rates "
                      "(Mantel–Haenszel across campaigns), checked on the staging build."),
        "expectations": [
            _rows("select * from {batch} where strata > (select count(distinct campaign_id) "
                  "from staging.stage_pass_rates_by_campaign)", "strata_not_above_campaigns",
                  "No row pools more strata than there are campaigns."),
            _rows(f"select p.* from {{batch}} as p left join ({by_campaign}) as s "
                  "on s.characteristic = p.characteristic and s.group_name = p.group_name "
                  f"and s.stage_order = p.stage_order where {differs}",
                  "sums_equal_the_campaign_rows",
                  "Each row's strata count and its decided and passed sums (group and reference) "
                  "equal those of the by-campaign rows they pool (campaigns where both groups "
                  "decided and not everyone or no one passed)."),
            _between("pooled_rate_ratio", 0, None, "pooled_ratio_not_negative",
                     "No pooled rate ratio is negative."),
            _unit("cmh_p_value", "CMH test p-value"),
            _unit("breslow_day_p_value", "Breslow-Day p-value"),
            _rows("select * from {batch} where strata = 0 and (pooled_rate_ratio is not null "
                  "or cmh_p_value is not null) or strata < 2 and breslow_day_p_value is not null",
                  "undefined_tests_empty",
                  "With no stratum there is no pooled ratio or CMH test, and with fewer than two "
                  "strata no Breslow-Day test."),
            _rows(f"select * from {{batch}} where flagged <> coalesce(pooled_rate_ratio < "
                  f"{marts.ADVERSE_IMPACT_THRESHOLD} and cmh_p_value < {marts.SIGNIFICANCE_LEVEL}, "
                  "false)", "flagged_as_defined",
                  "A row is flagged exactly when the pooled ratio is under 0.8 and the CMH "
                  "p-value under 0.05."),
        ],
    }


def retention_suite() -> dict[str, Any]:
    return {
        "name": "mart_retention",
        "meta": _meta("retention", "Invariants of marts.retention (Kaplan–Meier retention of "
                      "recruits), checked on the staging build; two warnings name leavers "
                      "rows that belong to no recruit and a recruit's later leaving rows."),
        "expectations": [
            _rows("select * from {batch} where leavers < 0 or leavers > recruits",
                  "leavers_not_above_recruits", "No group has more leavers than recruits."),
            _rows(f"select * from {{batch}} where retention_24_months > retention_12_months + {EPS} "
                  "or retention_12_months > 1 or retention_24_months < 0 "
                  "or retention_12_months < 0 or retention_24_months > 1",
                  "survival_ordered", "0 <= S(730 days) <= S(365 days) <= 1 for every group."),
            _rows("select a.characteristic from {batch} as a join (select characteristic, "
                  "sum(recruits) as recruits from {batch} as b where characteristic <> 'all' "
                  "group by characteristic) as g on true where a.characteristic = 'all' "
                  "and g.recruits <> a.recruits", "group_recruits_sum_to_all",
                  "For every characteristic, the groups' recruits add up to the 'all' row."),
            _unit("logrank_p_value", "log-rank p-value"),
            _rows("select * from staging.leaver_assignments as l where l.campaign_id is null "
                  "and (select count(*) from {batch}) >= 0",
                  "every_leaver_has_a_recruit",
                  "Every accepted leavers row belongs to a recruit (a recruitment with a start "
                  "on or before the leaving date). The rows named here are kept but count "
                  "nowhere: check the leavers file or the recruitment records.", severity="warn"),
            _rows("select l.campaign_id from staging.leaver_assignments as l join "
                  "(select applicant_id, campaign_id, min(left_on) as left_on "
                  "from staging.leaver_assignments where campaign_id is not null group by all) "
                  "as f using (applicant_id, campaign_id) where l.left_on > f.left_on "
                  "and (select count(*) from {batch}) >= 0",
                  "one_leaving_per_recruit",
                  "Each recruit leaves once: its earliest leavers row counts, and the later rows "
                  "of the same recruit named here count nowhere (a re-delivery with another "
                  "date, or a rejoiner missing a recruitment record).", severity="warn"),
        ],
    }


def workforce_flows_suite() -> dict[str, Any]:
    return {
        "name": "mart_workforce_flows",
        "meta": _meta("workforce_flows", "Invariants of marts.workforce_flows (hires and "
                      "leavers by financial year, route and group), checked on the staging build."),
        "expectations": [
            _rows("select * from {batch} where group_count < 0 or group_count > stated "
                  "or stated > total", "counts_nested",
                  "Within each row, 0 <= group count <= stated <= total."),
            _unit("share", "group share"),
            _rows("select financial_year from {batch} group by financial_year, entry_route, flow, "
                  f"characteristic having max(stated) > 0 and abs(sum(share) - 1) > {EPS}",
                  "shares_of_stated_groups_sum_to_one",
                  "For every year, route, flow and characteristic, the shares of the stated "
                  "groups add up to 1."),
            _rows("select a.financial_year from {batch} as a join {batch} as r on "
                  "r.financial_year = a.financial_year and r.flow = a.flow and r.characteristic "
                  "= a.characteristic and r.group_name = a.group_name and r.entry_route <> "
                  "'All routes' where a.entry_route = 'All routes' group by a.financial_year, "
                  "a.flow, a.characteristic, a.group_name, a.group_count "
                  "having sum(r.group_count) <> a.group_count", "routes_add_up_to_all_routes",
                  "For every year, flow and group, the entry routes' counts add up to 'All "
                  "routes'."),
        ],
    }


def all_suites() -> list[dict[str, Any]]:
    return [
        *(pass_rate_suite(m) for m in PASS_RATE_SEGMENTS),
        drop_out_points_suite(),
        pooled_suite(),
        stage_durations_suite(),
        representation_suite(),
        intervention_effects_suite(),
        retention_suite(),
        workforce_flows_suite(),
        publication_suite(),
        publication_leavers_suite(),
    ]


def render(suite: dict[str, Any]) -> str:
    return json.dumps(suite, indent=2, ensure_ascii=False) + "\n"


def default_directory() -> Path:
    return Path(__file__).resolve().parents[2] / "expectations"


def write_all(directory: Path | None = None) -> list[Path]:
    folder = directory or default_directory()
    written = []
    for suite in all_suites():
        path = folder / f"{suite['name']}.json"
        path.write_text(render(suite), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(path)
