"""Chart assets (issues 6, 16–18): materialised from the dirty-landing fixture (no leavers
file) through the real Definitions, they carry short inline markdown of PNGs of the UI's
width that exist, narrow tables of the plotted figures with rounded numbers, headline
counts and a working offline HTML report, and nothing that identifies an applicant. The
retention page follows the force's configuration (force-landing, its own funnel).
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import pandas as pd
import pytest
from conftest import FIXTURES, REPO_ROOT, materialize_all
from dagster._core.instance.ref import InstanceRef

from funnel_pipeline.charts import figures as F
from funnel_pipeline.charts import pages
from funnel_pipeline.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHART_KEYS = ("funnel", "pass_rates", "adverse_impact", "trends", "retention", "report")
BASE_URL = "http://127.0.0.1:39031"
LANDING = FIXTURES / "dirty-landing"


@pytest.fixture(scope="module")
def charted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, dict]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed")
    root = tmp_path_factory.mktemp("charts_assets")
    settings = Settings(
        landing_dir=LANDING,
        duckdb_path=root / "funnel.duckdb",
        reports_dir=root / "reports",
        duckdb_memory_limit="1GB",
        chart_base_url=BASE_URL,
    )
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    # the resource takes paths from `settings` and everything else from the environment
    with pytest.MonkeyPatch.context() as mp, \
            dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        mp.setenv("FUNNEL_CHART_BASE_URL", BASE_URL)
        mp.setenv("FUNNEL_STEP_RETRIES", "0")
        result = materialize_all(settings, instance)
        assert result.success, [e.message for e in result.all_events if e.is_step_failure]
        metadata = {
            m.materialization.asset_key.path[1]: dict(m.materialization.metadata)
            for m in result.get_asset_materialization_events()
            if m.materialization.asset_key.path[0] == "charts"
        }
    return settings, metadata


def png_width_height(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def image_links(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown)


def test_every_chart_asset_is_materialised_in_the_charts_group(charted) -> None:
    _, metadata = charted
    assert set(metadata) == set(CHART_KEYS)
    from funnel_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    for name in CHART_KEYS:
        node = graph.get(dg.AssetKey(["charts", name]))
        assert node.group_name == "charts"
        assert node.parent_keys == {dg.AssetKey(["marts", m]) for m in pages.PAGES[name].reads}
    trends = graph.get(dg.AssetKey(["charts", "trends"])).parent_keys
    assert dg.AssetKey(["marts", "stage_pass_rates_by_year"]) in trends
    assert dg.AssetKey(["marts", "stage_pass_rates_by_entry_route"]) in trends
    assert graph.get(dg.AssetKey(["charts", "retention"])).parent_keys == {
        dg.AssetKey(["marts", "retention"]), dg.AssetKey(["marts", "workforce_flows"])}


@pytest.mark.parametrize("name", CHART_KEYS)
def test_markdown_is_short_and_links_pngs_of_the_ui_width_that_exist(charted, name: str) -> None:
    settings, metadata = charted
    md = metadata[name]["charts"]
    assert isinstance(md, dg.MarkdownMetadataValue)
    text = md.md_str
    assert len(text) < 1000, "the Dagster UI hides markdown of 1,000+ characters behind a button"
    links = image_links(text)
    assert len(links) >= {"report": 2, "trends": 2, "retention": 1}.get(name, 3)
    assert "not shown here" not in text, "every chart of a page fits its markdown"
    folder = settings.reports_dir / "charts"
    for url in links:
        assert url.startswith(BASE_URL + "/")
        path = folder / unquote(urlsplit(url).path.lstrip("/"))
        assert path.is_file(), url
        width, height = png_width_height(path)
        assert width == F.DEFAULT_WIDTH and 150 < height < 1400, (path.name, width, height)
    # and the report link, in the markdown only (no long URL or path entry widening the
    # UI's value column past what a 1280 px window shows)
    (report,) = re.findall(r"(?<!!)\[Interactive report[^\]]*\]\(([^)\s]+)\)", text)
    assert report.startswith(BASE_URL + "/report_")
    assert (folder / unquote(urlsplit(report).path.lstrip("/"))).is_file()
    assert not [k for k, v in metadata[name].items()
                if isinstance(v, (dg.UrlMetadataValue, dg.PathMetadataValue))]


def test_funnel_page_shows_funnel_and_pass_rates_first(charted) -> None:
    _, metadata = charted
    alts = re.findall(r"!\[([^\]]*)\]", metadata["funnel"]["charts"].md_str)
    # the characteristic with the largest drop-out leads (pages.focus)
    assert alts[0] == "Funnel" and alts[1].startswith("Funnel: ")
    assert alts[2] == "Pass rates: " + alts[1].removeprefix("Funnel: ")


@pytest.mark.parametrize("name", ["funnel", "pass_rates", "adverse_impact", "trends"])
def test_table_of_plotted_figures(charted, name: str) -> None:
    _, metadata = charted
    table = metadata[name]["plotted figures"]
    assert isinstance(table, dg.TableMetadataValue)
    assert len(table.records) > 5
    columns = [c.name for c in table.schema.columns]
    assert "Group" in columns and ("Stage" in columns or "When" in columns)
    # few, plain-English headers (the table must fit the UI's value cell)
    assert not any("_" in c for c in columns) and len(columns) <= 5
    groups = {r.data["Group"] for r in table.records}
    assert "group_name" not in groups and None not in groups
    # numbers as people read them: whole counts, rates as rounded percentages, no raw float
    for record in table.records:
        for column, value in record.data.items():
            assert not isinstance(value, float), (column, value)
            if column in ("Pass rate", "Of all") and value is not None:
                assert re.fullmatch(r"\d{1,3}(\.\d)?%", value), value
            if column == "Rate (95%)" and value is not None:
                assert re.fullmatch(r"\d{1,3}\.\d% \(\d{1,3}\.\d%–\d{1,3}\.\d%\)", value), value
            if column in ("Ratio",) and value is not None:
                assert re.fullmatch(r"\d+\.\d{2,3}", value), value
            if column == "Ratio (95%)" and value is not None:
                assert re.fullmatch(r"\d+\.\d{2,3} \(\d+\.\d{2,3}–\d+\.\d{2,3}\)", value), value


def test_metadata_keys_leave_the_pictures_room(charted) -> None:
    """The UI's key column is as wide as the longest word of a key (measured in
    tests/e2e/test_ui_e2e.py): keys of chart pages keep words short."""
    _, metadata = charted
    words = {w for meta in metadata.values() for key in meta for w in key.split()}
    assert max(len(w) for w in words) <= pages.KEY_WORD_LIMIT, sorted(words, key=len)[-3:]


def test_no_float_plots_over_run_times(charted) -> None:
    """Dagster plots every float metadata value over run timestamps, which reads as a
    trend of nothing (issue 18): chart pages carry counts, tables and links only."""
    _, metadata = charted
    floats = [(name, key) for name, meta in metadata.items() for key, v in meta.items()
              if isinstance(v, dg.FloatMetadataValue)]
    assert floats == []
    assert metadata["funnel"]["applied"].value > 1000
    assert isinstance(metadata["pass_rates"]["flagged"], dg.IntMetadataValue)
    assert isinstance(metadata["retention"]["recruits"], dg.IntMetadataValue)
    assert not any("count" in key for meta in metadata.values() for key in meta)


def test_report_holds_every_chart_and_the_drop_out_summary(charted) -> None:
    settings, metadata = charted
    report = metadata["report"]
    (url,) = re.findall(r"\]\((\S+/report_[0-9a-f]{16}\.html)\)", report["charts"].md_str)
    page = (settings.reports_dir / "charts" / urlsplit(url).path.lstrip("/")).read_text(
        encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 30
    assert report["summary included"].value is True
    assert "Where groups drop out" in page
    assert "cdn.plot.ly" not in page.split("</head>")[1]


def _fixture_identifiers() -> set[str]:
    ids: set[str] = set()
    for path in LANDING.iterdir():
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        else:
            continue
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        for column in ("applicant_id", "event_id"):
            if column in frame:
                ids |= {str(v).strip() for v in frame[column].dropna() if str(v).strip()}
    return ids


def _metadata_text(value: dg.MetadataValue) -> str:
    if isinstance(value, dg.TableMetadataValue):
        return json.dumps([r.data for r in value.records], default=str)
    if isinstance(value, dg.MarkdownMetadataValue):
        return value.md_str
    return str(getattr(value, "value", value))


ID_PATTERNS = (r"P101\d{4,}", r"NOROW", r"ORPHAN", r"E101-\d{4,}", r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def test_no_applicant_id_or_raw_value_in_metadata_or_report(charted) -> None:
    settings, metadata = charted
    ids = _fixture_identifiers()
    assert len(ids) > 1000 and "NOROW1" in ids
    texts = {f"{name}.{key}": _metadata_text(v) for name, meta in metadata.items()
             for key, v in meta.items()}
    # the HTML reports minus the embedded plotly.js library (figures + summary remain)
    for path in (settings.reports_dir / "charts").glob("*.html"):
        page = path.read_text(encoding="utf-8")
        head, body = page.split("</head>", 1)
        texts[path.name] = head.split("<script", 1)[0] + body
    for where, text in texts.items():
        tokens = set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*", text))
        assert not tokens & ids, (where, sorted(tokens & ids)[:5])
        for pattern in ID_PATTERNS:
            assert not re.search(pattern, text), (where, pattern)


def test_charts_folder_holds_only_pngs_and_reports(charted) -> None:
    settings, _ = charted
    names = [p.name for p in (settings.reports_dir / "charts").iterdir()]
    assert names and all(re.fullmatch(r"[a-z0-9_]+_[0-9a-f]{16}\.(png|html)", n) for n in names)


def test_retention_page_without_a_leavers_file_says_so(charted) -> None:
    """dirty-landing has no leavers file: one picture saying so, no curve (a flat line at
    100% would read "nobody leaves"), the hires table, no leavers table."""
    _, metadata = charted
    meta = metadata["retention"]
    alts = re.findall(r"!\[([^\]]*)\]", meta["charts"].md_str)
    assert alts == ["Retention"]
    assert "No leavers file loaded" in meta["charts"].md_str
    assert "leavers" not in meta and "flagged" not in meta
    hires = meta["hires"]
    assert [c.name for c in hires.schema.columns][:2] == ["Route", "Group"]
    assert hires.records[0].data["Route"] == "All routes"
    assert hires.records[0].data["Group"] == "All hires"


def test_retention_page_follows_the_configuration(tmp_path: Path) -> None:
    """force-landing with its own funnel (age bands, religion): a curve per configured
    characteristic, labels from the configuration, the board table this year against
    last with every stated group's share but the reference group's."""
    from funnel_pipeline import vocabulary, warehouse
    from funnel_pipeline.charts.labels import Labels
    from funnel_pipeline.pipeline import run_all

    settings = Settings(landing_dir=FIXTURES / "force-landing", duckdb_path=tmp_path / "f.duckdb",
                        reports_dir=tmp_path / "reports", duckdb_memory_limit="1GB",
                        config_path=str(FIXTURES / "funnel.custom.toml"))
    run_all(settings)
    with warehouse.open_warehouse(settings, read_only=True) as con:
        marts = pages.read_marts(con)
        config = vocabulary.current_config(con)
    built = pages.build_figures(marts, config, min_group_size=10)
    plain = Labels(config, medium="text")
    assert list(built.pages["retention"]) == [
        f"Retention: {plain.characteristic_label(c.name)}" for c in config.characteristics]
    meta, notes = pages.tables_and_numbers("retention", marts, config, 10)
    flows = marts[pages.WORKFORCE_FLOWS]
    years = sorted(flows["financial_year"].unique())
    for flow in ("hires", "leavers"):
        table = meta[flow]
        headers = [c.name for c in table.schema.columns]
        assert headers[:2] == ["Route", "Group"] and len(headers) == 4
        this = headers[3].removesuffix(" so far")
        start = int(this[:4]) - 1
        assert this == years[-1] and headers[2] == f"{start}/{(start + 1) % 100:02d}"
        shown = {r.data["Group"] for r in table.records}
        for c in config.characteristics:
            for g in c.groups:
                label = plain.group_label(c.name, g)
                if g == c.reference_group:
                    continue
                assert any(s == label or s.endswith(f": {label}") for s in shown), (flow, label)
        # counts and shares are the mart's: the first route is All routes
        all_routes = flows.loc[(flows["flow"] == flow) & (flows["entry_route"] == "All routes")
                               & (flows["financial_year"] == this)]
        total = table.records[0].data[headers[3]]
        assert table.records[0].data["Route"] == "All routes"
        assert total == (f"{int(all_routes['total'].max()):,}" if len(all_routes) else "0")
    assert meta["recruits"] == int(marts[pages.RETENTION].query("characteristic == 'all'")
                                   ["recruits"].iloc[0])
    assert meta["flagged"] == int(marts[pages.RETENTION]["flagged"].sum())
    assert any("Shares are of recruits who stated" in n for n in notes)


def test_pages_tolerate_marts_that_do_not_exist_yet() -> None:
    from funnel_pipeline.funnel_config import load_config

    marts = dict.fromkeys((*pages.MARTS_READ, pages.CURVES))
    built = pages.build_figures(marts, load_config(None), min_group_size=10)
    assert built.pages["trends"] == {} and built.pages["retention"] == {}
    meta, notes = pages.tables_and_numbers("trends", marts, load_config(None), 10)
    assert meta == {} and notes == []
    meta, notes = pages.tables_and_numbers("funnel", marts, load_config(None), 10)
    assert "does not exist yet" in notes[0]
    meta, notes = pages.tables_and_numbers("retention", marts, load_config(None), 10)
    assert meta == {} and "does not exist yet" in notes[0]


def test_ui_serves_charts_on_the_port_of_the_base_url() -> None:
    from funnel_pipeline.cli import ui_commands

    settings = Settings(chart_base_url="http://charts.example:4123", reports_dir=Path("/x/reports"))
    server, (webserver, daemon), folder, port = ui_commands(settings, "127.0.0.1", 3000,
                                                            "127.0.0.1", None)
    assert port == 4123 and folder == Path("/x/reports/charts")
    assert server[-8:] == ["--dir", "/x/reports/charts", "--mount", "quality=/x/reports/quality",
                           "--host", "127.0.0.1", "--port", "4123"]
    assert webserver[1:7] == ["-m", "funnel_pipeline.definitions", "--host", "127.0.0.1",
                              "--port", "3000"]
    assert daemon[1:4] == ["run", "-m", "funnel_pipeline.definitions"]
    assert ui_commands(settings, "127.0.0.1", 3000, "127.0.0.1", 5000)[3] == 5000
