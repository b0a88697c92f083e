"""PNG rendering through real Chromium (kaleido 1.x), hashed names, Dagster markdown."""

from __future__ import annotations

import re
import struct
import time
import zlib
from pathlib import Path

import pytest
from test_charts_figures import LABELS, make_rates

from funnel_pipeline.charts import figures as F
from funnel_pipeline.charts import render as R

CHROMIUM = Path("/usr/bin/chromium")


# --- a minimal PNG reader (stdlib only: no Pillow needed just for tests) ---------------


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, bytes per pixel, unfiltered rows) of an 8-bit, non-interlaced PNG."""
    width, height = png_size(data)
    depth, colour, _, _, interlace = data[24:29]
    assert depth == 8 and interlace == 0, (depth, interlace)
    bpp = {2: 3, 6: 4, 0: 1, 4: 2}[colour]
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def ink(data: bytes) -> tuple[float, int]:
    """(share of pixels that are not white, number of distinct colours)."""
    width, height, bpp, rows = png_pixels(data)
    colours: set[bytes] = set()
    dark = 0
    for row in rows:
        for x in range(0, width * bpp, bpp):
            px = row[x : x + bpp]
            colours.add(px)
            if min(px[:3]) < 235:
                dark += 1
    return dark / (width * height), len(colours)


# --- rendering (slow: starts Chromium once for the module) ---------------------------


@pytest.fixture(scope="module")
def charts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed")
    return tmp_path_factory.mktemp("charts")


@pytest.mark.slow
def test_pngs_are_real_images_of_the_figure_size(charts_dir: Path) -> None:
    rates = make_rates()
    figs = {
        "funnel": F.funnel_overall(rates, labels=LABELS),
        "adverse_impact": F.adverse_impact_heatmap(rates, "ethnicity", labels=LABELS),
    }
    started = time.monotonic()
    paths = R.write_pngs(figs, charts_dir)
    first = time.monotonic() - started
    assert set(paths) == set(figs)
    for name, path in paths.items():
        assert path.parent == charts_dir
        assert re.fullmatch(rf"{name}_[0-9a-f]{{16}}\.png", path.name), path.name
        data = path.read_bytes()
        assert png_size(data) == (F.DEFAULT_WIDTH, figs[name].layout.height)
        share, colours = ink(data)
        assert 0.02 < share < 0.9, f"{name}: {share:.1%} of pixels drawn"
        assert colours > 20, f"{name}: only {colours} colours"
    # no temporary files left behind
    assert sorted(p.name for p in charts_dir.iterdir()) == sorted(p.name for p in paths.values())
    print(f"first two PNGs: {first:.1f} s")


@pytest.mark.slow
def test_same_figure_same_file_changed_figure_new_file(charts_dir: Path) -> None:
    fig = F.funnel_overall(make_rates(), labels=LABELS)
    path = R.write_pngs({"funnel": fig}, charts_dir)["funnel"]
    mtime = path.stat().st_mtime_ns
    again = R.write_pngs({"funnel": F.funnel_overall(make_rates(), labels=LABELS)}, charts_dir)["funnel"]
    assert again == path and path.stat().st_mtime_ns == mtime  # reused, not re-rendered
    rates = make_rates()
    rates.loc[rates.stage == "appointment", "passed"] += 1
    changed = R.write_pngs({"funnel": F.funnel_overall(rates, labels=LABELS)}, charts_dir)["funnel"]
    assert changed != path and path.exists()  # old materialisations keep their picture
    started = time.monotonic()
    R.render_png(F.funnel_by_group(rates, "ethnicity", labels=LABELS))
    assert time.monotonic() - started < 10  # the browser is kept between images


def test_filename_depends_on_content_and_size() -> None:
    fig = F.funnel_overall(make_rates(), labels=LABELS)
    name = R.chart_filename("Funnel / overall", fig)
    assert re.fullmatch(r"funnel_overall_[0-9a-f]{16}\.png", name)
    assert R.chart_filename("Funnel / overall", F.funnel_overall(make_rates(), labels=LABELS)) == name
    assert R.chart_filename("Funnel / overall", F.funnel_overall(make_rates(), width=500, labels=LABELS)) != name
    assert R.chart_filename("Funnel / overall", fig, scale=2) != name


def test_filename_carries_no_label() -> None:
    """A label after ": " comes from the configuration or the data: never part of a URL."""
    fig = F.funnel_overall(make_rates(), labels=LABELS)
    name = R.chart_filename("Ratios: ![zq01x](http://zq01x.evil.example/x.png)", fig)
    assert re.fullmatch(r"ratios_[0-9a-f]{16}\.png", name), name


# --- markdown for the Dagster UI -----------------------------------------------------


def test_chart_markdown_short_image_links() -> None:
    md = R.chart_markdown(
        {"funnel": "funnel_0123456789abcdef.png", "Pass rates": "pass_rates_0123456789abcdef.png"},
        "http://127.0.0.1:3031/",
    )
    assert md == (
        "![Funnel](http://127.0.0.1:3031/funnel_0123456789abcdef.png)\n\n"
        "![Pass rates](http://127.0.0.1:3031/pass_rates_0123456789abcdef.png)"
    )


def test_chart_markdown_stays_under_dagster_limit() -> None:
    many = {f"chart_{i}": f"chart_{i}_{i:016x}.png" for i in range(40)}
    md = R.chart_markdown(
        many, "http://charts.example.internal:3031", report_filename="report_0123456789abcdef.html"
    )
    assert len(md) < 1000
    assert md.startswith(
        "[Interactive report (all charts)](http://charts.example.internal:3031/report_0123456789abcdef.html)"
    )
    shown = md.count("![")
    assert 5 < shown < 40
    assert md.endswith(f"*{40 - shown} more charts not shown here.*")
    # exactly at the edge: everything fits only when it really fits
    for limit in range(120, 400, 7):
        out = R.chart_markdown(many, "http://h:1", limit=limit)
        assert len(out) < limit


def test_chart_markdown_refuses_paths_and_quotes_names() -> None:
    with pytest.raises(ValueError):
        R.chart_markdown({"x": "../secret.png"}, "http://h:1")
    with pytest.raises(ValueError):
        R.chart_markdown({"x": "a.png"}, "  ")
    md = R.chart_markdown({"A [b]": "a b.png"}, "http://h:1")
    assert md == "![A b](http://h:1/a%20b.png)"


def test_missing_browser_fails_fast_instead_of_hanging() -> None:
    """kaleido's sync server dies silently without a browser; we must not wait forever."""
    import os
    import subprocess
    import sys

    code = (
        "import plotly.graph_objects as go\n"
        "from funnel_pipeline.charts.render import render_png\n"
        "try:\n"
        "    render_png(go.Figure(go.Bar(x=[1], y=[1])))\n"
        "except RuntimeError as exc:\n"
        "    print('refused:', exc)\n"
    )
    env = {**os.environ, "BROWSER_PATH": "/nonexistent/chromium"}
    root = Path(__file__).resolve().parents[2]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert "refused:" in done.stdout and "no Chromium at BROWSER_PATH" in done.stdout, done.stderr[
        -2000:
    ]
    assert time.monotonic() - started < 60
