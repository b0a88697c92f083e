"""The drop-out summary a recruitment lead reads: where groups drop out, in plain words.

Two versions of the same findings, from the published marts only (aggregates: groups,
stages, rates; no ids, no raw values):

- `inline`: under Dagster's 1,000-character limit, shown on `marts/drop_out_points`
  without a click: how many drop-out points, which slices they count, and the top
  findings one sentence each, in whole people and words for how sure.
- `full`: every top finding with its interval in words, whether it holds across
  campaigns, its trend over application years, and retention gaps; written to
  `<reports>/drop_out_summary.md` and shown in the interactive report.

Every value from input (group and stage names, campaign ids, routes) passes through
`inert.md`. A flagged row is listed as a finding only where it says something new
(`sql/publish/drop_out_findings.sql`): an intersection only where it is worse than each
of its parts, a campaign, route or year only where the same gap is not already flagged
over all applicants. The counts say which slices they count, in the same words as the
console (`counted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from funnel_pipeline import inert, marts, vocabulary, warehouse
from funnel_pipeline.funnel_config import FunnelConfig
from funnel_pipeline.settings import Settings

SUMMARY_NAME = "drop_out_summary.md"
#: Dagster shows markdown inline only below this many characters
INLINE_LIMIT = 1000
TOP_N = 8
INLINE_TOP = 3
#: below this many decided outcomes (group or reference) a finding is called a small sample
SMALL_SAMPLE = 30


@dataclass(frozen=True)
class WrittenSummary:
    path: Path
    inline: str
    full: str


# --- words -------------------------------------------------------------------------------


class Words:
    """Plain names from the funnel configuration (labels), made inert for markdown."""

    def __init__(self, config: FunnelConfig) -> None:
        self.config = config
        self.stages = {s.name: s.label for s in config.stages}
        self.characteristics = {c.name: c for c in config.characteristics}

    def stage(self, name: str) -> str:
        return inert.md(self.stages.get(name, name))

    def group(self, characteristic: str, group: str) -> str:
        """'Disabled applicants'; 'applicants who are both Female and Ethnic minority'."""
        if " x " in characteristic:
            parts = [self.short(c, g) for c, g in zip(characteristic.split(" x "),
                                                       group.split(" x "))]
            return f"applicants who are both {parts[0]} and {parts[1]}"
        return f"{self.short(characteristic, group)} applicants"

    def short(self, characteristic: str, group: str) -> str:
        """The group's display name (its configured label, else the group itself; a bare
        Yes / No is named with its characteristic: 'Religion: No')."""
        char = self.characteristics.get(characteristic)
        if char is None:
            return inert.md(group)
        if group in char.group_labels:
            return inert.md(char.group_labels[group])
        if group.lower() in ("yes", "no"):
            return inert.md(f"{char.label}: {group}")
        return inert.md(group)

    def segment(self, row: dict) -> str:
        words = marts.mart(row["source_table"]).segment_words
        return words.format(**{k: inert.md(row[k]) for k in
                               ("campaign_id", "entry_route", "application_year")})


def pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{100 * rate:.0f}%"


def people(n: float) -> str:
    whole = round(n)
    return f"about {whole} {'person' if whole == 1 else 'people'}"


def how_sure(row: dict) -> str:
    """How far a finding can be trusted, in words a recruitment lead can act on."""
    decided = row["passed"] + row["failed"] + row["withdrawn"]
    if decided < SMALL_SAMPLE or (row.get("reference_decided") or 0) < SMALL_SAMPLE:
        return "few cases: look at them before drawing conclusions"
    if row["holm_p_value"] < marts.SIGNIFICANCE_LEVEL:
        return "very unlikely to be chance"
    if row["fisher_p_value"] < 0.01:
        return "unlikely to be chance, though many comparisons were made"
    return "could be chance: watch whether it recurs"


def interval_words(row: dict, reference: str) -> str:
    low, high = row["air_ci_low"], row["air_ci_high"]
    if low is None or high is None:
        return ""
    if high >= 1:
        return (f"the ratio is between {low:.2f} and {high:.2f}: the data are also "
                "consistent with no gap at all")
    return (f"the ratio is between {low:.2f} and {high:.2f}: at best {pct(high)} of the "
            f"pass rate of {reference}")


# --- findings ------------------------------------------------------------------------------


def findings(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """drop_out_points in its order, only the rows that say something new."""
    rows = warehouse.query_sql_file(con, "publish/drop_out_findings.sql")
    return [r for r in rows if r["worse_than_parts"] and not r["repeats_overall"]]


def slice_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT source_table, count(*) FROM marts.drop_out_points "
                            "GROUP BY ALL").fetchall())


def counted(counts: dict[str, int]) -> str:
    """'4 over all applicants (plus 46 within single campaigns, …, and 3 for combinations
    of two characteristics)': which slices the numbers count, as console and report say."""
    overall = counts.get("stage_pass_rates", 0)
    segments = sum(n for t, n in counts.items() if t not in ("stage_pass_rates",
                                                               "intersectional_stage_pass_rates"))
    crossed = counts.get("intersectional_stage_pass_rates", 0)
    return (f"{overall} over all applicants (plus {segments} within single campaigns, entry "
            f"routes or application years, and {crossed} for combinations of two "
            "characteristics)")


def p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sentence(i: int, row: dict, words: Words, long: bool) -> str:
    group = words.group(row["characteristic"], row["group_name"])
    reference = words.group(row["characteristic"], row["reference_group"])
    decided = row["passed"] + row["failed"] + row["withdrawn"]
    reference_rate = row["expected_passed_at_parity"] / decided if decided else None
    where = "" if row["source_table"] == "stage_pass_rates" else f", {words.segment(row)}"
    text = (f"{i}. **{_capitalised(group)}** at **{words.stage(row['stage'])}**{where}: "
            f"{pct(row['pass_rate'])} "
            f"passed against {pct(reference_rate)} of {reference}; {people(row['shortfall'])} "
            f"fewer passed than at the same rate. {how_sure(row).capitalize()}.")
    if not long:
        return text
    extra = [interval_words(row, reference)]
    if row.get("pooled_flagged") is not None:
        extra.append("the gap holds across campaigns once each campaign's own rates are "
                     "allowed for" if row["pooled_flagged"] else
                     "it does not hold up once each campaign's own rates are allowed for")
        if row.get("breslow_day_p_value") is not None and row["breslow_day_p_value"] < 0.05:
            extra.append("the size of the gap differs a lot from campaign to campaign")
    if row.get("trend"):
        extra.append(row["trend"])
    return text + "".join(f"\n   - {e[0].upper()}{e[1:]}." for e in extra if e)


def _trend(con: duckdb.DuckDBPyConnection, row: dict) -> str:
    """The ratio over application years, for a finding over all applicants."""
    if row["source_table"] != "stage_pass_rates":
        return ""
    years = con.execute(
        "SELECT application_year, adverse_impact_ratio FROM marts.stage_pass_rates_by_year "
        "WHERE characteristic = ? AND group_name = ? AND stage_order = ? "
        "AND adverse_impact_ratio IS NOT NULL ORDER BY application_year",
        [row["characteristic"], row["group_name"], row["stage_order"]]).fetchall()
    if len(years) < 2:
        return ""
    first, last = years[0][1], years[-1][1]
    direction = ("closing" if last > first + 0.05 else "widening" if last < first - 0.05
                 else "about the same")
    shown = ", ".join(f"{y} {r:.2f}" for y, r in years[-4:])
    return f"ratio by application year: {shown} (the gap is {direction})"


def retention_lines(con: duckdb.DuckDBPyConnection, words: Words) -> list[str]:
    """One sentence per flagged retention gap (marts.retention), worst first."""
    rows = con.execute(
        "SELECT characteristic, group_name, reference_group, retention_12_months, "
        "retention_ratio, logrank_p_value FROM marts.retention WHERE flagged "
        "ORDER BY retention_ratio, characteristic, group_name").fetchall()
    lines = []
    for characteristic, group, reference, kept, ratio, p in rows:
        ref_kept = kept / ratio if ratio else None
        lines.append(
            f"**{_capitalised(words.short(characteristic, group))}** recruits: "
            f"{pct(kept)} still in post after 12 months against {pct(ref_kept)} of "
            f"{words.short(characteristic, reference)} recruits (unlikely to be chance, "
            f"{p_value(p)}).")
    return lines


def summarise(con: duckdb.DuckDBPyConnection, top_n: int = TOP_N) -> tuple[str, str]:
    """(inline, full) markdown of the current marts."""
    words = Words(vocabulary.current_config(con))
    counts = slice_counts(con)
    top = findings(con)[:top_n]
    for row in top:
        row["trend"] = _trend(con, row)
    total = sum(counts.values())
    head = "**Where groups drop out**"
    retention = retention_lines(con, words)
    leavers = [f"Who leaves: {retention[0]}"] if retention else []
    if not top:
        nothing = ("No stage shows a group passing at under four-fifths of its reference "
                   "group's rate with a difference unlikely to be chance. Nothing is flagged.")
        full_lines = [f"# Where groups drop out\n\n{nothing}"]
        text = _fit([head, nothing], [], leavers)
    else:
        intro = (f"{total} drop-out points are flagged: {counted(counts)}. The largest, by "
                 "people who would have passed at the reference group's rate (leaving out "
                 "those that repeat a larger finding):")
        full_lines = [f"# Where groups drop out\n\n{intro}\n",
                      *(_sentence(i, r, words, long=True) for i, r in enumerate(top, 1))]
        text = _fit([head, intro], [_sentence(i, r, words, long=False)
                                    for i, r in enumerate(top[:INLINE_TOP], 1)], leavers)
    if retention:
        full_lines += ["", "## Who leaves: retention of recruits", "",
                       *(f"- {line}" for line in retention)]
    full_lines += ["", ("Source: marts.drop_out_points and marts.retention (docs/CONTRACT.md). "
                       "A ratio is a group's pass rate divided by its reference group's at the "
                       "same stage and in the same segment; flagged: under 0.8 and unlikely to "
                       "be chance (Fisher p < 0.05).")]
    return text, "\n".join(full_lines) + "\n"


def _fit(head: list[str], findings: list[str], tail: list[str]) -> str:
    """Paragraphs joined under Dagster's inline limit: findings are dropped from the end
    (then the tail) until it fits, whole sentences only, never cut mid-word."""
    note = "*More in the full summary (report and drop_out_summary.md).*"
    while True:
        text = "\n\n".join([*head, *findings, *tail, note])
        if len(text) < INLINE_LIMIT or not (findings or tail):
            return text if len(text) < INLINE_LIMIT else "\n\n".join([head[0], note])
        if findings:
            findings = findings[:-1]
        else:
            tail = tail[:-1]


def write_summary(settings: Settings) -> WrittenSummary:
    with warehouse.open_warehouse(settings, read_only=True) as con:
        inline, full = summarise(con)
    path = Path(settings.reports_dir) / SUMMARY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(full, encoding="utf-8")
    return WrittenSummary(path, inline, full)
