"""Chart builders on small hand-made marts frames: right traces, values, words, rules."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from funnel_pipeline.charts import figures as F
from funnel_pipeline.charts._frames import RATES_COLUMNS
from funnel_pipeline.charts.labels import Labels
from funnel_pipeline.funnel_config import load_config

#: the built-in funnel's names, as the charts of a run get them
LABELS = Labels(load_config(None))
STAGES = ("application", "sift", "assessment", "vetting", "appointment")
STAGE_LABELS = ("Application", "Sift", "Assessment (SEARCH)", "Vetting", "Appointment")
Z = 1.959963984540054
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "optional-landing.expected"

# passed, failed, withdrawn per stage (pending 0 everywhere keeps the arithmetic obvious)
ETHNICITY = {
    "White": [(150, 8, 2), (105, 40, 5), (60, 40, 5), (50, 8, 2), (45, 5, 0)],
    "Asian": [(40, 2, 0), (15, 23, 2), (8, 6, 1), (7, 1, 0), (6, 1, 0)],
    "Black": [(5, 1, 0), (2, 3, 0), (1, 1, 0), (1, 0, 0), (1, 0, 0)],  # 6 applications
    "Not stated": [(20, 0, 0), (10, 10, 0), (5, 5, 0), (4, 1, 0), (3, 1, 0)],
}
#: Fisher p-values as the mart would carry them (None = no ratio / test)
P_VALUES = {("Asian", "sift"): 0.0004, ("Asian", "assessment"): 0.41, ("Asian", "vetting"): 0.03}


def wilson(passed: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = passed / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def make_rates(
    characteristic: str = "ethnicity",
    counts: dict[str, list[tuple[int, int, int]]] | None = None,
    reference: str | None = "White",
    p_values: dict[tuple[str, str], float] | None = None,
    with_all: bool = True,
) -> pd.DataFrame:
    """A `marts.stage_pass_rates`-shaped frame computed the contract's way."""
    counts = ETHNICITY if counts is None else counts
    p_values = P_VALUES if p_values is None else p_values
    rows: list[dict[str, object]] = []

    def add(char: str, group: str, per_stage: list[tuple[int, int, int]], ref: str | None) -> None:
        apps = sum(per_stage[0])
        for order, (stage, (p, f, w)) in enumerate(zip(STAGES, per_stage), start=1):
            decided = p + f + w
            lo, hi = wilson(p, decided)
            rows.append(
                {
                    "characteristic": char,
                    "group_name": group,
                    "stage": stage,
                    "stage_order": order,
                    "entered": decided,
                    "passed": p,
                    "failed": f,
                    "withdrawn": w,
                    "pending": 0,
                    "pass_rate": p / decided if decided else None,
                    "pass_rate_ci_low": lo,
                    "pass_rate_ci_high": hi,
                    "cumulative_pass_rate": p / apps,
                    "reference_group": ref,
                    "adverse_impact_ratio": None,
                    "fisher_p_value": None,
                    "flagged": False,
                }
            )

    for group, per_stage in counts.items():
        add(characteristic, group, per_stage, reference)
    if with_all:
        total = [tuple(sum(c[i][k] for c in counts.values()) for k in range(3)) for i in range(5)]
        add("all", "All", total, None)  # type: ignore[arg-type]
    frame = pd.DataFrame(rows, columns=[*RATES_COLUMNS, "air_ci_low", "air_ci_high"])
    ref = frame[frame["group_name"] == reference].set_index("stage")
    for i, row in frame.iterrows():
        if row["characteristic"] == "all" or row["group_name"] in (reference, "Not stated"):
            continue
        air = row["pass_rate"] / ref.loc[row["stage"], "pass_rate"]
        p = p_values.get((row["group_name"], row["stage"]), 0.6)
        frame.loc[i, "adverse_impact_ratio"] = air
        frame.loc[i, "fisher_p_value"] = p
        frame.loc[i, "flagged"] = bool(air < 0.8 and p < 0.05)
        decided = ref.loc[row["stage"], ["passed", "failed", "withdrawn"]].sum()
        low, high = air_interval(row["passed"], row["passed"] + row["failed"] + row["withdrawn"],
                                 ref.loc[row["stage"], "passed"], decided)
        frame.loc[i, "air_ci_low"], frame.loc[i, "air_ci_high"] = low, high
    return frame.astype({"adverse_impact_ratio": float, "fisher_p_value": float, "flagged": bool,
                         "air_ci_low": float, "air_ci_high": float})


def air_interval(a: int, n1: int, c: int, n2: int) -> tuple[float, float]:
    """CONTRACT.md section 10's interval of the ratio (with its zero-passes correction)."""
    if a == 0:
        a, n1, c, n2 = a + 0.5, n1 + 1, c + 0.5, n2 + 1
    r = (a / n1) / (c / n2)
    half = Z * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    return math.exp(math.log(r) - half), math.exp(math.log(r) + half)


def make_by_campaign() -> pd.DataFrame:
    """`marts.stage_pass_rates_by_campaign`-shaped: three campaigns, two routes."""
    parts = []
    for cid, route, scale in (("C2", "PCDA", 1), ("C1", "PCDA", 2), ("C3", "DHEP", 1)):
        counts = {g: [tuple(v * scale for v in s) for s in per] for g, per in ETHNICITY.items()}
        if cid == "C1":  # Asian too small in C1 only
            counts["Asian"] = [(4, 1, 0), (2, 2, 0), (1, 1, 0), (1, 0, 0), (1, 0, 0)]
        frame = make_rates(counts=counts)  # type: ignore[arg-type]
        frame.insert(0, "entry_route", route)
        frame.insert(0, "campaign_id", cid)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def layout_words(fig: go.Figure) -> str:
    """Every piece of text a reader sees, to check for column names and raw keys."""
    lay = fig.layout
    texts = [lay.title.text or "", lay.title.subtitle.text or ""]
    for axis in (lay.xaxis, lay.yaxis):
        texts.append(axis.title.text or "")
        texts.extend(str(t) for t in (axis.ticktext or ()))
    texts.extend(a.text or "" for a in lay.annotations)
    texts.extend(t.name or "" for t in fig.data)
    return "\n".join(texts)


FORBIDDEN = (
    "pass_rate",
    "ci_low",
    "ci_high",
    "group_name",
    "adverse_impact",
    "fisher",
    "cumulative",
    "stage_order",
    "reference_group",
    "ethnic_minority",
    "lgbt_plus",
    "entered",
    "nan",
    "None",
)


def assert_plain_english(fig: go.Figure) -> None:
    words = layout_words(fig)
    for token in FORBIDDEN:
        assert token not in words, f"{token!r} shown to the reader in:\n{words}"


def one_line(text: str | None) -> str:
    """Text as one line (the builders wrap it with <br>)."""
    return (text or "").replace("<br>", " ")


def subtitle(fig: go.Figure) -> str:
    return one_line(fig.layout.title.subtitle.text)


def title(fig: go.Figure) -> str:
    return one_line(fig.layout.title.text)


def has_data(t: go.Scatter) -> bool:
    return any(v is not None for v in (t.x if t.x is not None else ()))


def trace(fig: go.Figure, name_start: str) -> go.Scatter:
    """The one trace drawing the data of that name (legend-only entries left aside)."""
    found = [t for t in fig.data if one_line(t.name).startswith(name_start) and has_data(t)]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def legend_names(fig: go.Figure) -> list[str]:
    """The legend's entries, in order, as one line each."""
    return [one_line(t.name) for t in fig.data
            if t.showlegend is not False and t.name and t.type != "heatmap"]


# --- (a) funnels --------------------------------------------------------------------


def test_funnel_overall_counts_and_share_of_applications() -> None:
    fig = F.funnel_overall(make_rates(), labels=LABELS)
    assert len(fig.data) == 1 and fig.data[0].type == "funnel"
    f = fig.data[0]
    assert tuple(one_line(y) for y in f.y) == STAGE_LABELS
    apps = sum(sum(g[0]) for g in ETHNICITY.values())  # 236
    passed = [sum(g[i][0] for g in ETHNICITY.values()) for i in range(5)]
    assert list(f.x) == passed
    assert f.text[0] == f"{passed[0]:,} ({passed[0] / apps:.0%})"
    assert f.text[-1] == f"{passed[-1]} ({passed[-1] / apps:.0%})"
    assert f"{apps:,} applications" in subtitle(fig)
    # the bracketed share is said to be of all applications, not the stage's pass rate
    assert "share of all applications" in subtitle(fig) and "not the stage's pass rate" in subtitle(fig)
    # a count too long for its bar is written beside it, the others inside
    assert f.textposition[0] == "inside"
    few = {g: [*per[:-1], (1, 1, 0)] for g, per in ETHNICITY.items()}  # 4 appointed of 236
    tiny = F.funnel_overall(make_rates(counts=few), labels=LABELS).data[0]  # type: ignore[arg-type]
    assert tiny.textposition[0] == "inside" and tiny.textposition[-1] == "outside"
    assert fig.layout.width == F.DEFAULT_WIDTH
    assert_plain_english(fig)


def test_funnel_by_group_hides_small_group_and_says_so() -> None:
    fig = F.funnel_by_group(make_rates(), "ethnicity", min_group_size=10, labels=LABELS)
    names = [t.name for t in fig.data]
    assert names == ["White (reference)", "Asian", "Not stated"]
    asian = trace(fig, "Asian")
    # stages run down the page, as in the funnel
    assert list(asian.y) == list(STAGE_LABELS)
    assert fig.layout.yaxis.autorange == "reversed"
    assert asian.x[1] == pytest.approx(15 / 42)
    assert "Too small to read" in subtitle(fig)
    assert "Black" in subtitle(fig)
    assert_plain_english(fig)
    # the threshold is a parameter: at 5 Black is large enough
    fig5 = F.funnel_by_group(make_rates(), "ethnicity", min_group_size=5, labels=LABELS)
    assert "Black" in [t.name for t in fig5.data]
    assert "Too small" not in subtitle(fig5)


# --- (b) pass rates -----------------------------------------------------------------


def test_pass_rates_wilson_bars_reference_and_four_fifths_marks() -> None:
    rates = make_rates()
    fig = F.pass_rates_by_group(rates, "ethnicity", labels=LABELS)
    assert_plain_english(fig)
    white = trace(fig, "White (reference)")
    assert white.marker.symbol == "square"
    asian = trace(fig, "Asian")
    rows = rates[(rates.characteristic == "ethnicity") & (rates.group_name == "Asian")]
    assert list(asian.x) == pytest.approx(list(rows.pass_rate))
    assert list(asian.error_x.array) == pytest.approx(list(rows.pass_rate_ci_high - rows.pass_rate))
    assert list(asian.error_x.arrayminus) == pytest.approx(
        list(rows.pass_rate - rows.pass_rate_ci_low)
    )
    # one four-fifths segment per stage at 0.8 × the White rate, spanning its band
    mark = trace(fig, "Four-fifths of White rate")
    xs = [x for x in mark.x if x is not None]
    ref = rates[(rates.characteristic == "ethnicity") & (rates.group_name == "White")]
    expected = [0.8 * r for r in ref.pass_rate for _ in (0, 1)]
    assert xs == pytest.approx(expected)
    ys = [y for y in mark.y if y is not None]
    assert ys[:2] == pytest.approx([-0.45, 0.45])
    # dots sit inside their stage's band
    assert all(abs(y - i) < 0.45 for i, y in enumerate(asian.y))
    assert list(fig.layout.yaxis.tickvals) == [0, 1, 2, 3, 4]
    assert fig.layout.xaxis.tickformat == ".0%"


def test_pass_rates_flagged_points_highlighted() -> None:
    fig = F.pass_rates_by_group(make_rates(), "ethnicity", labels=LABELS)
    asian = trace(fig, "Asian")
    # sift: ratio 0.55, p 0.0004 → flagged; assessment: p 0.41 → not; vetting: ratio ≥ 0.8
    assert list(asian.customdata) == [False, True, False, False, False]
    assert list(asian.marker.line.width) == [1, 3, 1, 1, 1]
    assert list(asian.marker.size) == [8, 13, 8, 8, 8]
    assert asian.marker.line.color[1] == "#000000"
    assert any(n.startswith("Flagged") for n in legend_names(fig))
    assert "Flagged" in asian.hovertext[1] and "Flagged" not in asian.hovertext[2]
    # the legend shows each group plainly (a legend symbol copies the first point, which
    # may carry a ring): the data trace stays out of the legend, an entry of its own shows it
    assert asian.showlegend is False
    entry = [t for t in fig.data if t.name == "Asian" and not has_data(t)]
    assert len(entry) == 1 and entry[0].marker.line.width is None


def test_pass_rates_without_flags_has_no_flag_legend_and_hides_small_groups() -> None:
    fig = F.pass_rates_by_group(make_rates(p_values={}), "ethnicity", min_group_size=10, labels=LABELS)
    assert not [t for t in fig.data if (t.name or "").startswith("Flagged")]
    assert "Black" not in legend_names(fig)
    assert "Too small to read" in subtitle(fig)


def test_derived_characteristic_groups_read_in_words() -> None:
    counts = {
        "No": ETHNICITY["White"],
        "Yes": ETHNICITY["Asian"],
        "Not stated": ETHNICITY["Not stated"],
    }
    rates = make_rates("ethnic_minority", counts, reference="No", p_values={("Yes", "sift"): 0.001})
    fig = F.pass_rates_by_group(rates, "ethnic_minority", labels=LABELS)
    names = legend_names(fig)
    assert "White (reference)" in names and "Ethnic minority" in names
    assert "Yes" not in names and "No" not in names
    assert "Ethnic minority background" in title(fig)
    assert_plain_english(fig)


# --- (c) heatmap --------------------------------------------------------------------


def test_heatmap_cells_ratios_muting_and_boxes() -> None:
    rates = make_rates()
    fig = F.adverse_impact_heatmap(rates, "ethnicity", labels=LABELS)
    assert_plain_english(fig)
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert len(heat) == 2
    strong, faded = heat
    # reference, Not stated (no ratio) and small groups (Black) have no column
    assert list(strong.x) == ["Asian"] and list(faded.x) == ["Asian"]
    assert list(strong.y) == list(STAGE_LABELS)
    # significant cells (sift, vetting) in full colour with the ratio printed
    asian = rates[(rates.characteristic == "ethnicity") & (rates.group_name == "Asian")]
    air = list(asian.adverse_impact_ratio)
    assert strong.text[1][0] == f"{air[1]:.2f}" and strong.text[3][0] == f"{air[3]:.2f}"
    assert strong.z[1][0] == pytest.approx(math.log2(air[1]))
    assert strong.z[2][0] is None and faded.z[2][0] is not None
    # non-significant cells: faded and greyed, ratio still printed
    assert faded.text[2][0] == f"{air[2]:.2f}" and faded.text[0][0] == f"{air[0]:.2f}"
    assert faded.opacity < 0.5 and strong.opacity in (None, 1)
    assert faded.textfont.color.upper() == "#6E6E6E"
    assert "could be chance" in subtitle(fig)
    # the flagged cell (sift) is boxed; vetting is significant but ratio ≥ 0.8
    boxes = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(boxes) == 1 and boxes[0].y0 < 1 < boxes[0].y1
    # a diverging, colour-blind-safe scale centred on a ratio of 1 (log2 = 0)
    ca = fig.layout.coloraxis
    assert ca.cmid == 0 and ca.cmin == -1 and ca.cmax == 1
    assert list(ca.colorbar.ticktext) == ["0.5", "0.8", "1", "1.25", "2"]
    assert (
        ca.colorscale
        == go.Figure(layout={"coloraxis": {"colorscale": "PuOr"}}).layout.coloraxis.colorscale
    )
    assert "Black" in subtitle(fig)  # named as too small


def test_heatmap_with_only_small_groups_says_so() -> None:
    fig = F.adverse_impact_heatmap(make_rates(), "ethnicity", min_group_size=100, labels=LABELS)
    assert not fig.data
    assert "Too small to read" in fig.layout.annotations[0].text


# --- (d) trends ---------------------------------------------------------------------


def make_by_year() -> pd.DataFrame:
    """`marts.stage_pass_rates_by_year`-shaped: three application years."""
    parts = []
    for year, scale in ((2023, 1), (2022, 2), (2024, 1)):
        counts = {g: [tuple(v * scale for v in s) for s in per] for g, per in ETHNICITY.items()}
        if year == 2022:  # Asian too small in 2022 only
            counts["Asian"] = [(4, 1, 0), (2, 2, 0), (1, 1, 0), (1, 0, 0), (1, 0, 0)]
        frame = make_rates(counts=counts)  # type: ignore[arg-type]
        frame.insert(0, "application_year", year)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def test_trend_by_year_is_a_time_axis_with_gaps_and_an_all_line() -> None:
    fig = F.pass_rate_trend_by_year(make_by_year(), "ethnicity", "sift", min_group_size=10,
                                    labels=LABELS)
    assert_plain_english(fig)
    assert list(fig.layout.xaxis.tickvals) == [2022, 2023, 2024]  # years in order, not labels
    assert fig.layout.xaxis.title.text == "Year of application"
    everyone = trace(fig, "All applicants")
    assert everyone.line.dash == "dash"
    asian = trace(fig, "Asian")
    # each group a little beside the year, so that ranges of one year do not overlap
    assert [round(x) for x in asian.x] == [2022, 2023, 2024]
    offsets = {round(t.x[0] - 2022, 6) for t in fig.data if t.name != "All applicants"}
    assert len(offsets) == len([t for t in fig.data if t.name != "All applicants"])
    assert all(abs(o) < 0.25 for o in offsets)
    assert asian.y[0] is None  # too small in 2022: a gap, not a point
    assert asian.y[1] == pytest.approx(15 / 40)
    assert "Asian (2022)" in subtitle(fig)
    black = trace(fig, "Black")  # 12 applications in 2022 only (6 in 2023, 2024)
    assert black.y[0] == pytest.approx(4 / 10) and black.y[1] is None and black.y[2] is None
    assert "Black (2023, 2024)" in subtitle(fig)
    assert fig.layout.yaxis.tickformat == ".0%"


def test_pass_rates_by_entry_route_uses_route_segments() -> None:
    by_campaign = make_by_campaign()
    by_route = by_campaign[by_campaign.campaign_id != "C1"].drop(columns="campaign_id")
    fig = F.pass_rates_by_entry_route(by_route, "ethnicity", "sift", labels=LABELS)
    assert_plain_english(fig)
    assert list(fig.layout.yaxis.ticktext) == ["DHEP", "PCDA"]
    assert "Sift" in title(fig)
    mark = trace(fig, "Four-fifths")
    assert [x for x in mark.x if x is not None] == pytest.approx([0.8 * 105 / 150] * 4)


# --- inputs -------------------------------------------------------------------------


def test_missing_columns_are_errors() -> None:
    with pytest.raises(ValueError, match="pass_rate_ci_low"):
        F.pass_rates_by_group(make_rates().drop(columns="pass_rate_ci_low"), "ethnicity", labels=LABELS)
    with pytest.raises(ValueError, match="application_year"):
        F.pass_rate_trend_by_year(make_rates(), "ethnicity", "sift", labels=LABELS)


def test_empty_marts_give_a_readable_placeholder() -> None:
    empty = make_rates().iloc[0:0]
    for fig in (
        F.funnel_overall(empty, labels=LABELS),
        F.funnel_by_group(empty, "sex", labels=LABELS),
        F.pass_rates_by_group(empty, "sex", labels=LABELS),
        F.adverse_impact_heatmap(empty, "sex", labels=LABELS),
    ):
        assert not fig.data and fig.layout.annotations
        assert fig.layout.width == F.DEFAULT_WIDTH


def test_nullable_dtypes_from_duckdb_are_accepted() -> None:
    """DuckDB's `.df()` may hand over pandas NA and nullable dtypes."""
    rates = make_rates().convert_dtypes()
    assert rates["adverse_impact_ratio"].isna().any()
    fig = F.adverse_impact_heatmap(rates, "ethnicity", labels=LABELS)
    assert [t.type for t in fig.data].count("heatmap") == 2
    F.pass_rates_by_group(rates, "ethnicity", labels=LABELS).to_json()


def test_every_page_builds_on_the_contract_example() -> None:
    """The independently computed example marts: every page's charts build at sidebar
    width and read as plain English, for the built-in funnel and a force's own."""
    from funnel_pipeline.charts import pages

    for folder, config in (("optional-landing.v12.expected", None),
                           ("force-landing.expected", "funnel.custom.toml")):
        expected = FIXTURES.parent / folder
        marts = {t: pd.read_csv(expected / f"{t}.csv") for t in pages.MARTS_READ}
        funnel = load_config(FIXTURES.parent / config if config else None)
        built = pages.build_figures(marts, funnel, min_group_size=10)
        assert set(built.pages) == {"funnel", "pass_rates", "adverse_impact", "trends",
                                    "retention"}
        n = len(funnel.characteristics)
        assert len(built.pages["pass_rates"]) == len(built.pages["adverse_impact"]) == n
        # a page: the years of every characteristic, the routes of the focus one; the
        # report: every chart of the pages, the heatmaps and every characteristic's routes
        assert len(built.pages["trends"]) == n + 1
        on_pages = {name for figs in built.pages.values() for name in figs}
        assert len(built.report) == len(on_pages) + 2 * n - 1
        assert on_pages <= set(built.report)
        # the expected marts have no recruits table: no retention curve, nothing drawn
        assert built.pages["retention"] == {}
        for name, fig in built.report.items():
            assert fig.layout.width == F.DEFAULT_WIDTH and 150 < fig.layout.height < 2000, name
            assert_plain_english(fig)
    rates = pd.read_csv(FIXTURES / "stage_pass_rates.csv")
    # Asian at sift is flagged in this example: it must carry the ring
    fig = F.pass_rates_by_group(rates, "ethnicity", labels=LABELS)
    asian = trace(fig, "Asian")
    assert bool(asian.customdata[1])
    assert asian.marker.line.width[1] == 3


def test_ratio_text_never_rounds_across_four_fifths() -> None:
    assert F.ratio_text(0.7956) == "0.796"
    assert F.ratio_text(0.80) == "0.80"
    assert F.ratio_text(0.734) == "0.73"
    assert F.ratio_text(1.2) == "1.20"


# --- (e) the ratio with its interval (issue 16) --------------------------------------


def test_forest_plots_each_ratio_with_its_interval_and_the_four_fifths_line() -> None:
    rates = make_rates()
    fig = F.adverse_impact_forest(rates, "ethnicity", labels=LABELS)
    assert_plain_english(fig)
    assert fig.layout.xaxis.type == "log"  # 0.5 and 2 equally far from 1
    asian = rates[(rates.characteristic == "ethnicity") & (rates.group_name == "Asian")]
    dots = trace(fig, "Asian")
    assert list(dots.x) == pytest.approx(list(asian.adverse_impact_ratio))
    # one segment per stage, from the interval's low end to its high end
    lines = [t for t in fig.data if t.mode == "lines" and t.legendgroup == "Asian"]
    assert len(lines) == 1
    ends = [v for v in lines[0].x if v is not None]
    expected = [v for lo, hi in zip(asian.air_ci_low, asian.air_ci_high) for v in (lo, hi)]
    assert ends == pytest.approx(expected)
    # dots sit on their segments' rows
    ys = [v for v in lines[0].y if v is not None]
    assert ys[::2] == list(dots.y)
    # the four-fifths line spans every row; the reference group, Not stated and the small
    # group (Black, 6 applications) have no row and the small one is named
    mark = trace(fig, "Four-fifths line")
    assert set(mark.x) == {0.8}
    assert [n for n in legend_names(fig) if not n.startswith(("Four", "Flagged"))] == ["Asian"]
    assert "Black" in subtitle(fig)
    # the flagged row (sift) is ringed, the others not
    assert list(dots.customdata) == [False, True, False, False, False]
    assert list(dots.marker.line.width) == [1, 3, 1, 1, 1]
    # one header per stage, in stage order
    headers = [a.text for a in fig.layout.annotations]
    assert headers == [f"<b>{s}</b>" for s in STAGE_LABELS]
    # how sure, in words: the flagged row's interval
    lo, hi = float(asian.air_ci_low.iloc[1]), float(asian.air_ci_high.iloc[1])
    assert (f"Clearest gap: Asian at Sift: the ratio is between {lo:.2f} and {hi:.2f}: at best "
            f"{hi:.0%} of the pass rate of White applicants.") in subtitle(fig)
    # ticks: 0.8 and 1 are always labelled
    assert {0.8, 1.0} <= set(fig.layout.xaxis.tickvals)


def test_forest_without_flags_says_so_and_needs_the_interval_columns() -> None:
    fig = F.adverse_impact_forest(make_rates(p_values={}), "ethnicity", labels=LABELS)
    assert "No group is flagged" in subtitle(fig)
    assert not [n for n in legend_names(fig) if n.startswith("Flagged")]
    with pytest.raises(ValueError, match="air_ci_low"):
        F.adverse_impact_forest(make_rates().drop(columns="air_ci_low"), "ethnicity",
                                labels=LABELS)
    small = F.adverse_impact_forest(make_rates(), "ethnicity", min_group_size=1000, labels=LABELS)
    assert not small.data and "reference group (White)" in small.layout.annotations[0].text


def test_forest_ticks_never_collide() -> None:
    for low, high in ((0.05, 20.0), (0.7, 1.3), (0.3, 1.2), (0.78, 1.02)):
        ticks = F._spaced_ticks(low, high, 300)
        assert 0.8 in ticks and (1.0 in ticks or (low, high) == (0.05, 20.0))
        px = [300 * (math.log(t) - math.log(low)) / (math.log(high) - math.log(low))
              for t in ticks]
        assert all(b - a >= 20 for a, b in itertools.pairwise(px)), (low, high, ticks)


# --- (f) retention curves (issue 17) ---------------------------------------------------


def make_curves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A retention_curves.sql-shaped frame and the marts.retention rows it belongs to."""
    rows = []
    # (group, recruits, leavers, S per month, at risk per month)
    series = {
        ("all", "All"): (60, 18, [1, .95, .9, .85, .8], [60, 50, 40, 30, 20]),
        ("sex", "Male"): (30, 6, [1, .97, .94, .9, .88], [30, 25, 20, 15, 11]),
        ("sex", "Female"): (25, 11, [1, .92, .8, .7, .6], [25, 20, 16, 12, 8]),
        ("sex", "Not stated"): (5, 1, [1, .8, .8], [5, 4, 2]),
    }
    for (c, g), (recruits, leavers, surv, risk) in series.items():
        for month, (s, n) in enumerate(zip(surv, risk)):
            rows.append({"characteristic": c, "group_name": g, "month": month * 6,
                         "retained": s, "at_risk": n, "recruits": recruits, "leavers": leavers,
                         "leavers_loaded": 20, "observed_until": pd.Timestamp("2025-06-30", tz="UTC")})
    retention = pd.DataFrame([
        {"characteristic": "all", "group_name": "All", "recruits": 60, "leavers": 18,
         "retention_12_months": .9, "retention_24_months": .8, "reference_group": None,
         "retention_ratio": None, "logrank_p_value": None, "flagged": False},
        {"characteristic": "sex", "group_name": "Male", "recruits": 30, "leavers": 6,
         "retention_12_months": .94, "retention_24_months": .88, "reference_group": "Male",
         "retention_ratio": None, "logrank_p_value": None, "flagged": False},
        {"characteristic": "sex", "group_name": "Female", "recruits": 25, "leavers": 11,
         "retention_12_months": .8, "retention_24_months": .6, "reference_group": "Male",
         "retention_ratio": .8 / .94, "logrank_p_value": 0.01, "flagged": True},
        {"characteristic": "sex", "group_name": "Not stated", "recruits": 5, "leavers": 1,
         "retention_12_months": .8, "retention_24_months": None, "reference_group": "Male",
         "retention_ratio": None, "logrank_p_value": None, "flagged": False},
    ])
    return pd.DataFrame(rows), retention


def test_retention_curves_are_steps_that_stop_where_few_are_followed() -> None:
    curves, retention = make_curves()
    fig = F.retention_curves(curves, retention, "sex", labels=LABELS, observed_until="June 2025",
                             min_group_size=10)
    assert_plain_english(fig)
    male, female = trace(fig, "Male (reference)"), trace(fig, "Female")
    assert male.line.shape == female.line.shape == "hv"  # a step function
    # followed by at least 10 recruits: Female stops at month 18 (8 at 24), Male goes on
    assert list(female.x) == [0, 6, 12, 18] and list(female.y) == [1, .92, .8, .7]
    assert list(male.x) == [0, 6, 12, 18, 24]
    everyone = trace(fig, "All recruits")
    assert everyone.line.dash == "dash" and list(everyone.x) == [0, 6, 12, 18, 24]
    # Not stated: 5 recruits, too small, named
    assert "Not stated" not in legend_names(fig)
    assert "Not stated" in subtitle(fig) and "fewer than 10 recruits" in subtitle(fig)
    # the flagged group is ringed at 12 months (its line stops before 24) and said in words
    rings = [t for t in fig.data if t.mode == "markers" and has_data(t)]
    assert len(rings) == 1 and list(rings[0].x) == [12] and list(rings[0].y) == [.8]
    assert any(n.startswith("Flagged") for n in legend_names(fig))
    words = subtitle(fig)
    assert ("Flagged: Female recruits leave sooner than Male recruits, unlikely to be chance "
            "(log-rank p < 0.05): 80% still serve after 12 months, against 94%.") in words
    # censoring in words: how many have not left, up to when they count
    assert "42 of 60 recruits have not left" in words and "(June 2025)" in words
    assert "censored" in words
    assert fig.layout.yaxis.range[0] == 0  # from 0%: nothing exaggerated


def test_retention_without_flags_and_without_leavers() -> None:
    curves, retention = make_curves()
    calm = retention.assign(flagged=False)
    fig = F.retention_curves(curves, calm, "sex", labels=LABELS, observed_until=None)
    assert "No group is flagged" in subtitle(fig)
    assert not [t for t in fig.data if t.mode == "markers" and has_data(t)]
    empty = F.no_leavers()
    assert not empty.data and "No leavers file" in empty.layout.annotations[0].text
    with pytest.raises(ValueError, match="at_risk"):
        F.retention_curves(curves.drop(columns="at_risk"), retention, "sex", labels=LABELS,
                           observed_until=None)


# --- text that fits (issue 18) -----------------------------------------------------------


def test_wrap_keeps_every_line_within_its_width() -> None:
    from funnel_pipeline.charts import _text

    text = ("Of applications with a result at Assessment (SEARCH), the share that passed, "
            "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW and &amp; entities &lt;kept&gt; whole.")
    for width in (80, 150, 380):
        wrapped = _text.wrap(text, width, 11)
        lines = wrapped.split("<br>")
        assert all(_text.text_width(line, 11) <= width for line in lines), (width, lines)
        assert not any(line.endswith("&amp") or line.startswith("amp;") for line in lines)
        # nothing lost: the words (the long one cut into pieces) read the same
        assert "".join(wrapped.replace("<br>", " ").split()) == "".join(text.split())
    assert _text.wrap("short", 300, 11) == "short"
    assert _text.wrap("a\nb", 300, 11) == "a<br>b"
    # measured by what is shown: a tag takes no width, an entity one character
    assert _text.text_width("<b>W</b>", 10) == _text.text_width("W", 10)
    assert _text.text_width("&amp;", 10) == _text.text_width("&", 10)
    assert _text.text_width("W", 10, bold=True) > _text.text_width("W", 10)


def test_left_out_lists_quote_labels_with_commas() -> None:
    from funnel_pipeline.charts._layout import small_note

    note = small_note({"Asian, Asian British": ["2022", "2023"], "Black": ["all"]}, 3, 10,
                      " in a year")
    assert note == ("Too small to read, left out (fewer than 10 applications in a year): "
                    "“Asian, Asian British” (2022, 2023); Black (all).")


@pytest.mark.parametrize("reverse", [False, True])
def test_page_focus_is_the_same_whatever_order_the_points_come_in(reverse: bool):
    """Two characteristics whose shortfalls tie but for a float sum's last bits (as an
    incremental run and a rebuild of the same data can give them) pick the same focus:
    the first in the configuration, whichever order the rows come in."""
    from funnel_pipeline.charts.pages import DROP_OUT_POINTS, PASS_RATES, focus

    config = load_config(None)
    first, second = (c.name for c in config.characteristics[:2])
    rows = [(first, "sift", 0.1), (first, "sift", 0.2), (second, "sift", 0.3),
            (second, "assessment", 1e-12)]
    if reverse:
        rows.reverse()
    points = pd.DataFrame(rows, columns=["characteristic", "stage", "shortfall"])
    points["source_table"] = PASS_RATES
    assert 0.1 + 0.2 != 0.3  # the tie is only a tie to 9 decimals
    found = focus({DROP_OUT_POINTS: points}, config)
    assert (found.characteristic, found.stage) == (first, "sift")
