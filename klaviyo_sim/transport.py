"""The HTTP layer: a threading server on loopback, request records and injected faults.

Every request goes to ``KlaviyoSimulator.dispatch``; what reaches the wire (a fault's status,
a reset, a truncated or broken body) is decided here.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from .errors import CONTENT_TYPE, dumps, invalid, status_error

if TYPE_CHECKING:
    from .server import KlaviyoSimulator


@dataclass(frozen=True)
class RequestLog:
    method: str
    path: str
    query: dict[str, list[str]]
    # Header names are lower-cased.
    headers: dict[str, str]
    status: int
    operation_id: str | None
    # sim.clock() (time.monotonic() unless a clock was given) when the request arrived.
    time: float
    # The request body (POSTs).
    body: bytes = b""


class RequestLogList(list[RequestLog]):
    """A list that handler threads append to safely; iterate over a snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def append(self, item: RequestLog) -> None:
        with self._lock:
            super().append(item)

    def clear(self) -> None:
        with self._lock:
            super().clear()

    def snapshot(self) -> list[RequestLog]:
        with self._lock:
            return list(super().__iter__())

    def __iter__(self) -> Iterator[RequestLog]:
        return iter(self.snapshot())

    def for_operation(self, operation_id: str) -> list[RequestLog]:
        return [r for r in self.snapshot() if r.operation_id == operation_id]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.sim: KlaviyoSimulator | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KlaviyoSimulator/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are recorded in sim.requests instead

    def setup(self) -> None:
        super().setup()
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def sim(self) -> KlaviyoSimulator:
        return self.server.sim  # type: ignore[attr-defined,return-value]

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        sim = self.sim
        arrived = sim.clock()
        raw_path, _, raw_query = self.path.partition("?")
        path = unquote(raw_path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""

        def log(status: int, operation_id: str | None) -> None:
            # Recorded before the response is written, so a client that has its answer
            # always finds the request in sim.requests.
            sim.requests.append(
                RequestLog(
                    method=self.command,
                    path=path,
                    query=parse_qs(raw_query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    status=status,
                    operation_id=operation_id,
                    time=arrived,
                    body=body,
                )
            )

        try:
            fault = sim.faults.take(self.command, path.rstrip("/") or "/", raw_query)
            if fault is not None and fault.kind == "stale_cursor":
                sim.sleep(sim.latency)
                log(400, sim.operation_id(self.command, raw_path))
                error = invalid("The page cursor is invalid or has expired.", "page[cursor]")
                self._send(400, dumps(error.body()), {})
                return
            if fault is not None and fault.kind in ("status", "reset"):
                sim.sleep(sim.latency)
                operation_id = sim.operation_id(self.command, raw_path)
                if fault.kind == "reset":
                    log(0, operation_id)
                    self._reset()
                    return
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                log(fault.status, operation_id)
                self._send(fault.status, dumps(status_error(fault.status).body()), headers)
                return
            if fault is not None and fault.kind == "timeout":
                sim.sleep(fault.timeout_seconds)
            response = sim.dispatch(self.command, raw_path, raw_query, self.headers, body)
            sim.sleep(sim.latency)
            if fault is not None and fault.kind == "truncated":
                log(response.status, response.operation_id)
                self._send(response.status, response.body, response.headers, truncate=True)
            elif fault is not None and fault.kind == "invalid_json":
                log(200, response.operation_id)
                broken = response.body[: max(1, len(response.body) // 2)] + b'",}'
                self._send(200, broken, response.headers)
            else:
                log(response.status, response.operation_id)
                self._send(response.status, response.body, response.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], truncate: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body) + (1024 if truncate else 0)))
        for name, value in headers.items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
        # Headers and body in one write: two small writes meet Nagle and delayed ACKs and
        # cost 40 ms per request.
        self._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
        self._headers_buffer.append(body[: len(body) // 2] if truncate else body)  # type: ignore[attr-defined]
        self.flush_headers()
        if truncate:
            # A clean FIN (not RST) so the client reads the partial body, then EOF.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_WR)

    def _reset(self) -> None:
        """Close the socket with RST so the client sees a dropped connection."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
