"""The read-only chart server: serves files of its folder, nothing else, stops on signals,
and (issue 20) holds neither a thread per connection nor a connection forever."""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from funnel_pipeline.charts.server import (
    IDLE_TIMEOUT_S,
    MAX_CONNECTIONS,
    MAX_HANDLER_THREADS,
    ChartServer,
    make_server,
    serve,
)

ROOT = Path(__file__).resolve().parents[2]
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


# --- limits (issue 20: 4,000 half-open connections held 4,004 threads and 254 MB) --------

PNG_PATH = "/funnel_0123456789abcdef.png"
GET_PNG = f"GET {PNG_PATH} HTTP/1.1\r\nHost: charts\r\n\r\n".encode()


@contextlib.contextmanager
def running(folder: Path, **limits: float) -> Iterator[tuple[ChartServer, int]]:
    """An in-process server with the given limits, stopped afterwards."""
    server = make_server(folder, "127.0.0.1", 0, **limits)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 response (status, body) read off a raw socket, by Content-Length.

    Reads the head a byte at a time and then exactly the body, never past the response:
    with pipelined requests the next response's bytes stay in the socket for the next call.
    """
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        assert byte, f"connection closed mid-response: {head!r}"
        head += byte
    lines = head.decode().rstrip("\r\n").split("\r\n")
    length = next(int(v) for k, v in (x.split(":", 1) for x in lines[1:])
                  if k.lower() == "content-length")
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(lines[0].split()[1]), body


def seconds_until_closed(sock: socket.socket, since: float, limit: float) -> float | None:
    """When (after `since`) the server closed `sock` (EOF or reset), None if not by `limit`."""
    sock.setblocking(False)
    end = since + limit
    with selectors.DefaultSelector() as sel:
        sel.register(sock, selectors.EVENT_READ)
        while time.monotonic() < end:
            if sel.select(max(0.0, end - time.monotonic())):
                try:
                    if sock.recv(65536):
                        continue  # a response: keep waiting for the close
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                return time.monotonic() - since
    return None


def handler_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("chart-handler-")]


def proc_status(pid: int) -> tuple[int, int]:
    """(threads, resident MiB) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) // 1024


@contextlib.contextmanager
def open_files_limit(wanted: int) -> Iterator[None]:
    """Raise the soft RLIMIT_NOFILE of this process (and of servers it starts) if needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            raise AssertionError(f"RLIMIT_NOFILE hard limit {hard} < {wanted}: cannot run")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_idle_partial_trickled_and_kept_alive_connections_are_closed_after_the_timeout(
        folders: tuple[Path, Path]) -> None:
    timeout = 1.0
    with running(folders[0], idle_timeout=timeout) as (_, port):
        opened = time.monotonic()
        idle = socket.create_connection(("127.0.0.1", port))
        partial = socket.create_connection(("127.0.0.1", port))
        partial.sendall(GET_PNG[:30])  # no blank line: the head never completes
        trickle = socket.create_connection(("127.0.0.1", port))
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(GET_PNG)
        assert read_response(kept) == (200, PNG)
        answered = time.monotonic()
        # one byte every 0.2 s: each read succeeds, but the head is never whole in time
        trickle_closed = None
        for byte in GET_PNG[:-2]:
            try:
                trickle.send(bytes([byte]))
            except OSError:
                trickle_closed = time.monotonic() - opened
                break
            time.sleep(0.2)
        waits = {
            "idle": seconds_until_closed(idle, opened, 3 * timeout),
            "partial": seconds_until_closed(partial, opened, 3 * timeout),
            "trickle": trickle_closed or seconds_until_closed(trickle, opened, 3 * timeout),
            "kept-alive": seconds_until_closed(kept, answered, 3 * timeout),
        }
        for sock in (idle, partial, trickle, kept):
            sock.close()
    for what, waited in waits.items():
        assert waited is not None, f"{what} connection still open after {3 * timeout} s"
        assert 0.9 * timeout <= waited <= timeout + 0.8, (what, waited)


def test_pipelined_requests_on_one_connection_are_all_answered(folders: tuple[Path, Path]) -> None:
    with running(folders[0], idle_timeout=2.0) as (_, port), \
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(GET_PNG + GET_PNG.replace(PNG_PATH.encode(), b"/notes.txt") + GET_PNG)
        assert read_response(sock) == (200, PNG)
        assert read_response(sock) == (200, b"not hashed")
        assert read_response(sock) == (200, PNG)


def test_handler_threads_stay_within_the_bound(folders: tuple[Path, Path]) -> None:
    big = folders[0] / "big_0123456789abcdef.png"
    big.write_bytes(os.urandom(2 << 20))
    with running(folders[0], max_threads=2) as (_, port):
        def fetch(_: int) -> int:
            status, _, body = request(port, "/big_0123456789abcdef.png")
            return status if len(body) == 2 << 20 else -1

        with ThreadPoolExecutor(max_workers=24) as pool:
            statuses = list(pool.map(fetch, range(48)))
        assert statuses == [200] * 48  # over the bound they wait, they are not refused
        assert len(handler_threads()) <= 2, handler_threads()


def test_a_flood_evicts_idle_connections_and_a_busy_server_answers_503(
        folders: tuple[Path, Path]) -> None:
    big = folders[0] / "big_0123456789abcdef.png"
    big.write_bytes(os.urandom(24 << 20))  # more than the kernel buffers between us
    with running(folders[0], max_connections=2, max_threads=1, idle_timeout=3.0) as (_, port):
        first = socket.create_connection(("127.0.0.1", port))
        second = socket.create_connection(("127.0.0.1", port))
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as viewer:
            # over the bound: the longest-idle connection makes room, the viewer is served
            viewer.sendall(GET_PNG)
            assert read_response(viewer) == (200, PNG)
            assert seconds_until_closed(first, time.monotonic(), 1.0) is not None
            # both slots now hold requests in hand (one kept alive, one not reading its
            # response): a newcomer is told to come back, at once
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(("127.0.0.1", port))
            stuck.sendall(b"GET /big_0123456789abcdef.png HTTP/1.1\r\nHost: c\r\n\r\n")
            time.sleep(0.3)
            viewer.sendall(GET_PNG)  # the only handler thread is busy with `stuck`
            time.sleep(0.1)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as newcomer:
                newcomer.sendall(GET_PNG)
                started = time.monotonic()
                status, body = read_response(newcomer)
                assert status == 503 and b"try again" in body
                assert time.monotonic() - started < 1.0
            stuck.close()
            second.close()
        first.close()


def test_a_response_the_client_does_not_take_frees_its_thread(folders: tuple[Path, Path]) -> None:
    big = folders[0] / "big_0123456789abcdef.png"
    big.write_bytes(os.urandom(24 << 20))
    with running(folders[0], max_threads=1, idle_timeout=5.0, response_timeout=1.0) as (_, port):
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", port))
        slow.sendall(b"GET /big_0123456789abcdef.png HTTP/1.1\r\nHost: c\r\n\r\n")
        stop = threading.Event()

        def read_slowly() -> None:  # fast enough for every send to make progress
            slow.settimeout(0.5)
            while not stop.is_set():
                try:
                    if not slow.recv(4096):
                        return
                except TimeoutError:
                    pass
                except OSError:
                    return
                time.sleep(0.01)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        time.sleep(0.2)
        started = time.monotonic()
        assert request(port, PNG_PATH)[0] == 200  # the only thread was freed for it
        assert time.monotonic() - started < 3.0
        stop.set()
        reader.join(5)
        slow.close()


@pytest.mark.slow
def test_4000_idle_connections_hold_neither_threads_nor_memory(folders: tuple[Path, Path]) -> None:
    """The issue's own numbers, against the CLI with its default limits."""
    flood = 4000
    with open_files_limit(flood + 512):
        proc, port = _start_cli(folders[0], ignore_sigint=False)
        try:
            threads0, rss0 = proc_status(proc.pid)
            socks: list[tuple[socket.socket, float]] = []
            peak_threads, peak_rss = threads0, rss0
            began = time.monotonic()
            for i in range(flood):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                if i % 10 == 0:  # every tenth has sent part of a request
                    sock.sendall(GET_PNG[:25])
                socks.append((sock, time.monotonic()))
                if i % 250 == 0:
                    t, r = proc_status(proc.pid)
                    peak_threads, peak_rss = max(peak_threads, t), max(peak_rss, r)
            opened = time.monotonic() - began
            started = time.monotonic()
            status, _, body = request(port, PNG_PATH)  # a viewer, meanwhile
            answered = time.monotonic() - started
            assert (status, body) == (200, PNG)
            waits = []
            with selectors.DefaultSelector() as sel:
                for sock, at in socks:
                    sock.setblocking(False)
                    sel.register(sock, selectors.EVENT_READ, at)
                end = time.monotonic() + IDLE_TIMEOUT_S + 5
                while len(waits) < flood and time.monotonic() < end:
                    for key, _ in sel.select(0.25):
                        try:
                            data = key.fileobj.recv(4096)  # type: ignore[union-attr]
                        except OSError:
                            data = b""
                        if not data:
                            waits.append(time.monotonic() - key.data)
                            sel.unregister(key.fileobj)
                    t, r = proc_status(proc.pid)
                    peak_threads, peak_rss = max(peak_threads, t), max(peak_rss, r)
            print(f"\n{flood} connections opened in {opened:.1f} s; threads {threads0} -> peak "
                  f"{peak_threads}; RSS {rss0} -> peak {peak_rss} MiB; a GET answered in "
                  f"{answered * 1000:.0f} ms; {len(waits)} closed by the server, the last "
                  f"{max(waits, default=0):.2f} s after it opened (timeout {IDLE_TIMEOUT_S} s, "
                  f"at most {MAX_CONNECTIONS} held)")
            assert len(waits) == flood, f"{flood - len(waits)} connections never closed"
            assert max(waits) <= IDLE_TIMEOUT_S + 1.5
            assert peak_threads <= threads0 + MAX_HANDLER_THREADS
            assert peak_threads <= threads0 + 2  # idle and partial requests need no handler
            assert peak_rss - rss0 <= 32, f"RSS grew {peak_rss - rss0} MiB"
            assert answered < 2.0
            for sock, _ in socks:
                sock.close()
        finally:
            proc.terminate()
            proc.communicate(timeout=15)


def test_cli_rejects_limits_that_are_not_positive(folders: tuple[Path, Path]) -> None:
    for flag in ("--idle-timeout=0", "--max-threads=0", "--max-connections=-1"):
        done = subprocess.run(
            [sys.executable, "-m", "funnel_pipeline.charts.server", "--dir", str(folders[0]), flag],
            check=False, cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 2 and "must be positive" in done.stderr, flag


def test_a_mounted_folder_is_served_under_its_name(folders: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    """The auditor report (reports/quality) under /quality/, with the same rules."""
    quality = tmp_path / "quality"
    (quality / "runs").mkdir(parents=True)
    (quality / "index.html").write_text("<p>runs</p>")
    (quality / "runs" / "r1.html").write_text("<p>run</p>")
    (quality / ".tmp-half.html").write_text("half")
    server = make_server(folders[0], "127.0.0.1", 0, mounts={"quality": quality})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        status, headers, body = request(port, "/quality/index.html")
        assert (status, body) == (200, b"<p>runs</p>")
        assert headers["content-type"].startswith("text/html")
        assert request(port, "/quality/runs/r1.html")[0] == 200
        assert request(port, "/funnel_0123456789abcdef.png")[0] == 200  # the charts still
        for path in ("/quality/", "/quality", "/quality/.tmp-half.html", "/quality/../secret.txt",
                     "/quality/%2e%2e/secret.txt", "/quality/runs/../../secret.txt"):
            assert request(port, path)[0] == 404, path
    finally:
        server.shutdown()
        server.server_close()


def test_cli_mount_option(folders: tuple[Path, Path], tmp_path: Path) -> None:
    bad = subprocess.run([sys.executable, "-m", "funnel_pipeline.charts.server", "--dir",
                          str(folders[0]), "--mount", f"quality={tmp_path / 'missing'}"],
                         check=False, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--mount" in bad.stderr
