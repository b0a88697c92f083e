"""Chart assets (issue 6): materialised from the dirty-landing fixture through the real
Definitions, they carry short inline markdown of 450 px PNGs that exist, a table of the
plotted figures, headline floats and a working offline HTML report, and nothing that
identifies an applicant.
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

from funnel_pipeline.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHART_KEYS = ("funnel", "pass_rates", "adverse_impact", "trends", "report")
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
        assert dg.AssetKey(["marts", "stage_pass_rates"]) in node.parent_keys or name == "trends"
    trends = graph.get(dg.AssetKey(["charts", "trends"])).parent_keys
    assert dg.AssetKey(["marts", "stage_pass_rates_by_year"]) in trends
    assert dg.AssetKey(["marts", "stage_pass_rates_by_entry_route"]) in trends


@pytest.mark.parametrize("name", CHART_KEYS)
def test_markdown_is_short_and_links_450px_pngs_that_exist(charted, name: str) -> None:
    settings, metadata = charted
    md = metadata[name]["charts"]
    assert isinstance(md, dg.MarkdownMetadataValue)
    text = md.md_str
    assert len(text) < 1000, "the Dagster UI hides markdown of 1,000+ characters behind a button"
    links = image_links(text)
    assert len(links) >= (2 if name in ("report", "trends") else 3)
    folder = settings.reports_dir / "charts"
    for url in links:
        assert url.startswith(BASE_URL + "/")
        path = folder / unquote(urlsplit(url).path.lstrip("/"))
        assert path.is_file(), url
        width, height = png_width_height(path)
        assert width == 450 and 150 < height < 1200, (path.name, width, height)
    # and the report link, by URL (chart server) and by path (works when it is down)
    report = metadata[name]["report"]
    assert isinstance(report, dg.UrlMetadataValue) and report.url.startswith(BASE_URL + "/report_")
    assert report.url in text
    report_file = Path(metadata[name]["report_file"].path)
    assert report_file.is_file() and report_file.parent == folder.resolve()


def test_funnel_page_shows_funnel_and_pass_rates_first(charted) -> None:
    _, metadata = charted
    alts = re.findall(r"!\[([^\]]*)\]", metadata["funnel"]["charts"].md_str)
    # the characteristic with the largest drop-out leads (pages.focus)
    assert alts[0] == "Funnel" and alts[1].startswith("Funnel: ")
    assert alts[2] == "Pass rates: " + alts[1].removeprefix("Funnel: ")


@pytest.mark.parametrize("name", ["funnel", "pass_rates", "adverse_impact", "trends"])
def test_table_of_plotted_figures(charted, name: str) -> None:
    _, metadata = charted
    table = metadata[name]["plotted_figures"]
    assert isinstance(table, dg.TableMetadataValue)
    assert len(table.records) > 5
    columns = [c.name for c in table.schema.columns]
    assert "Group" in columns and "Stage" in columns
    # plain-English headers, not column names
    assert not any("_" in c for c in columns)
    groups = {r.data["Group"] for r in table.records}
    assert "group_name" not in groups and None not in groups


def test_no_float_plots_over_run_times(charted) -> None:
    """Dagster plots every float metadata value over run timestamps, which reads as a
    trend of nothing (issue 18): chart pages carry counts, tables and links only."""
    _, metadata = charted
    floats = [(name, key) for name, meta in metadata.items() for key, v in meta.items()
              if isinstance(v, dg.FloatMetadataValue)]
    assert floats == []
    assert metadata["funnel"]["applications"].value > 1000
    assert isinstance(metadata["pass_rates"]["flagged_drop_out_points"], dg.IntMetadataValue)
    assert "chart_count" not in metadata["report"]


def test_report_holds_every_chart_and_the_drop_out_summary(charted) -> None:
    _, metadata = charted
    report = metadata["report"]
    page = Path(report["report_file"].path).read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 18
    assert report["drop_out_summary_included"].value is True
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


def test_pages_tolerate_marts_that_do_not_exist_yet() -> None:
    from funnel_pipeline.charts import pages
    from funnel_pipeline.funnel_config import load_config

    marts = dict.fromkeys(pages.MARTS_READ)
    assert pages.build_figures(marts, load_config(None), min_group_size=10)["trends"] == {}
    meta, note = pages.tables_and_numbers("trends", marts, load_config(None), 10)
    assert meta == {} and note == ""
    meta, note = pages.tables_and_numbers("funnel", marts, load_config(None), 10)
    assert "does not exist yet" in note


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
