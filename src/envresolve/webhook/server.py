"""The HTTPS server of `envresolve webhook`, on aiohttp.

aiohttp because it is one well-kept library that gives what the API server needs from a webhook without code of
ours on the wire: HTTP/1.1 keep-alive and concurrent connections on asyncio, a request body limit that answers
413 (`client_max_size`), and TLS from an `ssl.SSLContext` that we own, so a renewed certificate is loaded into
the same context and served to the next handshake without a restart.

Endpoints: `POST /validate` (AdmissionReview v1), `GET /healthz` (the process serves), `GET /readyz` (node facts
are loaded). Logs are JSON lines on stderr with names, codes, counts and timings only, never spec contents.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from envresolve.diagnostics import make
from envresolve.errors import EnvresolveError, InputError
from envresolve.webhook.nodes import NodeSource
from envresolve.webhook.review import BadReview, Fleet, Policy, decide, not_judged, parse_review, response_for

__all__ = ["ServerConfig", "TlsFiles", "build_app", "check_bind", "serve"]

log = logging.getLogger("envresolve.webhook")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs besides the node source."""

    host: str = "0.0.0.0"
    port: int = 8443
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_http: bool = False
    policy: Policy = field(default_factory=Policy)
    max_body_bytes: int = 3 * 1024 * 1024
    read_timeout: float = 5.0
    review_timeout: float = 2.0
    reload_interval: float = 2.0
    workers: int = 4


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        if record.name != log.name:
            doc["logger"] = record.name
        if record.exc_info and record.exc_info[0] is not None:
            doc["error"] = record.exc_info[0].__name__  # the type only: a message or traceback could quote the request
        doc.update(getattr(record, "fields", {}))
        return json.dumps(doc, sort_keys=False, default=str)


def _log(level: int, event: str, **fields: Any) -> None:
    log.log(level, event, extra={"fields": fields})


def check_bind(host: str, insecure_http: bool) -> None:
    """Refuse plain HTTP anywhere but loopback. Raises `InputError` (WH104)."""
    if not insecure_http:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InputError(
            make(
                "WH104",
                f"--insecure-http binds loopback addresses only, not {host}",
                hint="serve TLS with --tls-cert/--tls-key; --insecure-http is for local tests (--host 127.0.0.1)",
            )
        )


class TlsFiles:
    """A server `SSLContext` from a certificate chain and key file, reloaded in place when either changes."""

    def __init__(self, cert: str, key: str) -> None:
        self.cert, self.key = cert, key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._seen: tuple[Any, ...] | None = None
        self.load()

    def _signature(self) -> tuple[Any, ...]:
        out: list[Any] = []
        for path in (self.cert, self.key):
            st = os.stat(path)
            out.append((st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(out)

    def load(self) -> None:
        """Load the files into the context. Raises `InputError` (WH104) when they cannot be loaded."""
        try:
            seen = self._signature()
            self.context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(
                make("WH104", f"cannot load TLS certificate {self.cert} and key {self.key}: {exc}")
            ) from None
        self._seen = seen

    def reload_if_changed(self) -> bool:
        """Reload when a file changed; True when a new certificate was loaded. A half-written pair (a key that
        does not match yet) keeps the old certificate and is tried again next time."""
        try:
            if self._signature() == self._seen:
                return False
        except OSError:
            return False
        self.load()
        return True


class _State:
    def __init__(self, source: NodeSource, config: ServerConfig, tls: TlsFiles | None) -> None:
        self.source = source
        self.config = config
        self.tls = tls
        self.fleet: Fleet | None = None
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="review")


_STATE = web.AppKey("state", _State)

#: a CONDA Dataset judged once at start-up, so that the first real review does not pay the cold start
_WARMUP: dict[str, Any] = {
    "uid": "warm-up",
    "operation": "CREATE",
    "object": {
        "apiVersion": "dataset.baizeai.io/v1alpha1",
        "kind": "Dataset",
        "metadata": {"name": "warm-up", "namespace": "envresolve"},
        "spec": {
            "source": {
                "type": "CONDA",
                "uri": "conda://warm-up?python=3.11",
                "options": {
                    "name": "warm-up",
                    "pythonVersion": "3.11",
                    "condaEnvironmentYml": "channels:\n  - conda-forge\ndependencies:\n  - cuda-version=12.4\n",
                    "pipRequirementsTxt": "torch==2.5.1\njax[cuda12]\n",
                },
            }
        },
    },
}


async def _validate(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    start = time.perf_counter()
    try:
        body = await asyncio.wait_for(request.read(), timeout=state.config.read_timeout)
    except web.HTTPRequestEntityTooLarge:
        _log(logging.WARNING, "review-refused", status=413, why="body too large", limit=state.config.max_body_bytes)
        raise
    except asyncio.TimeoutError:
        _log(logging.WARNING, "review-refused", status=408, why="body not read in time")
        return web.json_response({"error": "request body not received in time"}, status=408)
    try:
        review = parse_review(body)
    except BadReview as exc:
        _log(logging.WARNING, "review-refused", status=400, why=str(exc), bytes=len(body))
        return web.json_response({"error": str(exc)}, status=400)
    uid = str(review["uid"])
    operation = review.get("operation") if isinstance(review.get("operation"), str) else None
    loop = asyncio.get_running_loop()
    deadline = state.config.review_timeout
    late = not_judged(uid, operation, f"the review took longer than {deadline} s")
    judging = time.perf_counter()
    try:
        decision = await asyncio.wait_for(
            loop.run_in_executor(state.executor, decide, review, state.fleet, state.config.policy), timeout=deadline
        )
        # a verdict that finished while the event loop waited for the GIL is late all the same: the contract is
        # "judged within the deadline, or allowed with WH103", whatever the thread scheduling
        if time.perf_counter() - judging > deadline:
            decision = late
    except asyncio.TimeoutError:
        decision = late
    except Exception as exc:  # never block an apply on our own bug: allow, say so, log it
        decision = not_judged(uid, operation, "internal error (logged)")
        _log(logging.ERROR, "review-failed", uid=uid, error=type(exc).__name__)
    ms = round((time.perf_counter() - start) * 1000, 2)
    level = logging.INFO if decision.outcome != "not-judged" else logging.WARNING
    _log(level, "review", ms=ms, **decision.log_fields())
    return web.json_response(response_for(decision))


async def _healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    fleet = state.fleet
    if fleet is None:
        return web.json_response({"status": "not ready", "why": "no node facts loaded yet"}, status=503)
    return web.json_response({"status": "ready", "nodes": fleet.nodes, "groups": len(fleet.groups)})


async def _load_fleet(state: _State) -> None:
    loop = asyncio.get_running_loop()
    try:
        fleet = await loop.run_in_executor(state.executor, state.source.load)
    except EnvresolveError as exc:
        kept = state.fleet.nodes if state.fleet else 0
        _log(
            logging.ERROR,
            "nodes-not-loaded",
            source=state.source.description,
            codes=[d.code for d in exc.diagnostics],
            message=exc.diagnostics[0].message if exc.diagnostics else "",
            kept_nodes=kept,
        )
        return
    if state.fleet is None:  # the first review pays imports and matrix loading: pay them before /readyz says yes
        started = time.perf_counter()
        await loop.run_in_executor(state.executor, decide, _WARMUP, fleet, state.config.policy)
        _log(logging.INFO, "warmed-up", ms=round((time.perf_counter() - started) * 1000, 2))
    state.fleet = fleet
    _log(logging.INFO, "nodes-loaded", source=fleet.source, nodes=fleet.nodes, groups=len(fleet.groups))


async def _watch(state: _State) -> None:
    """Reload the node facts when their source says so and the TLS files when they change."""
    while True:
        await asyncio.sleep(state.config.reload_interval)
        if state.tls is not None:
            try:
                if state.tls.reload_if_changed():
                    _log(logging.INFO, "tls-reloaded", cert=state.tls.cert)
            except InputError as exc:
                _log(logging.ERROR, "tls-not-reloaded", message=exc.diagnostics[0].message)
        if state.fleet is None or state.source.changed():
            await _load_fleet(state)


def build_app(source: NodeSource, config: ServerConfig, tls: TlsFiles | None = None) -> web.Application:
    """The aiohttp application: routes, body limit, and the node/TLS watcher as a background task."""
    app = web.Application(client_max_size=config.max_body_bytes)
    state = _State(source, config, tls)
    app[_STATE] = state
    app.router.add_post("/validate", _validate)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)

    async def background(app: web.Application) -> AsyncIterator[None]:
        await _load_fleet(state)
        task = asyncio.create_task(_watch(state))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        state.executor.shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(background)
    return app


def serve(source: NodeSource, config: ServerConfig) -> None:
    """Run the server until SIGINT/SIGTERM. Raises `InputError` (WH104) for a configuration it refuses."""
    check_bind(config.host, config.insecure_http)
    tls: TlsFiles | None = None
    if not config.insecure_http:
        if not (config.tls_cert and config.tls_key):
            raise InputError(make("WH104", "give --tls-cert and --tls-key (or --insecure-http on loopback)"))
        tls = TlsFiles(config.tls_cert, config.tls_key)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False
    aiohttp_log = logging.getLogger("aiohttp")  # its protocol errors, in the same JSON lines
    aiohttp_log.handlers[:] = [handler]
    aiohttp_log.setLevel(logging.WARNING)
    aiohttp_log.propagate = False
    app = build_app(source, config, tls)
    _log(
        logging.INFO,
        "starting",
        host=config.host,
        port=config.port,
        tls=tls is not None,
        require=config.policy.require,
        dry_run=config.policy.dry_run,
        nodes=source.description,
    )
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        ssl_context=tls.context if tls else None,
        access_log=None,
        print=None,
        shutdown_timeout=5.0,
        handle_signals=True,
    )
