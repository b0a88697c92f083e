"""The plain-language drop-out summary (issues 16, 17, 18) on real pipeline runs.

What a recruitment lead reads must be short enough to show inline in the Dagster UI,
in whole people, and list only findings that say something new. Each rule is checked
against the published marts read independently here (not through the summary's SQL):
an intersection is listed only when its whole interval lies below each part's ratio; a
campaign, route or year only when the same gap is not flagged over all applicants and no
earlier listed row has the very same counts.
"""

from __future__ import annotations

import re

import duckdb
import pytest
from conftest import FIXTURES

from funnel_pipeline import pipeline, synthetic
from funnel_pipeline.publish import summary
from funnel_pipeline.settings import Settings

CASES = {
    "demo": None,  # generated in the fixture: planted gaps and a retention gap
    "force": ("force-landing", FIXTURES / "funnel.custom.toml"),
    "dirty": ("dirty-landing", None),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[Settings, summary.WrittenSummary]:
    tmp = tmp_path_factory.mktemp(request.param)
    if CASES[request.param] is None:
        landing, config = tmp / "landing", None
        synthetic.generate_landing(landing, applicants=8000, seed=11, fmt="csv")
    else:
        folder, config = CASES[request.param]
        landing = FIXTURES / folder
    settings = Settings(landing_dir=landing, duckdb_path=tmp / "funnel.duckdb",
                        reports_dir=tmp / "reports", config_path=str(config or ""),
                        duckdb_memory_limit="1GB")
    pipeline.run_all(settings)
    return settings, summary.write_summary(settings)


def _rows(settings: Settings, sql: str) -> list[dict]:
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]
    finally:
        con.close()


def _expected_listed(settings: Settings) -> list[tuple]:
    """The drop-out points a lead should read, by the rules above, in the mart's order."""
    points = _rows(settings, "select * from marts.drop_out_points")
    overall = {(r["characteristic"], r["group_name"], r["stage_order"]): r
               for r in _rows(settings, "select * from marts.stage_pass_rates")}
    points.sort(key=lambda r: (-r["shortfall"], r["source_table"], r["campaign_id"] or "\uffff",
                               r["entry_route"] or "\uffff", r["application_year"] or 10**6,
                               r["characteristic"], r["group_name"], r["stage_order"]))
    seen_counts, listed = set(), []
    for r in points:
        if r["source_table"] == "intersectional_stage_pass_rates":
            parts = [overall.get((c, g, r["stage_order"])) for c, g in
                     zip(r["characteristic"].split(" x "), r["group_name"].split(" x "))]
            if not all(p is None or p["adverse_impact_ratio"] is None
                       or r["air_ci_high"] < p["adverse_impact_ratio"] for p in parts):
                continue
        elif r["source_table"] != "stage_pass_rates":
            same = overall.get((r["characteristic"], r["group_name"], r["stage_order"]))
            counts = (r["characteristic"], r["group_name"], r["stage_order"], r["entered"],
                      r["passed"], r["failed"], r["withdrawn"], r["pending"],
                      r["expected_passed_at_parity"])
            if (same and same["flagged"]) or counts in seen_counts:
                seen_counts.add(counts)
                continue
            seen_counts.add(counts)
        listed.append((r["source_table"], r["campaign_id"], r["entry_route"],
                       r["application_year"], r["characteristic"], r["group_name"],
                       r["stage_order"]))
    return listed


def test_findings_follow_the_listing_rules(run) -> None:
    settings, _ = run
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        got = [(r["source_table"], r["campaign_id"], r["entry_route"], r["application_year"],
                r["characteristic"], r["group_name"], r["stage_order"])
               for r in summary.findings(con)]
    finally:
        con.close()
    assert got == _expected_listed(settings)


def test_inline_fits_and_counts_agree_with_the_mart(run) -> None:
    settings, written = run
    assert len(written.inline) < summary.INLINE_LIMIT
    assert written.inline.startswith("**Where groups drop out**")
    by_source = {r["source_table"]: r["n"] for r in _rows(
        settings, "select source_table, count(*) as n from marts.drop_out_points group by 1")}
    total = sum(by_source.values())
    if total:
        overall = by_source.get("stage_pass_rates", 0)
        crossed = by_source.get("intersectional_stage_pass_rates", 0)
        words = (f"{total} drop-out points are flagged: {overall} over all applicants (plus "
                 f"{total - overall - crossed} within single campaigns, entry routes or "
                 f"application years, and {crossed} for combinations of two characteristics)")
        assert words in written.inline and words in written.full
    # sentences end whole: the inline text is never cut mid-word
    assert written.inline.rstrip().endswith(("*", "."))
    assert written.path.read_text(encoding="utf-8") == written.full


def test_people_are_whole_and_p_values_plain(run) -> None:
    _, written = run
    for text in (written.inline, written.full):
        assert not re.search(r"about \d+\.\d+ (people|person)", text)
        assert "e-0" not in text  # no scientific notation
        # numbers are rounded (a p-value, where given, to two significant digits)
        words = re.sub(r"p (<|=) 0\.0*\d{1,2}\b", "", text)
        assert not re.search(r"\d\.\d{3,}", words), "raw floats"
        assert "Holm" not in text and " x " not in text


def test_each_listed_finding_states_its_interval_in_words(run) -> None:
    settings, written = run
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        top = summary.findings(con)[:summary.TOP_N]
    finally:
        con.close()
    items = re.split(r"\n(?=\d+\. )", written.full.split("\n\n", 2)[2].split("\n\n## ")[0])
    assert len([i for i in items if re.match(r"\d+\. ", i)]) == len(top)
    for row, item in zip(top, items):
        assert f"{100 * row['pass_rate']:.0f}% passed" in item
        assert f"about {round(row['shortfall'])} " in item
        if row["air_ci_high"] is not None:
            assert f"between {row['air_ci_low']:.2f} and {row['air_ci_high']:.2f}" in item


def test_the_demo_names_its_retention_gap_inline(run, request) -> None:
    settings, written = run
    flagged = _rows(settings, "select * from marts.retention where flagged "
                              "order by retention_ratio, characteristic, group_name")
    if not flagged:
        assert "Who leaves" not in written.full
        return
    worst = flagged[0]
    line = f"{100 * worst['retention_12_months']:.0f}% still in post after 12 months"
    assert line in written.inline and "## Who leaves" in written.full
    assert written.full.count("still in post after 12 months") == len(flagged)
