"""A loopback (127.0.0.1) HTTP server that serves a simple index from a directory and misbehaves on request.

Faults are set per URL path (`Fault`): an HTTP status (always, or for the first N requests), a connection
reset, a truncated body, a slow drip, a redirect loop, a generated huge body or an arbitrary body. Basic auth
and Range support are switches. Every request is logged (path, status, headers). Tests only.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fixtures.index.server import LoopbackServer


@dataclass
class Fault:
    """What to do for one path. `times=None`: every request; else only the first `times` requests."""

    kind: str  # status | reset | truncate | drip | redirect-loop | huge | body
    status: int = 503
    times: int | None = None
    delay: float = 0.05  # drip: seconds between bytes
    size: int = 0  # huge: bytes to send
    body: bytes = b""
    content_type: str = "text/html"
    announce: bool = True  # send Content-Length (else the body ends when the connection closes)


@dataclass
class Config:
    root: Path
    auth: tuple[str, str] | None = None
    ranges: bool = True
    faults: dict[str, Fault] = field(default_factory=dict)
    log: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)

    def hits(self, path: str) -> int:
        return sum(1 for p, _s, _h in self.log if p == path)


class _Server(ThreadingHTTPServer):
    """What the handler finds on its server (`LoopbackServer` attaches `cfg` and `lock`)."""

    cfg: Config
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        cfg = self.server.cfg
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if cfg.auth is not None:
            want = "Basic " + base64.b64encode(f"{cfg.auth[0]}:{cfg.auth[1]}".encode()).decode()
            if headers.get("authorization") != want:
                return self._send(path, headers, 401, b"login", {"WWW-Authenticate": 'Basic realm="x"'})
        fault = cfg.faults.get(path)
        if fault is not None:
            with self.server.lock:
                active = fault.times is None or fault.times > 0
                if active and fault.times is not None:
                    fault.times -= 1
            if active:
                return self._fault(path, headers, fault)
        target = (cfg.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"
        if cfg.root.resolve() not in target.parents or not target.is_file():
            return self._send(path, headers, 404, b"")
        body = target.read_bytes()
        ctype = "text/html" if target.suffix == ".html" else "application/octet-stream"
        rng = headers.get("range")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng or "")
        if cfg.ranges and m:
            size = len(body)
            if m.group(1):
                start, end = int(m.group(1)), min(int(m.group(2) or size - 1), size - 1)
            else:
                start, end = max(0, size - int(m.group(2))), size - 1
            extra = {"Content-Range": f"bytes {start}-{end}/{size}", "Content-Type": ctype}
            return self._send(path, headers, 206, body[start : end + 1], extra)
        return self._send(path, headers, 200, body, {"Content-Type": ctype})

    def _fault(self, path: str, headers: dict[str, str], fault: Fault) -> None:
        kind = fault.kind
        if kind == "status":
            return self._send(path, headers, fault.status, b"fault")
        if kind == "body":
            return self._send(path, headers, 200, fault.body, {"Content-Type": fault.content_type})
        if kind == "redirect-loop":
            return self._send(path, headers, 302, b"", {"Location": path})
        self._log(path, -1, headers)
        self.close_connection = True
        if kind == "reset":  # RST instead of FIN: the client sees "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return None
        body = fault.body or b"x" * max(fault.size, 1)
        self.send_response(200)
        self.send_header("Content-Type", fault.content_type)
        if fault.announce:
            self.send_header("Content-Length", str(len(body) if kind != "huge" else fault.size))
        self.end_headers()
        try:
            if kind == "truncate":
                self.wfile.write(body[: len(body) // 2])
            elif kind == "drip":
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(fault.delay)
            elif kind == "huge":
                chunk = b"<!-- " + b"y" * 65526 + b" -->"
                sent = 0
                while sent < fault.size:
                    part = chunk[: fault.size - sent]
                    self.wfile.write(part)
                    sent += len(part)
            self.wfile.flush()
        except OSError:
            pass  # the client gave up: that is what the fault tests want
        return None

    def _log(self, path: str, status: int, headers: dict[str, str]) -> None:
        with self.server.lock:
            self.server.cfg.log.append((path, status, headers))

    def _send(
        self, path: str, headers: dict[str, str], status: int, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self._log(path, status, headers)
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


class FaultServer(LoopbackServer):
    """`with FaultServer(Config(root)) as srv: srv.url` -> 'http://127.0.0.1:PORT'; stops itself after `lifetime`."""

    def __init__(self, cfg: Config, *, lifetime: float = 60.0) -> None:
        self.cfg = cfg
        super().__init__(_Handler, lambda srv: setattr(srv, "cfg", cfg), lifetime=lifetime)
