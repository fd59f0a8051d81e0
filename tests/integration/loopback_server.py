"""The lifecycle the loopback stand-ins share (OpenRouter, YooKassa, the plain HTTP one).

A ``LoopbackServer`` owns a threaded HTTP server on ``host:port`` (port 0: a free one), the
thread that serves it, the set of open connections and an orderly stop: ``_stopping`` is set
(handlers waiting on it give up), the server is shut down and closed, every open connection is
cut, and the thread is joined. A subclass says which handler answers (``_handler_class``; a
``LoopbackHandler``, so connections are tracked) and may set ``thread_name`` and
``request_queue_size``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], standin: Any,
                 request_queue_size: int = 5) -> None:
        self.standin = standin  # the LoopbackServer subclass it serves
        self.request_queue_size = request_queue_size  # read by listen() inside __init__
        super().__init__(address, handler)


class LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each answer waits ~40 ms for the client's delayed ACK
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.standin._track(self.connection, False)

    def _send_bytes(self, status: int, data: bytes, headers: Mapping[str, str]) -> None:
        """Status line, ``headers``, Content-Length and ``data``, flushed (OSError is the caller's)."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


class LoopbackServer:
    thread_name = "loopback-server"  # the serving thread is named f"{thread_name}:{port}"
    request_queue_size = 5

    def __init__(self, host: str = "127.0.0.1", port: int = 0, lock: threading.Lock | threading.RLock | None = None
                 ) -> None:
        self.host = host
        self.port = port
        self._lock = lock or threading.Lock()  # subclasses guard their own state with it too
        self._connections: set[socket.socket] = set()
        self._opened = 0
        self._stopping = threading.Event()
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    # lifecycle

    def _bind(self) -> None:
        """Listen now (``port`` becomes the real one); ``start`` serves. ``start`` binds if needed."""
        if self._server is None:
            self._server = LoopbackHTTPServer((self.host, self.port), self._handler_class(), self,
                                              self.request_queue_size)
            self.port = self._server.server_address[1]

    def start(self) -> Self:
        self._bind()
        assert self._server is not None
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"{self.thread_name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C, then stop (a started stand-in run as a script)."""
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # where it is

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far (shows whether clients reuse connections)."""
        with self._lock:
            return self._opened

    # used by the handler

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._opened += 1
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
