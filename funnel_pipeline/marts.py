"""The marts layer: the one registry of marts, and building them (staging, then swap).

Why a registry: the list of marts used to exist six times (steps, assets, suites, the
summary, the charts, drop-out sources) and a new mart silently got the wrong
dependencies. Now a mart is one `Mart` line here plus its SQL file
`sql/marts/<name>.sql`; the assets (assets/marts.py), the generated suites
(quality/mart_suites.py), the drop-out summary and the charts read this list.

Every mart is built into `staging`, validated there (expectations/mart_<name>.json),
and swapped into `marts` in one transaction only if no blocking check failed: readers
never see a half-built table, and a failed run leaves yesterday's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from funnel_pipeline import warehouse
from funnel_pipeline.funnel_config import ALL_CHARACTERISTIC, NOT_STATED
from funnel_pipeline.settings import Settings

#: docs/CONTRACT.md section 5: the four-fifths rule, the significance level, Wilson's z
ADVERSE_IMPACT_THRESHOLD = 0.8
SIGNIFICANCE_LEVEL = 0.05
WILSON_Z = 1.959963984540054
UNKNOWN_ENTRY_ROUTE = "Unknown"
ALL_ROUTES = "All routes"


@dataclass(frozen=True)
class Mart:
    """One published table: `marts.<name>`, built by `sql/marts/<name>.sql`."""

    name: str
    description: str
    #: upstream asset keys (`core/applications`, …)
    reads: tuple[str, ...]
    #: a slice of staging.group_stage_metrics with the section 5 columns; `segments` are
    #: the columns that name its segment (empty: over all campaigns)
    pass_rates: bool = False
    segments: tuple[str, ...] = ()
    #: how the drop-out summary names a segment of it ({column} placeholders)
    segment_words: str = "all campaigns"
    #: a few words for the slice a pass-rate mart counts (the UI's drop-out tally)
    slice_label: str = ""


_PASS_RATE_READS = ("core/applications", "core/campaigns")

MARTS: tuple[Mart, ...] = (
    Mart("stage_pass_rates",
         "Pass rates per stage by protected characteristic with Wilson intervals, adverse-"
         "impact ratios with their 95% intervals and Fisher exact tests (docs/CONTRACT.md sections "
         "5 and 10).", _PASS_RATE_READS, pass_rates=True, slice_label="all applicants"),
    Mart("stage_pass_rates_by_campaign",
         "The section 5 metrics within each campaign (with its entry route).",
         _PASS_RATE_READS, pass_rates=True, segments=("campaign_id", "entry_route"),
         segment_words="campaign {campaign_id} ({entry_route})", slice_label="by campaign"),
    Mart("stage_pass_rates_by_entry_route",
         "The section 5 metrics within each entry route ('Unknown' = campaign without a "
         "campaigns row).", _PASS_RATE_READS, pass_rates=True, segments=("entry_route",),
         segment_words="entry route {entry_route}", slice_label="by entry route"),
    Mart("stage_pass_rates_by_year",
         "The section 5 metrics within each application year (UTC year of the first-stage "
         "outcome): is the gap closing?", _PASS_RATE_READS, pass_rates=True,
         segments=("application_year",), segment_words="applications of {application_year}",
         slice_label="by application year"),
    Mart("intersectional_stage_pass_rates",
         "The section 5 metrics for every pair of the characteristics marked intersectional "
         "(e.g. 'Female x Yes').", _PASS_RATE_READS, pass_rates=True,
         segment_words="all campaigns (intersection)", slice_label="two characteristics"),
    Mart("drop_out_points",
         "Every flagged row of the five pass-rate tables, with expected passes at parity, "
         "shortfall and Holm-adjusted p-values; largest shortfall first.",
         ()),  # reads: the pass-rate marts (see `reads_of`)
    Mart("pooled_stage_pass_rates",
         "Whether a gap holds across campaigns once each campaign's own pass rates are "
         "allowed for: Mantel–Haenszel rate ratio, CMH test, Breslow–Day homogeneity "
         "(docs/CONTRACT.md section 10).", _PASS_RATE_READS),
    Mart("stage_durations",
         "Median and 90th-percentile days from passing one stage to the outcome of the next, "
         "by group.", ("core/applications",)),
    Mart("representation",
         "Applicant and appointed shares of each stated group against its share of the local "
         "working-age population.", ("core/applications", "core/population")),
    Mart("intervention_effects",
         "Pass rates before and after each positive-action intervention, by stage and group, "
         "with Fisher exact tests.",
         ("core/applications", "core/interventions", "core/stage_outcomes")),
    Mart("retention",
         "Retention of recruits at 12 and 24 months (Kaplan–Meier) by group, with log-rank "
         "tests against the reference group (docs/CONTRACT.md section 9).",
         ("core/applications", "core/leavers", "core/campaigns")),
    Mart("workforce_flows",
         "Hires and leavers by financial year and entry route with the share of each group: "
         "the table forces show their boards (docs/CONTRACT.md section 9).",
         ("core/applications", "core/leavers", "core/campaigns")),
)
MART_NAMES: tuple[str, ...] = tuple(m.name for m in MARTS)
PASS_RATE_MARTS: tuple[Mart, ...] = tuple(m for m in MARTS if m.pass_rates)
#: staging-only steps the marts read, built first (one metric definition, one recruits
#: table): sql/marts/<name>.sql
INTERNAL_STEPS: tuple[str, ...] = ("group_stage_counts", "group_stage_metrics", "recruits",
                                   "survival_steps")


def mart(name: str) -> Mart:
    return next(m for m in MARTS if m.name == name)


def reads_of(m: Mart) -> tuple[str, ...]:
    """Upstream asset keys of a mart (drop_out_points reads the pass-rate marts)."""
    if m.name == "drop_out_points":
        return tuple(f"marts/{p.name}" for p in PASS_RATE_MARTS)
    return m.reads


def parameters() -> dict[str, float | str]:
    """Values every mart SQL file may bind."""
    return {
        "z": WILSON_Z,
        "threshold": ADVERSE_IMPACT_THRESHOLD,
        "alpha": SIGNIFICANCE_LEVEL,
        "unknown_route": UNKNOWN_ENTRY_ROUTE,
        "all_characteristic": ALL_CHARACTERISTIC,
        "not_stated": NOT_STATED,
    }


def build_staging(con: duckdb.DuckDBPyConnection) -> None:
    """core → staging.<mart> for every mart (not yet published), in the caller's
    transaction; then drop Fisher p-values no mart of this build used."""
    for step in (*INTERNAL_STEPS, *MART_NAMES):
        warehouse.run_sql_file(con, f"marts/{step}.sql", parameters())
    warehouse.run_sql_file(con, "marts/fisher_p_values_prune.sql")


def build_marts(settings: Settings, gate: Callable[[], bool] | None = None) -> bool:
    """Build every mart in staging and publish them; True when published.

    Without `gate`: build and publish in one transaction (run_all, benchmarks).
    With `gate` (the Dagster asset): build staging and commit, close the file, then call
    `gate()` (validates the staging tables; the file must be free for its read-only
    open) and publish only if it returns True. A False leaves `marts` as they were.
    """
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        build_staging(con)
        if gate is None:
            warehouse.swap_in(con, MART_NAMES)
            return True
    if not gate():
        return False
    with warehouse.open_warehouse(settings) as con, warehouse.transaction(con):
        warehouse.swap_in(con, MART_NAMES)
    return True
