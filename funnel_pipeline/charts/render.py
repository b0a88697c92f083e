"""Figures → PNG files with content-hashed names, and the markdown that shows them.

Why PNG files at all: the Dagster UI has no image metadata type, strips `<img>` and
hides markdown of 1,000 characters or more behind a button, but renders a *short*
markdown image link to an HTTP URL inline (docs STACK-FACTS "Showing charts in the
Dagster UI"). So each chart is written once to a folder served over HTTP
(`charts.server`) and the asset's metadata carries only `![Funnel](http://…/x.png)`.

Why content-hashed names: every materialisation keeps pointing at its own picture; a
re-run with identical figures reuses the file (and skips the browser entirely).
The hash is over the figure's JSON plus the pixel size, not over the PNG bytes, which is
what makes that skip possible.

Kaleido 1.x drives a headless Chromium. Its sync server is started once per process
(first image ~3 s, then ~0.3 s). MathJax is disabled: kaleido would otherwise load it
from a CDN on every page, and these charts use no LaTeX.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import plotly.graph_objects as go

DEFAULT_BROWSER = "/usr/bin/chromium"
DEFAULT_WIDTH = 400
DEFAULT_HEIGHT = 400
#: Longest wait for one image, browser start included.
RENDER_TIMEOUT_S = 120.0
#: The Dagster UI shows markdown inline only below this many characters.
MARKDOWN_LIMIT = 1000

_render_lock = threading.Lock()
_start_lock = threading.Lock()
#: Set when the kaleido server is known to be unusable in this process (see `_call`).
_broken: str | None = None
#: kaleido's tab had not loaded its script yet (see `_call_when_ready`)
_NOT_READY = "kaleido_scopes is not defined"
#: draws of one figure while the tab is not ready, the first included
NOT_READY_ATTEMPTS = 3


# --- names ----------------------------------------------------------------------------


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]
    return slug or "chart"


def figure_size(fig: go.Figure) -> tuple[int, int]:
    """Pixel size the figure asks for (our builders always set it)."""
    return int(fig.layout.width or DEFAULT_WIDTH), int(fig.layout.height or DEFAULT_HEIGHT)


def chart_filename(name: str, fig: go.Figure, *, scale: float = 1.0, ext: str = "png") -> str:
    """`<kind>_<sha256[:16]>.<ext>`: same figure and size → same name, anything else → new.

    The kind is the slug of the name's part before ": " ("Ratios: Ethnicity" → `ratios`):
    what follows is a label from the configuration or the data (a group, an entry route),
    and input never becomes part of a URL, even one the project serves itself."""
    width, height = figure_size(fig)
    spec = f"{ext}|{width}|{height}|{scale:g}|".encode() + fig.to_json().encode()
    kind = name.split(": ", 1)[0]
    return f"{_slug(kind)}_{hashlib.sha256(spec).hexdigest()[:16]}.{ext}"


# --- kaleido --------------------------------------------------------------------------


def _kaleido_thread_alive() -> bool:
    """Whether kaleido's server thread still runs.

    kaleido starts the browser in a background thread; if that fails (no Chromium,
    bad BROWSER_PATH) the thread dies and every later `calc_fig_sync` waits forever.
    There is no public probe, so read the private attribute, and assume "alive" if
    kaleido ever renames it (the render timeout still bounds the wait).
    """
    import kaleido

    server = getattr(kaleido, "_global_server", None)
    thread = getattr(server, "_thread", None)
    return thread is None or thread.is_alive()


def missing_browser() -> str:
    """Why kaleido will find no Chromium ('' when it will, or when it cannot be told)."""
    browser = os.environ.get("BROWSER_PATH") or (DEFAULT_BROWSER if Path(DEFAULT_BROWSER).exists()
                                                 else None)
    if browser is None:
        found = any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))
        return "" if found else "no Chromium installed (Debian: apt-get install chromium)"
    if Path(browser).is_file() or shutil.which(browser):
        return ""
    return f"no Chromium at BROWSER_PATH={browser!r} (Debian: apt-get install chromium)"


def start_renderer() -> None:
    """Start kaleido's sync server once per process (idempotent, thread-safe)."""
    import kaleido

    with _start_lock:
        if "BROWSER_PATH" not in os.environ and Path(DEFAULT_BROWSER).exists():
            os.environ["BROWSER_PATH"] = DEFAULT_BROWSER
        # a no-op when this or other code already started it
        kaleido.start_sync_server(mathjax=False, silence_warnings=True)


def stop_renderer() -> None:
    """Stop kaleido's server and its Chromium (idempotent; `start_renderer` can follow).

    The Dagster step that renders calls this when it is done, so no browser outlives the
    step in a long-lived process (a test session, a code server).
    """
    import kaleido

    with _render_lock, _start_lock:
        try:
            kaleido.stop_sync_server(silence_warnings=True)
        except Exception:  # noqa: BLE001, S110 - never started, or already gone
            pass


def _call(fig: go.Figure, width: int, height: int, scale: float, fmt: str = "png") -> bytes:
    """One `calc_fig_sync` with a deadline, failing fast if the browser died."""
    global _broken
    import kaleido

    if _broken:
        raise RuntimeError(f"PNG rendering is unavailable in this process: {_broken}")
    missing = missing_browser()
    if missing:  # kaleido would die in its thread with a traceback on the console
        raise RuntimeError(f"PNG rendering failed: {missing}")
    start_renderer()
    out: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

    def work() -> None:
        try:
            opts = {"format": fmt, "width": width, "height": height, "scale": scale}
            out.put((True, kaleido.calc_fig_sync(fig, opts=opts)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            out.put((False, exc))

    threading.Thread(target=work, name="chart-render", daemon=True).start()
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        try:
            ok, value = out.get(timeout=0.25)
            break
        except queue.Empty:
            if not _kaleido_thread_alive():
                _broken = (
                    "kaleido's browser is not running (is Chromium installed? "
                    f"BROWSER_PATH={os.environ.get('BROWSER_PATH')!r})"
                )
            elif time.monotonic() > deadline:
                # the request may still complete later; kaleido's queue is not safe to
                # share with a stale request, so stop using it in this process
                _broken = f"an image took longer than {RENDER_TIMEOUT_S:g} s"
            if _broken:
                raise RuntimeError(f"PNG rendering failed: {_broken}")
    if not ok:
        raise RuntimeError(f"PNG rendering failed: {value}") from value  # type: ignore[arg-type]
    return value  # type: ignore[return-value]


def _call_when_ready(fig: go.Figure, width: int, height: int, scale: float,
                     fmt: str = "png") -> bytes:
    """`_call`, again after a pause when the browser page was not ready yet.

    On a busy machine kaleido can send the first figure to its freshly opened tab before
    the tab's own script has loaded: the render fails with "ReferenceError:
    kaleido_scopes is not defined" (seen with four test workers on two cores: one of 22
    pictures lost). Nothing is wrong with the figure, so it is drawn again.
    """
    for attempt in range(1, NOT_READY_ATTEMPTS):
        try:
            return _call(fig, width, height, scale, fmt)
        except RuntimeError as exc:
            if _NOT_READY not in str(exc):
                raise
        time.sleep(0.5 * attempt)
    return _call(fig, width, height, scale, fmt)  # the last attempt raises what it meets


def render_png(fig: go.Figure, *, scale: float = 1.0) -> bytes:
    """PNG bytes of a figure at its own width and height (× `scale`)."""
    width, height = figure_size(fig)
    with _render_lock:  # kaleido's sync server mixes up answers of concurrent callers
        return _call_when_ready(fig, width, height, scale)


def render_svg(fig: go.Figure) -> str:
    """The figure as kaleido draws it, in SVG (the same drawing as the PNG, whose text
    boxes a test can measure)."""
    width, height = figure_size(fig)
    with _render_lock:
        return _call_when_ready(fig, width, height, 1.0, fmt="svg").decode("utf-8")


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (the chart server, a browser) never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp_", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_pngs(
    figures: Mapping[str, go.Figure], folder: str | Path, *, scale: float = 1.0,
    failed: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Write each figure as `<name>_<hash>.png` under `folder`; return name → path.

    A file that already exists under its hashed name is the same chart and is kept
    as it is, so re-runs cost nothing and files are never rewritten under a reader.
    With `failed` given, a figure that cannot be drawn is recorded there (name → why)
    and the others are still drawn; without it the first failure raises.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, fig in figures.items():
        path = folder / chart_filename(name, fig, scale=scale)
        if not path.exists():
            try:
                _write_atomically(path, render_png(fig, scale=scale))
            except RuntimeError as exc:
                if failed is None:
                    raise
                failed[name] = str(exc)
                continue
        paths[name] = path
    return paths


# --- markdown for Dagster metadata ----------------------------------------------------


def _alt_text(name: str) -> str:
    text = " ".join(re.sub(r"[\[\]()]+", " ", name).split())
    if re.fullmatch(r"[a-z0-9_]+", text):
        text = text.replace("_", " ").capitalize()
    return text or "Chart"


def _url(base_url: str, filename: str) -> str:
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        raise ValueError(f"not a plain chart file name: {filename!r}")
    return f"{base_url.rstrip('/')}/{quote(filename)}"


def chart_markdown(
    name_to_filename: Mapping[str, str],
    base_url: str,
    *,
    report_filename: str | None = None,
    limit: int = MARKDOWN_LIMIT,
) -> str:
    """Markdown image links, one per chart, guaranteed shorter than `limit` characters.

    At 1,000 characters or more Dagster hides the markdown behind a button, so links
    that do not fit are dropped from the end and replaced by a short note; an optional
    link to the run's HTML report comes first, as it holds every chart.
    """
    if not base_url.strip():
        raise ValueError("base_url is empty: the viewer's browser needs an http URL")
    sep = "\n\n"

    def more(k: int) -> str:
        return f"*{k} more chart{'s' if k != 1 else ''} not shown here.*"

    parts: list[str] = []
    if report_filename:
        report = f"[Interactive report (all charts)]({_url(base_url, report_filename)})"
        if len(report) < limit:
            parts.append(report)
    links = [f"![{_alt_text(n)}]({_url(base_url, f)})" for n, f in name_to_filename.items()]
    for i, link in enumerate(links):
        after = len(links) - i - 1
        # take a link only if the note about the ones after it would still fit too
        if len(sep.join([*parts, link, *([more(after)] if after else [])])) >= limit:
            if len(sep.join([*parts, more(len(links) - i)])) < limit:
                parts.append(more(len(links) - i))
            break
        parts.append(link)
    text = sep.join(parts)
    assert len(text) < limit, "chart markdown over the Dagster inline limit"
    return text
