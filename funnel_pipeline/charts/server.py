"""A tiny read-only HTTP server for the charts folder.

Why: markdown in the Dagster UI can show an image only by URL, and the viewer's browser
fetches it, so the PNGs must be reachable over HTTP. This serves exactly the files in
one folder: GET/HEAD only, no directory listing, no hidden (dot) files such as
half-written temporaries, nothing outside the folder (`..`, encoded `..`, absolute
paths, symlinks pointing out are refused). Files are content-hashed and never change,
so they are cached for a year; `Access-Control-Allow-Origin: *` lets any page (the
Dagster UI on another port, the HTML report) use them.

It binds to loopback by default: a 127.0.0.1 URL only works on the viewer's own
machine, which is the single-user setup this is for. Bind elsewhere deliberately.

    python -m funnel_pipeline.charts.server --dir data/reports/charts --port 3031
"""

from __future__ import annotations

import argparse
import logging
import mimetypes
import os
import re
import shutil
import signal
import sys
import threading
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3031
#: Content-hashed names (`funnel_<16 hex>.png`) never change: cache them for a year.
CACHE_CONTROL = "public, max-age=31536000, immutable"
#: Anything else in the folder might be rewritten: make browsers revalidate it.
CACHE_CONTROL_OTHER = "no-cache"
_HASHED = re.compile(r"_[0-9a-f]{16}\.[A-Za-z0-9]+$")
_TYPES = {
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}


class ChartRequestHandler(BaseHTTPRequestHandler):
    """Serves files of `root` only; anything else is 404 (or 405 for other methods)."""

    server_version = "funnel-charts"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def __init__(self, *args: object, root: Path, **kwargs: object) -> None:
        self.root = root
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    # --- resolving ---------------------------------------------------------------------

    def _resolve(self) -> Path | None:
        """The file a request names, or None when it is not a plain file of the folder."""
        raw = urlsplit(self.path).path
        try:
            rel = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        if "\x00" in rel or "\\" in rel or not rel.startswith("/"):
            return None
        parts = [p for p in rel.split("/") if p]
        if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
            return None
        try:
            target = self.root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if not target.is_relative_to(self.root) or not target.is_file():
            return None
        return target

    # --- answering ---------------------------------------------------------------------

    def _headers(self, status: HTTPStatus, length: int, ctype: str, cache: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()

    def _refuse(self, status: HTTPStatus, body_wanted: bool) -> None:
        body = f"{status.value} {status.phrase}\n".encode()
        self._headers(status, len(body), "text/plain; charset=utf-8", cache="no-store")
        if body_wanted:
            self.wfile.write(body)

    def _serve(self, body_wanted: bool) -> None:
        target = self._resolve()
        if target is None:
            self._refuse(HTTPStatus.NOT_FOUND, body_wanted)
            return
        ctype = _TYPES.get(target.suffix.lower()) or mimetypes.guess_type(target.name)[0]
        try:
            f = target.open("rb")
        except OSError:
            self._refuse(HTTPStatus.NOT_FOUND, body_wanted)
            return
        with f:
            cache = CACHE_CONTROL if _HASHED.search(target.name) else CACHE_CONTROL_OTHER
            size = os.fstat(f.fileno()).st_size
            self._headers(HTTPStatus.OK, size, ctype or "application/octet-stream", cache)
            if body_wanted:
                shutil.copyfileobj(f, self.wfile)

    def do_GET(self) -> None:
        self._serve(body_wanted=True)

    def do_HEAD(self) -> None:
        self._serve(body_wanted=False)

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, body_wanted=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_allowed

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


def make_server(
    folder: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    """A bound, not yet running server (port 0 picks a free port: see `server_address`)."""
    root = Path(folder).resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(root)
    server = ThreadingHTTPServer((host, port), partial(ChartRequestHandler, root=root))
    server.daemon_threads = True
    return server


def serve(
    folder: str | Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
) -> None:
    """Serve `folder` until SIGINT or SIGTERM arrives, or until `stop` is set.

    `serve_forever` runs in a worker thread and the calling thread waits, because
    `shutdown()` called from a signal handler on the serving thread deadlocks. Handlers
    are set explicitly (and restored after), since a process started from a
    non-interactive shell may inherit SIGINT as ignored. Outside the main thread no
    handler can be set: pass `stop` to end it. `ready` is set once it listens.
    """
    server = make_server(folder, host, port)
    stop = stop or threading.Event()
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    worker = threading.Thread(target=server.serve_forever, name="chart-server", daemon=True)
    worker.start()
    h, p = server.server_address[:2]
    print(f"Serving {Path(folder).resolve()} on http://{h}:{p}/", flush=True)
    if ready is not None:
        ready.set()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        worker.join(timeout=5)
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        print("Chart server stopped.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: `python -m funnel_pipeline.charts.server --dir FOLDER [--host H] [--port P]`."""
    parser = argparse.ArgumentParser(description="Serve the charts folder read-only over HTTP.")
    parser.add_argument("--dir", required=True, type=Path, help="folder holding the chart files")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = any free port)")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        parser.error(f"--dir {args.dir} is not a folder")
    serve(args.dir, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
