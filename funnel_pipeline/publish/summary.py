"""Plain-language summary of the top drop-out points (marts.drop_out_points), per run.

Aggregates only (groups, stages, rates): no ids, no raw values. Kept short (top
`TOP_N` by shortfall) so it reads in a minute and fits in Dagster metadata.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from funnel_pipeline import contract, inert, steps
from funnel_pipeline.settings import Settings

TOP_N = 8
#: below this many decided outcomes (group or reference) a finding is called a small sample
SMALL_SAMPLE = 30
SUMMARY_NAME = "drop_out_summary.md"

_SEGMENT = {
    "stage_pass_rates": "all campaigns",
    "stage_pass_rates_by_campaign": "campaign {campaign_id} ({entry_route})",
    "stage_pass_rates_by_entry_route": "entry route {entry_route}",
    "intersectional_stage_pass_rates": "all campaigns (intersection)",
}


def confidence(decided: int, reference_decided: int | None, p: float, holm: float) -> str:
    """How far the finding can be trusted, in words a recruitment lead can act on."""
    if decided < SMALL_SAMPLE or (reference_decided is not None and reference_decided < SMALL_SAMPLE):
        return (f"Small sample (fewer than {SMALL_SAMPLE} decided outcomes): treat as a prompt "
                "to look at the cases, not as an established finding.")
    if holm < contract.SIGNIFICANCE_LEVEL:
        return ("Strong: still significant after allowing for the number of comparisons made "
                "(Holm-adjusted p < 0.05).")
    if p < 0.01:
        return ("Moderate: unlikely to be chance on its own (p < 0.01), but not significant "
                "once the many comparisons are allowed for.")
    return ("Weak: p < 0.05, but with this many comparisons some such gaps arise by chance; "
            "watch whether it recurs.")


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def render(rows: list[dict], total_flagged: int) -> str:
    lines = ["# Where groups drop out: top findings", ""]
    if not rows:
        lines += [("No stage shows a group passing at under four-fifths of the reference group's "
                   "rate with a significant Fisher test (p < 0.05). Nothing is flagged this run.")]
        return "\n".join(lines) + "\n"
    lines += [
        (f"{total_flagged} drop-out point(s) are flagged (pass rate under 80% of the reference "
         f"group's, Fisher p < 0.05). The {len(rows)} with the largest shortfall, i.e. the most "
         "people who would have passed had the group passed at the reference group's rate:"),
        "",
    ]
    for i, r in enumerate(rows, start=1):
        decided = r["passed"] + r["failed"] + r["withdrawn"]
        reference_rate = r["expected_passed_at_parity"] / decided if decided else None
        # every value from input (ids, routes, groups, stage names) through inert.md: the
        # summary is Dagster markdown, where a campaign id could otherwise be an image
        segment = _SEGMENT.get(r["source_table"], inert.md(r["source_table"])).format(
            campaign_id=inert.md(r["campaign_id"]), entry_route=inert.md(r["entry_route"]))
        lines += [
            (f"{i}. **{inert.md(r['group_name'])}** ({inert.md(r['characteristic'])}) at "
             f"**{inert.md(r['stage'])}**, {segment}: "
             f"{_pct(r['pass_rate'])} passed ({r['passed']} of {decided}) against "
             f"{_pct(reference_rate)} for {inert.md(r['reference_group'])}; ratio "
             f"{r['adverse_impact_ratio']:.2f}, p = {r['fisher_p_value']:.2g} "
             f"(Holm-adjusted {r['holm_p_value']:.2g}). About {r['shortfall']:.1f} fewer passed "
             "than at parity."),
            f"   {confidence(decided, r.get('reference_decided'), r['fisher_p_value'], r['holm_p_value'])}",
        ]
    lines += ["", ("Source: marts.drop_out_points (CONTRACT.md section 7). Ratios are the group's "
                   "pass rate divided by the reference group's at the same stage and segment.")]
    return "\n".join(lines) + "\n"


def summarise(con: duckdb.DuckDBPyConnection, top_n: int = TOP_N) -> str:
    cur = con.execute(
        """
        SELECT d.*, m.decided AS reference_decided
        FROM marts.drop_out_points AS d
        LEFT JOIN staging.group_stage_metrics AS m
          ON m.source_table = d.source_table
         AND m.campaign_id IS NOT DISTINCT FROM d.campaign_id
         AND m.entry_route IS NOT DISTINCT FROM d.entry_route
         AND m.characteristic = d.characteristic
         AND m.group_name = d.reference_group
         AND m.stage_order = d.stage_order
        ORDER BY d.shortfall DESC, d.source_table, d.campaign_id NULLS LAST,
                 d.entry_route NULLS LAST, d.characteristic, d.group_name, d.stage_order
        LIMIT ?
        """, [top_n])
    names = [c[0] for c in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    total = con.execute("SELECT count(*) FROM marts.drop_out_points").fetchone()[0]
    return render(rows, total)


def write_summary(settings: Settings) -> tuple[Path, str]:
    with steps.open_warehouse(settings, read_only=True) as con:
        text = summarise(con)
    path = Path(settings.reports_dir) / SUMMARY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path, text
