"""Chart builders on small hand-made marts frames: right traces, values, words, rules."""

from __future__ import annotations

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
    frame = pd.DataFrame(rows, columns=list(RATES_COLUMNS))
    ref_rate = frame[frame["group_name"] == reference].set_index("stage")["pass_rate"]
    for i, row in frame.iterrows():
        if row["characteristic"] == "all" or row["group_name"] in (reference, "Not stated"):
            continue
        air = row["pass_rate"] / ref_rate[row["stage"]]
        p = p_values.get((row["group_name"], row["stage"]), 0.6)
        frame.loc[i, "adverse_impact_ratio"] = air
        frame.loc[i, "fisher_p_value"] = p
        frame.loc[i, "flagged"] = bool(air < 0.8 and p < 0.05)
    return frame.astype({"adverse_impact_ratio": float, "fisher_p_value": float, "flagged": bool})


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


def subtitle(fig: go.Figure) -> str:
    """The subtitle as one line (the builders wrap it with <br>)."""
    return (fig.layout.title.subtitle.text or "").replace("<br>", " ")


def trace(fig: go.Figure, name_start: str) -> go.Scatter:
    found = [t for t in fig.data if (t.name or "").startswith(name_start)]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


# --- (a) funnels --------------------------------------------------------------------


def test_funnel_overall_counts_and_share_of_applications() -> None:
    fig = F.funnel_overall(make_rates(), labels=LABELS)
    assert len(fig.data) == 1 and fig.data[0].type == "funnel"
    f = fig.data[0]
    assert tuple(f.y) == STAGE_LABELS
    apps = sum(sum(g[0]) for g in ETHNICITY.values())  # 236
    passed = [sum(g[i][0] for g in ETHNICITY.values()) for i in range(5)]
    assert list(f.x) == passed
    assert f.text[0] == f"{passed[0]:,} ({passed[0] / apps:.0%})"
    assert f.text[-1] == f"{passed[-1]} ({passed[-1] / apps:.0%})"
    assert f"{apps:,} applications" in subtitle(fig)
    assert fig.layout.width == 450
    assert_plain_english(fig)


def test_funnel_by_group_hides_small_group_and_says_so() -> None:
    fig = F.funnel_by_group(make_rates(), "ethnicity", min_group_size=10, labels=LABELS)
    names = [t.name for t in fig.data]
    assert names == ["White (reference)", "Asian", "Not stated"]
    asian = trace(fig, "Asian")
    assert list(asian.x) == list(STAGE_LABELS)
    assert asian.y[1] == pytest.approx(15 / 42)
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
    assert "Flagged" in trace(fig, "Flagged").name
    assert "Flagged" in asian.hovertext[1] and "Flagged" not in asian.hovertext[2]


def test_pass_rates_without_flags_has_no_flag_legend_and_hides_small_groups() -> None:
    fig = F.pass_rates_by_group(make_rates(p_values={}), "ethnicity", min_group_size=10, labels=LABELS)
    assert not [t for t in fig.data if (t.name or "").startswith("Flagged")]
    assert "Black" not in [t.name for t in fig.data]
    assert "Too small to read" in subtitle(fig)


def test_derived_characteristic_groups_read_in_words() -> None:
    counts = {
        "No": ETHNICITY["White"],
        "Yes": ETHNICITY["Asian"],
        "Not stated": ETHNICITY["Not stated"],
    }
    rates = make_rates("ethnic_minority", counts, reference="No", p_values={("Yes", "sift"): 0.001})
    fig = F.pass_rates_by_group(rates, "ethnic_minority", labels=LABELS)
    names = [t.name for t in fig.data]
    assert "White (reference)" in names and "Ethnic minority" in names
    assert "Yes" not in names and "No" not in names
    assert "Ethnic minority background" in fig.layout.title.text
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
    assert list(asian.x) == [2022, 2023, 2024]
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
    assert "Sift" in fig.layout.title.text
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
        assert fig.layout.width == 450


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
        assert set(built) == {"funnel", "pass_rates", "adverse_impact", "trends"}
        assert len(built["pass_rates"]) == len(funnel.characteristics)
        assert len(built["trends"]) == 2 * len(funnel.characteristics)
        for figs in built.values():
            for fig in figs.values():
                assert fig.layout.width == 450 and 150 < fig.layout.height < 1200
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
