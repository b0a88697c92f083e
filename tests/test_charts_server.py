"""The read-only chart server: serves files of its folder, nothing else, stops on signals."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from funnel_pipeline.charts.server import make_server, serve

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "funnel_0123456789abcdef.png").write_bytes(PNG)
    (charts / "report_0123456789abcdef.html").write_text("<p>report</p>")
    (charts / "notes.txt").write_text("not hashed")
    (charts / ".tmp_half.png").write_bytes(b"half")
    (charts / "sub").mkdir()
    (charts / "sub" / "inner_0123456789abcdef.png").write_bytes(PNG)
    (tmp_path / "secret.txt").write_text("applicant-level data")
    (charts / "link.txt").symlink_to(tmp_path / "secret.txt")
    return charts, tmp_path / "secret.txt"


@pytest.fixture
def port(folders: tuple[Path, Path]) -> Iterator[int]:
    server = make_server(folders[0], "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Sends `path` byte for byte (http.client does not normalise `..`)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_serves_a_chart_with_cache_and_cors_headers(port: int) -> None:
    status, headers, body = request(port, "/funnel_0123456789abcdef.png")
    assert status == 200 and body == PNG
    assert headers["content-type"] == "image/png"
    assert headers["content-length"] == str(len(PNG))
    assert headers["access-control-allow-origin"] == "*"
    assert "immutable" in headers["cache-control"]
    status, headers, body = request(port, "/funnel_0123456789abcdef.png", "HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == str(len(PNG))
    status, headers, _ = request(port, "/report_0123456789abcdef.html?x=1")
    assert status == 200 and headers["content-type"].startswith("text/html")
    status, headers, _ = request(port, "/notes.txt")
    assert status == 200 and headers["cache-control"] == "no-cache"  # not content-hashed
    assert request(port, "/sub/inner_0123456789abcdef.png")[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/sub/../../secret.txt",
        "/./../secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/link.txt",  # a symlink pointing out of the folder
        "/",  # no listing
        "/sub/",
        "/.tmp_half.png",  # hidden / half-written files
        "/nope.png",
        "/%ff%fe.png",
        "/funnel_0123456789abcdef.png%00.txt",
    ],
)
def test_refuses_anything_outside_or_unlisted(port: int, path: str) -> None:
    status, headers, body = request(port, path)
    assert status == 404, path
    assert b"applicant-level" not in body and b"root:" not in body
    assert headers["cache-control"] == "no-store"


def test_read_only(port: int) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert request(port, "/funnel_0123456789abcdef.png", method)[0] == 405


def test_serve_stops_when_asked(folders: tuple[Path, Path]) -> None:
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=serve, args=(folders[0], "127.0.0.1", 0), kwargs={"stop": stop, "ready": ready}
    )
    thread.start()
    assert ready.wait(10)
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def _start_cli(folder: Path, ignore_sigint: bool) -> tuple[subprocess.Popen[str], int]:
    cmd = [
        sys.executable,
        "-m",
        "funnel_pipeline.charts.server",
        "--dir",
        str(folder),
        "--port",
        "0",
    ]
    if ignore_sigint:  # as when launched in the background from a non-interactive shell
        cmd = ["sh", "-c", "trap '' INT; exec " + shlex.join(cmd)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline() if proc.stdout else ""
    assert line.startswith("Serving "), line + (proc.stderr.read() if proc.stderr else "")
    return proc, int(line.rstrip().rstrip("/").rsplit(":", 1)[1])


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_cleanly_on_signal(folders: tuple[Path, Path], sig: int) -> None:
    proc, cli_port = _start_cli(folders[0], ignore_sigint=True)
    try:
        assert request(cli_port, "/funnel_0123456789abcdef.png")[0] == 200
        assert request(cli_port, "/../secret.txt")[0] == 404
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert "Traceback" not in err


def test_cli_rejects_a_missing_folder(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "funnel_pipeline.charts.server", "--dir", str(tmp_path / "no")],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "not a folder" in done.stderr
