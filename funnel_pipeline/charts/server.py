"""A tiny read-only HTTP server for the charts folder.

Why: markdown in the Dagster UI can show an image only by URL, and the viewer's browser
fetches it, so the PNGs must be reachable over HTTP. This serves exactly the files in
one folder: GET/HEAD only, no directory listing, no hidden (dot) files such as
half-written temporaries, nothing outside the folder (`..`, encoded `..`, absolute
paths, symlinks pointing out are refused). Files are content-hashed and never change,
so they are cached for a year; `Access-Control-Allow-Origin: *` lets any page (the
Dagster UI on another port, the HTML report) use them.

The auditor report (`reports/quality`) is served the same way under `/quality/`
(`--mount quality=FOLDER`), because a browser refuses `file://` links from the UI.

It binds to loopback by default: a 127.0.0.1 URL only works on the viewer's own
machine, which is the single-user setup this is for. Bind elsewhere deliberately.

Limits (issue 20: 4,000 half-open connections once held 4,004 threads and 254 MB).
A connection costs a file descriptor and its unread bytes, not a thread, until its
request head is complete: one watcher thread holds every waiting connection in a
selector (the same thread accepts them), reads request heads as they trickle in, and hands a connection with a whole
head to a bounded pool of handler threads. So:

* `IDLE_TIMEOUT_S` (5 s, `--idle-timeout`): a connection must deliver a complete
  request head within this long of being opened, or of its previous response when kept
  alive; a client that sends nothing, or only part of a request, is closed then. Each
  write of a response may block at most this long too (a client that stops reading),
  and a whole response at most `RESPONSE_TIMEOUT_S` (120 s).
* `MAX_HANDLER_THREADS` (16, `--max-threads`): at most this many requests are answered
  at once, by threads started on demand and reused. A complete request over the bound
  waits for a free thread; one still waiting at its deadline gets `503 Service
  Unavailable` (`Retry-After: 1`).
* `MAX_CONNECTIONS` (256, `--max-connections`, and never more than the open-file limit
  allows): connections held open at once. A new connection over the bound closes the
  longest-waiting one that has no complete request (as nginx drops idle keep-alive
  connections), so a flood of idle sockets cannot lock a real viewer out; if every
  connection has a request in hand, the new one gets the 503.

So the server runs at most `MAX_HANDLER_THREADS` + 1 threads (the loop, handlers)
beside its caller's, and holds at most `MAX_CONNECTIONS` sockets, whatever clients do.

    python -m funnel_pipeline.charts.server --dir data/reports/charts --port 3031
"""

from __future__ import annotations

import argparse
import io
import logging
import mimetypes
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from queue import SimpleQueue
from types import FrameType
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3031
#: Seconds a connection has to deliver a whole request head (from its opening, or from
#: its previous response when kept alive), and the longest one send may block.
IDLE_TIMEOUT_S = 5.0
#: Handler threads answering requests at once (the pool never grows beyond it).
MAX_HANDLER_THREADS = 16
#: Connections held open at once; over it the longest-idle one is closed.
MAX_CONNECTIONS = 256
#: Seconds a handler thread may spend sending one response (a client reading slowly).
RESPONSE_TIMEOUT_S = 120.0
#: A request head longer than this goes to a handler as it is (which refuses it).
MAX_HEAD_BYTES = 64 * 1024
#: Kernel queue of connections not yet accepted (capped by net.core.somaxconn); the
#: loop accepts up to this many at a time, so a burst does not overflow it.
LISTEN_BACKLOG = 1024
#: File descriptors kept free for the listening socket, files being served, logging.
_SPARE_FDS = 32
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
    """Serves files of `root` (and of each mounted folder under `/<name>/`) only; anything
    else is 404 (or 405 for other methods)."""

    server_version = "funnel-charts"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def __init__(self, request: socket.socket, client_address: tuple, server: ChartServer, *,
                 root: Path, mounts: Mapping[str, Path], connection: _Connection) -> None:
        self.root = root
        self.mounts = mounts
        self._conn = connection
        super().__init__(request, client_address, server)  # type: ignore[arg-type]

    # --- one request per instance, on the connection's own buffered streams --------------
    # The connection outlives the handler: between keep-alive requests it waits in the
    # watcher's selector without a thread, so its read buffer (which may already hold a
    # pipelined request) must survive from one request to the next.

    def setup(self) -> None:
        self.connection = self.request
        self.rfile = self._conn.rfile
        self.wfile = self._conn.wfile

    def handle(self) -> None:
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        self.wfile.flush()

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
        base = self.root
        if parts[0] in self.mounts:
            base, parts = self.mounts[parts[0]], parts[1:]
            if not parts:
                return None
        try:
            target = base.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            return None
        if not target.is_relative_to(base) or not target.is_file():
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


# --- connections, the watcher and the handler pool ----------------------------------------


class _SocketReader(io.RawIOBase):
    """Raw reader of a socket that first returns the bytes the watcher already received.

    The watcher reads a request head as it trickles in (without a thread), so the
    handler must see those bytes before whatever the socket still holds.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.pending = bytearray()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int | None:  # type: ignore[override]
        if self.pending:
            n = min(len(buffer), len(self.pending))
            buffer[:n] = self.pending[:n]
            del self.pending[:n]
            return n
        try:
            return self._sock.recv_into(buffer)
        except BlockingIOError:  # non-blocking and nothing there yet
            return None

    def head_complete(self) -> bool:
        """A whole request head (up to its blank line) has arrived, or more than a head may be."""
        return (b"\n\r\n" in self.pending or b"\n\n" in self.pending
                or len(self.pending) >= MAX_HEAD_BYTES)


class _SocketWriter(io.RawIOBase):
    """Unbuffered writer: `sendall`, so the socket timeout bounds each whole write."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._sock.sendall(data)
        return len(data)


@dataclass(eq=False)
class _Connection:
    """One accepted socket with the buffered reader its requests are read from."""

    sock: socket.socket
    address: tuple
    reader: _SocketReader
    rfile: io.BufferedReader
    wfile: _SocketWriter
    #: monotonic time by which the next request head must be complete (waiting), or the
    #: current response sent (while a handler thread works on it)
    deadline: float
    #: True while a handler thread works on it (only then does the watcher cut it off)
    started: bool = False
    new: bool = True

    @classmethod
    def accepted(cls, sock: socket.socket, address: tuple, timeout: float) -> _Connection:
        sock.settimeout(0.0)  # the watcher never blocks on a peer
        reader = _SocketReader(sock)
        return cls(sock, address, reader, io.BufferedReader(reader), _SocketWriter(sock),
                   time.monotonic() + timeout)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def unbuffer(self) -> None:
        """Move bytes already read for a next (pipelined) request back to the raw reader,
        so the watcher can tell whether that request's head is complete."""
        self.sock.settimeout(0.0)
        chunks = []
        size = 0
        while size < MAX_HEAD_BYTES and (chunk := self.rfile.read1(MAX_HEAD_BYTES)):
            chunks.append(chunk)
            size += len(chunk)
        self.reader.pending[:0] = b"".join(chunks)


_BUSY_BODY = b"503 Service Unavailable: too many connections, try again\n"
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\nRetry-After: 1\r\n"
         b"Cache-Control: no-store\r\nConnection: close\r\n\r\n" + _BUSY_BODY)


def _refuse_busy(conn: _Connection) -> None:
    """A 503 without waiting for the peer (it fits in the socket buffer), then close."""
    try:
        conn.sock.settimeout(0.0)
        conn.sock.send(_BUSY)
    except OSError:
        pass
    conn.close()


class _ConnectionWatcher:
    """The serving loop: accepts connections and holds every waiting one in a selector
    (no thread each), reading request heads as they arrive; hands a connection with a
    complete head to at most `max_threads` handler threads; closes what overstays
    `idle_timeout`.

    `run` is the loop (it runs in the thread that calls `ChartServer.serve_forever`).
    Only that thread touches the selector and the waiting set; handler threads give a
    kept-alive connection back through `_inbox` and wake the loop with a byte.
    """

    def __init__(self, serve_one: Callable[[_Connection], bool], *, idle_timeout: float,
                 max_threads: int, max_connections: int,
                 response_timeout: float = RESPONSE_TIMEOUT_S) -> None:
        if idle_timeout <= 0 or response_timeout <= 0 or max_threads < 1 or max_connections < 1:
            raise ValueError("timeouts, max_threads and max_connections must be positive")
        self._serve_one = serve_one
        self.idle_timeout = idle_timeout
        self.response_timeout = response_timeout
        self.max_threads = max_threads
        self.max_connections = max_connections
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._inbox: deque[_Connection] = deque()
        self._waiting: dict[_Connection, None] = {}  # insertion order ~ deadline order
        self._busy: set[_Connection] = set()
        self._lock = threading.Lock()
        self._jobs: SimpleQueue[_Connection | None] = SimpleQueue()
        self._workers: list[threading.Thread] = []
        self._free_workers = 0
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._running = False
        self._closed = False

    # --- called from other threads ----------------------------------------------------

    def stop(self) -> None:
        """End `run` (waiting until it has), close every connection, end the handler
        threads. Idempotent; safe before, during or after `run`."""
        with self._lock:
            self._stopping.set()
            running = self._running
        self._wake()
        if running:
            self._stopped.wait(timeout=10)
        if self._closed:
            return
        self._closed = True
        for _ in self._workers:
            self._jobs.put(None)
        deadline = time.monotonic() + 5
        for worker in self._workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def thread_count(self) -> int:
        """Handler threads started so far (never more than `max_threads`)."""
        return len(self._workers)

    def _post(self, conn: _Connection) -> None:
        if self._stopping.is_set():
            conn.close()
            return
        self._inbox.append(conn)
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full: the loop is awake anyway; or already closed
            pass

    # --- the loop -----------------------------------------------------------------------

    def run(self, listener: socket.socket) -> None:
        """Serve until `stop` (call it from another thread)."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._running = True
        listener.setblocking(False)
        self._selector.register(listener, selectors.EVENT_READ, listener)
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(self._poll_timeout()):
                    if key.data is None:
                        self._drain_wake()
                    elif key.data is listener:
                        self._accept(listener)
                    elif key.data in self._waiting:
                        self._receive(key.data)
                self._take_inbox()
                self._expire(time.monotonic())
        finally:
            self._selector.unregister(listener)
            while self._inbox:
                self._inbox.popleft().close()
            for conn in list(self._waiting):
                self._drop(conn)
            with self._lock:
                busy = list(self._busy)
            for conn in busy:  # wakes a handler blocked on the peer
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._stopped.set()

    def _accept(self, listener: socket.socket) -> None:
        """Everything the kernel has queued (in one go: a flood must not overflow it)."""
        for _ in range(LISTEN_BACKLOG):
            try:
                sock, address = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # e.g. out of file descriptors: the next loop retries
                log.warning("accept failed: %s", exc)
                return
            self._inbox.append(_Connection.accepted(sock, address, self.idle_timeout))

    def _poll_timeout(self) -> float:
        if self._inbox:
            return 0.0
        with self._lock:
            busy = bool(self._busy)
        if self._waiting and not busy:
            first = next(iter(self._waiting))
            return min(0.5, max(0.0, first.deadline - time.monotonic()) + 0.01)
        return 0.1 if busy else 0.5

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _take_inbox(self) -> None:
        while self._inbox:
            conn = self._inbox.popleft()
            with self._lock:
                self._busy.discard(conn)  # a kept-alive connection coming back
                total = len(self._waiting) + len(self._busy)
            if conn.new:
                conn.new = False
                if total >= self.max_connections:
                    if not self._waiting:
                        _refuse_busy(conn)
                        continue
                    self._drop(next(iter(self._waiting)))  # the longest-waiting one
            try:
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (OSError, ValueError):
                conn.close()
                continue
            self._waiting[conn] = None
            if conn.reader.head_complete():  # a pipelined request already read
                self._dispatch(conn)

    def _receive(self, conn: _Connection) -> None:
        """Read what arrived; hand the connection on once its request head is complete."""
        try:
            data = conn.sock.recv(MAX_HEAD_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # closed by the peer before a whole request arrived
            self._drop(conn)
            return
        conn.reader.pending += data
        if conn.reader.head_complete():
            self._dispatch(conn)

    def _drop(self, conn: _Connection) -> None:
        self._selector.unregister(conn.sock)
        del self._waiting[conn]
        conn.close()

    def _dispatch(self, conn: _Connection) -> None:
        self._selector.unregister(conn.sock)
        del self._waiting[conn]
        with self._lock:
            self._busy.add(conn)
            spawn = self._free_workers == 0 and len(self._workers) < self.max_threads
        self._jobs.put(conn)
        if spawn:
            worker = threading.Thread(target=self._work, daemon=True,
                                      name=f"chart-handler-{len(self._workers) + 1}")
            self._workers.append(worker)
            worker.start()

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._waiting if c.deadline <= now]:
            self._drop(conn)
        with self._lock:
            late = [c for c in self._busy if c.started and c.deadline <= now]
        for conn in late:  # a response the peer does not take: fail its handler's send
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # --- handler threads ----------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                self._free_workers += 1
            conn = self._jobs.get()
            with self._lock:
                self._free_workers -= 1
            if conn is None:
                return
            keep = False
            try:
                if self._stopping.is_set():
                    pass
                elif time.monotonic() > conn.deadline:  # waited too long for a thread
                    _refuse_busy(conn)
                else:
                    keep = self._serve(conn)
            except Exception:
                log.debug("connection from %s failed", conn.address, exc_info=True)
            finally:
                conn.started = False
                if keep and not self._stopping.is_set():
                    self._post(conn)
                else:
                    with self._lock:
                        self._busy.discard(conn)
                    conn.close()

    def _serve(self, conn: _Connection) -> bool:
        """Answer one request; True to keep the connection for the next."""
        conn.deadline = time.monotonic() + self.response_timeout
        conn.started = True
        conn.sock.settimeout(self.idle_timeout)
        if not self._serve_one(conn) or self._stopping.is_set():
            return False
        conn.started = False
        conn.unbuffer()
        conn.deadline = time.monotonic() + self.idle_timeout
        return True


class ChartServer(HTTPServer):
    """`HTTPServer` whose loop is a `_ConnectionWatcher`: no thread per connection.

    `serve_forever`, `shutdown` and `server_close` keep their `socketserver` meaning.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], root: Path, *,
                 mounts: Mapping[str, Path] | None = None,
                 idle_timeout: float = IDLE_TIMEOUT_S,
                 max_threads: int = MAX_HANDLER_THREADS,
                 max_connections: int = MAX_CONNECTIONS,
                 response_timeout: float = RESPONSE_TIMEOUT_S) -> None:
        self.root = root
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY:
            max_connections = max(1, min(max_connections, soft - _SPARE_FDS))
        self.watcher = _ConnectionWatcher(self._serve_one, idle_timeout=idle_timeout,
                                          max_threads=max_threads,
                                          max_connections=max_connections,
                                          response_timeout=response_timeout)
        self.mounts = dict(mounts or {})
        self._handler = partial(ChartRequestHandler, root=root, mounts=self.mounts)
        super().__init__(address, ChartRequestHandler)

    def _serve_one(self, conn: _Connection) -> bool:
        """One request on `conn`; True when the connection may stay open."""
        handler = self._handler(conn.sock, conn.address, self, connection=conn)
        return not handler.close_connection

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `shutdown` (`poll_interval` is unused: the loop wakes on demand)."""
        self.watcher.run(self.socket)

    def shutdown(self) -> None:
        """Stop `serve_forever` (running in another thread) and wait until it has."""
        self.watcher.stop()

    def server_close(self) -> None:
        self.watcher.stop()
        super().server_close()


def _folder(path: str | Path) -> Path:
    root = Path(path).resolve(strict=True)
    if not root.is_dir():
        raise NotADirectoryError(root)
    return root


def make_server(
    folder: str | Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
    mounts: Mapping[str, str | Path] | None = None,
    idle_timeout: float = IDLE_TIMEOUT_S, max_threads: int = MAX_HANDLER_THREADS,
    max_connections: int = MAX_CONNECTIONS, response_timeout: float = RESPONSE_TIMEOUT_S,
) -> ChartServer:
    """A bound, not yet running server (port 0 picks a free port: see `server_address`).

    `mounts` serves further folders under `/<name>/` (the auditor report: `quality`), with
    the same rules. The limits default to the module constants (see the module docstring)."""
    root = _folder(folder)
    mounted = {name: _folder(path) for name, path in (mounts or {}).items()}
    return ChartServer((host, port), root, mounts=mounted, idle_timeout=idle_timeout,
                       max_threads=max_threads,
                       max_connections=max_connections, response_timeout=response_timeout)


def serve(
    folder: str | Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    stop: threading.Event | None = None,
    ready: threading.Event | None = None,
    mounts: Mapping[str, str | Path] | None = None,
    idle_timeout: float = IDLE_TIMEOUT_S,
    max_threads: int = MAX_HANDLER_THREADS,
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    """Serve `folder` until SIGINT or SIGTERM arrives, or until `stop` is set.

    `serve_forever` runs in a worker thread and the calling thread waits, because
    `shutdown()` called from a signal handler on the serving thread deadlocks. Handlers
    are set explicitly (and restored after), since a process started from a
    non-interactive shell may inherit SIGINT as ignored. Outside the main thread no
    handler can be set: pass `stop` to end it. `ready` is set once it listens.
    """
    server = make_server(folder, host, port, mounts=mounts, idle_timeout=idle_timeout,
                         max_threads=max_threads, max_connections=max_connections)
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
    """CLI: `python -m funnel_pipeline.charts.server --dir FOLDER [--host H] [--port P] …`."""
    parser = argparse.ArgumentParser(description="Serve the charts folder read-only over HTTP.")
    parser.add_argument("--dir", required=True, type=Path, help="folder holding the chart files")
    parser.add_argument("--mount", action="append", default=[], metavar="NAME=FOLDER",
                        help="also serve FOLDER under /NAME/ (repeatable; e.g. the auditor "
                             "report: quality=data/reports/quality)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = any free port)")
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT_S,
                        help=f"seconds to deliver a request before the connection is dropped "
                             f"(default {IDLE_TIMEOUT_S:g})")
    parser.add_argument("--max-threads", type=int, default=MAX_HANDLER_THREADS,
                        help=f"requests answered at once (default {MAX_HANDLER_THREADS})")
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS,
                        help=f"connections held open at once (default {MAX_CONNECTIONS})")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        parser.error(f"--dir {args.dir} is not a folder")
    if args.idle_timeout <= 0 or args.max_threads < 1 or args.max_connections < 1:
        parser.error("--idle-timeout, --max-threads and --max-connections must be positive")
    mounts: dict[str, Path] = {}
    for item in args.mount:
        name, sep, folder = item.partition("=")
        if not sep or not name or "/" in name or name.startswith(".") or not Path(folder).is_dir():
            parser.error(f"--mount {item}: expected NAME=FOLDER with an existing folder")
        mounts[name] = Path(folder)
    serve(args.dir, args.host, args.port, mounts=mounts, idle_timeout=args.idle_timeout,
          max_threads=args.max_threads, max_connections=args.max_connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
