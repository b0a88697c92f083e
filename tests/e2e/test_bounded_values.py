"""Bounded values (issue 20, item 4): an id too long to be a key is rejected with that
reason, a long label is shortened for display only, and a chart that cannot be drawn
fails a visible check instead of vanishing."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from conftest import APPLICANT_HEADER, EVENT_HEADER, materialize_all, read_table, write_csv

from funnel_pipeline import inert

HUGE = "X" * 1_000_000
#: accepted (under the key limit), but longer than any chart label can hold
LONG = "Campaign-" + "L" * 140


def _landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    people = [[f"P{i}", ["Female", "Male"][i % 2], ["White", "Asian"][i % 3 == 0], "No",
               "Straight"] for i in range(80)]
    write_csv(folder / "applicants_1.csv", APPLICANT_HEADER, people)
    rows = []
    for campaign in ("C-short", LONG):
        for i in range(80):
            rows += [[f"{campaign[:12]}-{i}-a", f"P{i}", campaign, "application", "passed",
                      "2023-01-05"],
                     [f"{campaign[:12]}-{i}-s", f"P{i}", campaign, "sift",
                      ["passed", "failed"][i % 3 == 0], "2023-02-05"],
                     [f"{campaign[:12]}-{i}-x", f"P{i}", campaign, "assessment",
                      ["passed", "failed"][i % 2], "2023-03-05"]]
    rows.append(["huge-1", "P1", HUGE, "application", "passed", "2023-01-05"])
    write_csv(folder / "events_1.csv", EVENT_HEADER, rows)
    write_csv(folder / "campaigns_1.csv", ["campaign_id", "entry_route", "title"],
              [["C-short", "PCDA", "t"], [LONG, "DHEP" * 30, "t"], ["C-huge", HUGE, "t"]])
    return folder


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_huge_ids_are_rejected_and_long_labels_still_draw(tmp_path, make_settings, dagster_home):
    settings = make_settings(_landing(tmp_path))
    result = materialize_all(settings, dg.DagsterInstance.get())
    assert result.success

    rejected = read_table(settings, "quality.rejected_rows")
    reasons = {r["reason"] for r in rejected}
    limit = inert.MAX_KEY_LENGTH
    assert f"campaign_id longer than {limit} characters" in reasons  # the event and the campaign
    assert f"entry_route longer than {limit} characters" in reasons
    huge_event = next(r for r in rejected if r["kind"] == "events")
    assert json.loads(huge_event["row_data"])["campaign_id"] == HUGE  # kept whole
    campaigns = {r["campaign_id"] for r in read_table(settings, "marts.stage_pass_rates_by_campaign")}
    assert campaigns == {"C-short", LONG}

    # the long (accepted) campaign is plotted, shortened, and every picture is drawn
    checks = [e for e in result.get_asset_check_evaluations() if e.check_name == "pictures_drawn"]
    from funnel_pipeline.assets.charts import CHART_ASSETS

    assert len(checks) == len(CHART_ASSETS) and all(e.passed for e in checks), [
        (e.asset_key.to_user_string(), e.metadata) for e in checks if not e.passed]
    # nothing huge reaches Dagster's storage or the reports
    assert _size(dagster_home) < 20_000_000
    assert max(p.stat().st_size for p in (settings.reports_dir / "charts").glob("*.html")) < 8_000_000
    for path in settings.reports_dir.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".md", ".csv"):
            assert "X" * 1000 not in path.read_text(encoding="utf-8", errors="replace"), path


def test_display_helpers_bound_and_neutralise_input() -> None:
    assert inert.shorten("a\nb\tc  d") == "a b c d"
    assert len(inert.shorten("y" * 500)) == inert.DISPLAY_LIMIT
    assert inert.md("![r](/graphql?query=mutation)") == r"\!\[r\]\(\/graphql\?query\=mutation\)"
    # GFM finds literal autolinks after escapes are read: a word joiner splits them
    assert inert.md("http://evil.example") == "http\\:\u2060\\/\\/evil\\.example"
    assert inert.md("www.evil.example me@evil.example") == (
        "www\u2060\\.evil\\.example me\\@\u2060evil\\.example")
    assert inert.md("a|b\n<img src=x>") == r"a\|b \<img src\=x\>"
    assert inert.chart("A & B <a href='x'>") == "A &amp; B &lt;a href='x'&gt;"
    assert len(inert.chart("z" * 100)) == 40
    assert inert.html('"><script>') == "&quot;&gt;&lt;script&gt;"
    assert [inert.cell(v) for v in ("=HYPERLINK(1)", "+1", "-x", "@a", "ok", 3)] == [
        "'=HYPERLINK(1)", "'+1", "'-x", "'@a", "ok", 3]
