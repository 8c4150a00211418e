"""The one HTTP client of envresolve (resolution and `inspect URL`): pages, metadata, range reads, downloads.

Built on `urllib` (no extra dependency). What it does for every request:

- a timeout on connect and on each read (`timeout`, seconds);
- bounded retries with exponential backoff (plus jitter) on 5xx, 429 and connection errors;
- credentials from the URL itself, environment variables, `~/.netrc` or `keyring` (only when that
  package is installed), sent only to the host they belong to and never across a redirect; they are
  never logged, cached or put in an error message (see `envresolve._redact`);
- a clear error (RS402) on 401/403, RS401 when a host cannot be reached after the retries;
- an HTTP cache for index pages in the user cache dir, honouring `Cache-Control: max-age` and revalidating
  with `ETag`/`Last-Modified`, so a warm run sends few or no requests;
- `file://` URLs (a directory reads as its `index.json` when JSON is accepted, else its `index.html`, else
  as a generated listing of its files).

Downloads resume with `Range` after a broken connection and are checked against a sha256.

Every request has a total deadline (`request_timeout`, covering connect, retries and the whole body, plus one
second per MiB received, so a server that drips one byte a second cannot stall it while a large download at a
fair rate finishes), and the client may carry a deadline for the whole command (`deadline`, from `--timeout`):
past either, RS410. Bodies are read in chunks with a size cap
(`max_page_bytes` for pages and metadata, `max_download_bytes` for downloads): past it, RS411. A redirect
loop is RS412. A URL that failed once in a command is not fetched again in that command.

Environment variables for credentials (the host part is upper-cased, every other character becomes `_`,
so `pkgs.example.com` -> `PKGS_EXAMPLE_COM`):

- `ENVRESOLVE_INDEX_<HOST>_USERNAME` / `ENVRESOLVE_INDEX_<HOST>_PASSWORD`: for one host;
- `ENVRESOLVE_INDEX_USERNAME` / `ENVRESOLVE_INDEX_PASSWORD`: for the hosts of the configured indexes only
  (`HttpClient.trust_host`), never for a host a page links to.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import http.client
import json
import netrc
import os
import random
import re
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envresolve._atomic import atomic_write_bytes
from envresolve._redact import redact_text, redact_url
from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "Credentials",
    "HttpClient",
    "NetError",
    "Response",
    "Stream",
    "command_deadline",
    "default_cache_dir",
    "strip_credentials",
]

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "envresolve (+resolver)"
_CHUNK = 1 << 16
_MAX_CACHE_META = 64 << 10  # the metadata line of an http cache entry: its URL, a few headers, a digest
#: default caps; see `HttpClient`
MAX_PAGE_BYTES = 64 << 20
MAX_DOWNLOAD_BYTES = 8 << 30
REQUEST_TIMEOUT = 600.0
BACKOFF = 0.5


_COMMAND: list[tuple[float, float]] = []  # (deadline instant, its length): set once per command by the CLI


def command_deadline(seconds: float | None) -> None:
    """Bound every request of every client made from now on to `seconds` from now, all together (`--timeout`).

    `None` lifts it. Clients created before the call keep what they had.
    """
    _COMMAND.clear()
    if seconds is not None:
        _COMMAND.append((time.monotonic() + seconds, seconds))


class _Deadline(Exception):
    """Raised inside a request when its deadline (or the command's) has passed; turned into RS410."""

    def __init__(self, which: str, seconds: float) -> None:
        super().__init__(which)
        self.which = which
        self.seconds = seconds


#: a request's own deadline grows by one second for each this many bytes received: a large download at a fair
#: rate finishes, a slow drip does not (the command's deadline never grows)
CREDIT_BYTES_PER_S = 1 << 20


class _Budget:
    """The deadlines of one request: its own (`request_end`, credited as bytes arrive) and the command's."""

    def __init__(self, request_end: float, request_s: float, command_end: float | None, command_s: float) -> None:
        self.request_end = request_end
        self.request_s = request_s
        self.command_end = command_end
        self.command_s = command_s

    def credit(self, nbytes: int) -> None:
        self.request_end += nbytes / CREDIT_BYTES_PER_S

    def end(self) -> tuple[float, str, float]:
        """(instant, "request" or "command", that deadline's length in seconds), whichever comes first."""
        if self.command_end is not None and self.command_end < self.request_end:
            return self.command_end, "command", self.command_s
        return self.request_end, "request", self.request_s


class _TooLarge(Exception):
    def __init__(self, cap: int) -> None:
        super().__init__(cap)
        self.cap = cap


class _RedirectLoop(Exception):
    pass


class NetError(InputError):
    """A request that cannot succeed: host unreachable, auth refused, hash mismatch, bad status.

    `transient` is True for a connection that broke mid-body (worth another try).
    """

    transient = False


@dataclass(frozen=True)
class Response:
    """A completed response. `url` is the final URL with credentials removed."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    from_cache: bool = False
    digest: str | None = None  # sha256 of the body, when the HTTP cache computed it

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Credentials:
    """A user name and password for one host. `repr` never shows the password."""

    username: str
    password: str = field(repr=False)
    source: str = "url"

    def header(self) -> str:
        """The `Authorization` header value (HTTP basic)."""
        token = b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


def hash_mismatch(shown: str, expected: str, got: str) -> NetError:
    """RS403: the bytes fetched from `shown` (a location with credentials removed) are not the announced ones."""
    return NetError(
        make(
            "RS403",
            f"sha256 mismatch for {shown}",
            subject=shown,
            evidence=[f"expected {expected}", f"got {got}"],
            hint="the file changed on the index or was corrupted in transit; do not install it",
        )
    )


def default_cache_dir() -> Path:
    """`$ENVRESOLVE_CACHE_DIR`, else `$XDG_CACHE_HOME/envresolve`, else `~/.cache/envresolve`."""
    env = os.environ.get("ENVRESOLVE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "envresolve"


def strip_credentials(url: str) -> tuple[str, Credentials | None]:
    """Split user info off a URL: (URL without it, the credentials or None)."""
    parts = urllib.parse.urlsplit(url)
    if not (parts.username or parts.password):
        return url, None
    host = parts.hostname or ""
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host:  # IPv6 literal
        netloc = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    creds = Credentials(
        urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""), source="url"
    )
    return clean, creds


def _host_key(host: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", host.upper())


def _netloc(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")


def _is_tty() -> bool:
    if os.environ.get("CI"):
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Resp:
    """A response being read: status, lower-case headers, the final URL, and the body stream."""

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        url: str,
        fp: Any,
        done: Callable[[bool], None],
        sock: socket.socket | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.url = url
        self._fp = fp
        self._done = done
        self._sock = sock
        self._timeout: float | None = None

    def read_chunk(self, n: int = _CHUNK) -> bytes:
        """What arrives next, at most `n` bytes: never waits to fill `n` (a slow drip is seen chunk by chunk)."""
        read1 = getattr(self._fp, "read1", None)
        data: bytes = read1(n) if read1 is not None else self._fp.read(n)
        return data

    def set_timeout(self, seconds: float) -> None:
        """Bound the wait for the next bytes (the per-read timeout, cut to what the deadline leaves)."""
        seconds = max(0.001, seconds)
        if self._sock is not None and seconds != self._timeout:  # unchanged while the deadline is far
            self._timeout = seconds
            with contextlib.suppress(OSError):
                self._sock.settimeout(seconds)

    def close(self, *, reusable: bool = True) -> None:
        """Finish: a fully read response gives its connection back to the pool."""
        try:
            self._fp.close()
        finally:
            self._done(reusable)


class _Pool:
    """Keep-alive connections shared by the client's threads, each used by one request at a time.

    urllib opens a new TCP + TLS connection for every request; with keep-alive a warm request costs one
    round trip instead of three. An idle connection goes to whichever thread asks next, so a command opens
    about as many connections as it has requests in flight, not one per thread.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._idle_lock = threading.Lock()
        # Loading the system CA certificates takes ~20 ms; it runs in the background (OpenSSL does not hold the
        # GIL) while the caller imports and reads its inputs, and only the first HTTPS connection waits for it.
        self._ssl_box: list[ssl.SSLContext | BaseException] = []
        self._ssl_thread = threading.Thread(target=self._load_ssl, name="envresolve-ssl", daemon=True)
        self._ssl_thread.start()

    def _load_ssl(self) -> None:
        try:
            self._ssl_box.append(ssl.create_default_context())
        except BaseException as exc:  # re-raised where a connection needs the context
            self._ssl_box.append(exc)

    @property
    def _ssl(self) -> ssl.SSLContext:
        self._ssl_thread.join()
        ctx = self._ssl_box[0]
        if isinstance(ctx, BaseException):
            raise ctx
        return ctx

    def _checkout(self, key: tuple[str, str, int]) -> http.client.HTTPConnection | None:
        with self._idle_lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def _checkin(self, key: tuple[str, str, int], conn: http.client.HTTPConnection) -> None:
        with self._idle_lock:
            self._idle.setdefault(key, []).append(conn)

    def open(self, url: str, headers: Mapping[str, str], timeout: float | None = None) -> _Resp:
        timeout = self.timeout if timeout is None else timeout
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (parts.scheme, host, port)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for fresh in (False, True):
            conn = None if fresh else self._checkout(key)
            reused = conn is not None
            if conn is None:
                if parts.scheme == "https":
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl)
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
            else:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
            try:
                conn.request("GET", path, headers=dict(headers))
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused:
                    continue  # the server closed an idle keep-alive connection: one fresh try, not a retry
                raise
            except BaseException:
                conn.close()
                raise

            def done(reusable: bool, conn: http.client.HTTPConnection = conn, resp: Any = resp) -> None:
                if reusable and not resp.will_close and resp.isclosed():
                    self._checkin(key, conn)
                else:
                    conn.close()

            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return _Resp(resp.status, hdrs, url, resp, done, conn.sock)
        raise http.client.HTTPException("connection failed")  # pragma: no cover - the loop always returns


def _proxied(url: str, proxies: Mapping[str, str]) -> bool:
    """True when the environment routes this URL through a proxy (then urllib, which speaks to proxies, sends it)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


class HttpClient:
    """A small, thread-safe HTTP client with retries, credentials, a page cache and resumable downloads.

    `cache_dir=None` turns the HTTP cache off. `offline=True` answers only from the cache (and `file://`).
    `progress=None` shows download progress only on a TTY outside CI. `timeout` bounds each connect and each
    wait for bytes; `request_timeout` bounds a whole request (retries and body included); `deadline` (a
    `time.monotonic()` instant, see `set_deadline`) bounds every request of the command. `max_page_bytes` caps
    a page, metadata or range body held in memory; `max_download_bytes` caps a download streamed to disk.
    """

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float | None = None,
        backoff_max: float = 8.0,
        offline: bool = False,
        progress: bool | None = None,
        use_keyring: bool = True,
        use_netrc: bool = True,
        environ: Mapping[str, str] | None = None,
        request_timeout: float | None = None,
        deadline: float | None = None,
        max_page_bytes: int | None = None,
        max_download_bytes: int | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.timeout = timeout
        # the module defaults are read here, not bound at import: tests and embedders may lower them
        self.request_timeout = REQUEST_TIMEOUT if request_timeout is None else request_timeout
        self.deadline = deadline
        self.max_page_bytes = MAX_PAGE_BYTES if max_page_bytes is None else max_page_bytes
        self.max_download_bytes = MAX_DOWNLOAD_BYTES if max_download_bytes is None else max_download_bytes
        self._command_seconds: float | None = None
        if deadline is None and _COMMAND:
            self.deadline, self._command_seconds = _COMMAND[0]
        self._failed: dict[str, NetError] = {}
        self._store_cond = threading.Condition()
        self._made_dirs: set[Path] = set()
        self._stores = 0  # cache writes in progress
        self._closed = False
        self.retries = max(0, retries)
        self.backoff = BACKOFF if backoff is None else backoff
        self.backoff_max = backoff_max
        self.offline = offline
        self.progress = _is_tty() if progress is None else progress
        self._use_keyring = use_keyring
        self._use_netrc = use_netrc
        self._environ = dict(os.environ if environ is None else environ)
        self._host_creds: dict[str, Credentials | None] = {}
        self._trusted: set[str] = set()
        self._lock = threading.Lock()
        self._pool = _Pool(timeout)
        self._proxies = urllib.request.getproxies()
        self._opener = urllib.request.build_opener()  # only through a proxy (the pool speaks directly)
        self.requests = 0  # network requests actually sent (for tests and the benchmark)

    def store(self, *files: tuple[Path, bytes | tuple[bytes, ...]]) -> bool:
        """Write cache files atomically, in order; skipped (False) once `close` was called or when a write fails.

        Background fetches still running when a command ends must not be caught mid-write by the process's exit
        (which would leave a temporary file in the cache): `close` waits for the writes in progress and stops
        later ones. Writes run side by side; a cache entry is not fsynced (it is checked when read).
        """
        with self._store_cond:
            if self._closed:
                return False
            self._stores += 1
        try:
            for path, data in files:
                if path.parent not in self._made_dirs:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._made_dirs.add(path.parent)
                atomic_write_bytes(path, data, durable=False)
        except (OSError, InputError):
            return False  # a cache that cannot be written only costs speed
        finally:
            with self._store_cond:
                self._stores -= 1
                self._store_cond.notify_all()
        return True

    def close(self) -> None:
        """No more cache writes from this client (requests still work); waits for the writes in progress."""
        with self._store_cond:
            self._closed = True
            self._store_cond.wait_for(lambda: self._stores == 0)

    def set_deadline(self, seconds: float | None) -> None:
        """Give every later request of this client at most `seconds` from now, all together (None: no limit)."""
        self._command_seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def _stop_at(self, started: float) -> _Budget:
        """The deadlines of a request started at `started`."""
        command_s = self._command_seconds
        if self.deadline is not None and command_s is None:
            command_s = self.deadline - started
        return _Budget(started + self.request_timeout, self.request_timeout, self.deadline, command_s or 0.0)

    def _left(self, stop: _Budget) -> float:
        """Seconds left before the first deadline, capped by the per-read timeout; raises _Deadline when none are."""
        end, which, length = stop.end()
        left = end - time.monotonic()
        if left <= 0:
            raise _Deadline(which, length)
        return min(self.timeout, left)

    def _deadline_error(self, url: str, exc: _Deadline) -> NetError:
        shown = redact_url(url)
        if exc.which == "command":
            msg = f"the command's deadline of {exc.seconds:g} s passed while fetching {shown}"
            hint = "raise --timeout, or use a faster index or mirror"
        else:
            msg = f"{shown} took longer than the request deadline of {exc.seconds:g} s"
            hint = "the server sends too slowly; use another index or mirror"
        return NetError(make("RS410", msg, subject=shown, hint=hint))

    @staticmethod
    def _too_large_error(url: str, cap: int) -> NetError:
        shown = redact_url(url)
        return NetError(
            make(
                "RS411",
                f"{shown} is larger than the {cap:,} byte limit for this kind of response",
                subject=shown,
                hint="an index page or file this large is not plausible; check the index URL",
            )
        )

    @staticmethod
    def _redirect_error(url: str) -> NetError:
        shown = redact_url(url)
        return NetError(make("RS412", f"too many redirects from {shown}", subject=shown))

    # -- credentials ---------------------------------------------------------------------------------

    def trust_host(self, url: str) -> str:
        """Register a configured index/find-links URL: its host may get the generic credentials.

        Returns the URL without user info; credentials in the URL are remembered for its host.
        """
        clean, creds = strip_credentials(url)
        host = _netloc(clean)
        with self._lock:
            self._trusted.add(host)
            if creds is not None:
                self._host_creds[host] = creds
        return clean

    def _credentials(self, url: str) -> Credentials | None:
        host = _netloc(url)
        with self._lock:
            if host in self._host_creds:
                return self._host_creds[host]
        creds = self._lookup_credentials(url, host)
        with self._lock:
            self._host_creds.setdefault(host, creds)
            return self._host_creds[host]

    def _lookup_credentials(self, url: str, host: str) -> Credentials | None:
        hostname = urllib.parse.urlsplit(url).hostname or ""
        key = _host_key(hostname)
        user = self._environ.get(f"ENVRESOLVE_INDEX_{key}_USERNAME")
        password = self._environ.get(f"ENVRESOLVE_INDEX_{key}_PASSWORD")
        if user or password:
            return Credentials(user or "", password or "", source="environment")
        if host in self._trusted:
            user = self._environ.get("ENVRESOLVE_INDEX_USERNAME")
            password = self._environ.get("ENVRESOLVE_INDEX_PASSWORD")
            if user or password:
                return Credentials(user or "", password or "", source="environment")
        if self._use_netrc:
            creds = self._from_netrc(hostname)
            if creds is not None:
                return creds
        return None  # keyring is asked only when the server wants credentials (`_keyring_retry`)

    def _keyring_retry(self, url: str, creds: Credentials | None) -> Credentials | None:
        """Credentials from keyring for a trusted host that refused an unauthenticated request, else None.

        As pip does, keyring is not consulted before a 401/403: importing it and asking its backend costs tens of
        milliseconds on every command (and some backends block on a desktop session)."""
        host = _netloc(url)
        if creds is not None or not self._use_keyring or host not in self._trusted:
            return None
        found = self._from_keyring(url, urllib.parse.urlsplit(url).hostname or "")
        if found is not None:
            with self._lock:
                self._host_creds[host] = found
        return found

    def _from_netrc(self, hostname: str) -> Credentials | None:
        path = self._environ.get("NETRC") or str(Path(self._environ.get("HOME", str(Path.home()))) / ".netrc")
        if not os.path.isfile(path):
            return None
        try:
            auth = netrc.netrc(path).authenticators(hostname)
        except (netrc.NetrcParseError, OSError):
            return None  # an unreadable netrc is not ours to report; the server will answer 401
        if not auth:
            return None
        login, _account, password = auth
        return Credentials(login or "", password or "", source="netrc")

    def _from_keyring(self, url: str, hostname: str) -> Credentials | None:
        try:
            import keyring  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return None
        try:
            cred = keyring.get_credential(url, None) or keyring.get_credential(hostname, None)
        except Exception:
            return None
        if cred is None:
            return None
        return Credentials(str(cred.username or ""), str(cred.password or ""), source="keyring")

    # -- requests ------------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cache: bool = False,
        ok_statuses: frozenset[int] = frozenset({200}),
    ) -> Response:
        """GET a URL. With `cache=True` the response is kept in (and revalidated against) the HTTP cache.

        Statuses outside `ok_statuses` (other than 401/403, which raise RS402) come back as they are only
        when listed; otherwise they raise RS404. 404 is often wanted: pass `ok_statuses={200, 404}`.
        """
        clean, creds = strip_credentials(url)
        if creds is not None:
            with self._lock:
                self._host_creds.setdefault(_netloc(clean), creds)
        scheme = urllib.parse.urlsplit(clean).scheme
        if scheme == "file":
            return self._get_file(clean, headers or {})
        if scheme not in ("http", "https"):
            raise NetError(make("RS404", f"unsupported URL scheme: {redact_url(clean)}", subject=redact_url(clean)))
        hdrs = {"User-Agent": _USER_AGENT, **(headers or {})}
        if not cache:
            return self._get_http(clean, hdrs, cache=False, ok_statuses=ok_statuses)
        memo = f"{clean}\n{hdrs.get('Accept', '')}"
        with self._lock:
            failed = self._failed.get(memo)
        if failed is not None:
            raise failed  # one failure per URL and command: a broken or huge page is not fetched again
        try:
            return self._get_http(clean, hdrs, cache=True, ok_statuses=ok_statuses)
        except NetError as exc:
            with self._lock:
                self._failed[memo] = exc
            raise

    def _get_http(self, clean: str, hdrs: dict[str, str], *, cache: bool, ok_statuses: frozenset[int]) -> Response:
        entry = self._cache_load(clean, hdrs) if cache and self.cache_dir is not None else None
        if entry is not None and (entry.fresh or self.offline):
            cached = entry.load()
            if cached is not None:
                return cached
            entry = None
        if self.offline:
            raise NetError(
                make(
                    "RS406",
                    f"offline and not in the cache: {redact_url(clean)}",
                    subject=redact_url(clean),
                    hint="run once online to fill the cache, or drop --offline",
                )
            )
        revalidate = entry is not None and bool(entry.etag or entry.last_modified)
        if entry is not None and revalidate:
            if entry.etag:
                hdrs["If-None-Match"] = entry.etag
            if entry.last_modified:
                hdrs["If-Modified-Since"] = entry.last_modified
        resp = self._request(clean, hdrs, ok_statuses=ok_statuses | ({304} if revalidate else frozenset()))
        if resp.status == 304 and entry is not None:
            cached = entry.load()
            if cached is None:  # the body vanished since: ask again without validators
                return self._request(
                    clean, {k: v for k, v in hdrs.items() if not k.startswith("If-")}, ok_statuses=ok_statuses
                )
            merged = dict(cached.headers)
            for k in ("cache-control", "date", "etag", "last-modified", "age"):
                if k in resp.headers:
                    merged[k] = resp.headers[k]
            out = Response(cached.url, 200, merged, cached.body, from_cache=True, digest=cached.digest)
            # the entry (headers and body, one file) is written again only when that buys something: a new
            # freshness lifetime, or new validators; else a 304 would rewrite a page of megabytes unchanged
            if _max_age(merged) > 0 or any(merged.get(k) != cached.headers.get(k) for k in ("etag", "last-modified")):
                self._cache_store(clean, hdrs, out)
            return out
        if cache and self.cache_dir is not None and resp.status == 200:
            digest = hashlib.sha256(resp.body).hexdigest()
            resp = Response(resp.url, resp.status, resp.headers, resp.body, digest=digest)
            same = entry is not None and entry.sha256 == digest
            if not (
                same and _max_age(resp.headers) == 0 and not ("etag" in resp.headers or "last-modified" in resp.headers)
            ):
                self._cache_store(clean, hdrs, resp)
        return resp

    def get_range(self, url: str, start: int | None, end: int | None) -> Response:
        """GET bytes `start..end` (inclusive); `start=None` asks for the last `end` bytes (a suffix range).

        The response status is 206 when the server honoured the range, 200 when it sent the whole file.
        """
        rng = f"bytes=-{end}" if start is None else f"bytes={start}-{'' if end is None else end}"
        return self.get(url, headers={"Range": rng}, ok_statuses=frozenset({200, 206}))

    def _open(
        self, url: str, headers: Mapping[str, str], creds: Credentials | None, *, timeout: float | None = None
    ) -> _Resp:
        """Send one GET, following redirects (credentials never follow one to another host or scheme)."""
        with self._lock:
            self.requests += 1
        current = url
        for _hop in range(10):
            hdrs = dict(headers)
            same_origin = _netloc(current) == _netloc(url) and (
                urllib.parse.urlsplit(current).scheme == urllib.parse.urlsplit(url).scheme
            )
            if creds is not None and same_origin:
                hdrs["Authorization"] = creds.header()
            if _proxied(current, self._proxies):
                resp = self._open_urllib(current, hdrs, timeout)
            else:
                resp = self._pool.open(current, hdrs, timeout)
            location = resp.headers.get("location")
            if resp.status in (301, 302, 303, 307, 308) and location:
                resp.close(reusable=False)
                current = urllib.parse.urljoin(current, location)
                continue
            resp.url = strip_credentials(current)[0]
            return resp
        raise _RedirectLoop

    def _open_urllib(self, url: str, headers: Mapping[str, str], timeout: float | None = None) -> _Resp:
        auth = headers.get("Authorization")
        req = urllib.request.Request(url, headers={k: v for k, v in headers.items() if k != "Authorization"})
        if auth:
            req.add_unredirected_header("Authorization", auth)
        try:
            fh = self._opener.open(req, timeout=self.timeout if timeout is None else timeout)
        except urllib.error.HTTPError as exc:
            hdrs = {k.lower(): v for k, v in (exc.headers or {}).items()}
            return _Resp(exc.code, hdrs, url, exc, lambda _r: None)
        hdrs = {k.lower(): v for k, v in fh.headers.items()}
        return _Resp(fh.status, hdrs, strip_credentials(fh.geturl())[0], fh, lambda _r: None)

    def _request(self, url: str, headers: Mapping[str, str], *, ok_statuses: frozenset[int]) -> Response:
        tries = 0
        budget = self._stop_at(time.monotonic())  # one deadline for the request, its body retries included
        while True:
            stream = self._stream(url, headers, ok_statuses=ok_statuses, budget=budget)
            try:
                body = stream.read_all(self.max_page_bytes)
            except NetError as exc:
                if exc.transient and tries < self.retries and self._may_retry(budget, tries + 1):
                    tries += 1
                    self._sleep(tries, None, budget)
                    continue
                raise
            finally:
                stream.close()
            return Response(stream.url, stream.status, stream.headers, body)

    def stream(
        self,
        url: str,
        headers: Mapping[str, str] | None = None,
        *,
        ok_statuses: frozenset[int] = frozenset({200}),
    ) -> Stream:
        """Open a GET whose body is read by the caller (`Stream.chunks`, `read_all`), within this request's deadline.

        Credentials, retries (connection errors, 5xx, 429), redirects and the deadlines apply as for `get`; a
        status outside `ok_statuses` raises (RS402 for 401/403, RS404 otherwise). A failure while reading the
        body is a NetError (`transient` when the connection broke), for the caller to retry or not.
        """
        return self._stream(url, headers, ok_statuses=ok_statuses, budget=None)

    def _stream(
        self,
        url: str,
        headers: Mapping[str, str] | None,
        *,
        ok_statuses: frozenset[int],
        budget: _Budget | None,
    ) -> Stream:
        clean, url_creds = strip_credentials(url)
        if url_creds is not None:
            with self._lock:
                self._host_creds.setdefault(_netloc(clean), url_creds)
        if self.offline:
            raise NetError(make("RS406", f"offline: cannot fetch {redact_url(clean)}", subject=redact_url(clean)))
        hdrs = {"User-Agent": _USER_AGENT, **(headers or {})}
        creds = self._credentials(clean)
        stop = budget or self._stop_at(time.monotonic())
        attempt = 0
        while True:
            try:
                resp = self._open(clean, hdrs, creds, timeout=self._left(stop))
            except _Deadline as exc:
                raise self._deadline_error(clean, exc) from None
            except _RedirectLoop:
                raise self._redirect_error(clean) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException, ssl.SSLError) as exc:
                if attempt < self.retries and self._may_retry(stop, attempt + 1):
                    attempt += 1
                    self._sleep(attempt, None, stop)
                    continue
                end, which, length = stop.end()
                if time.monotonic() >= end:
                    raise self._deadline_error(clean, _Deadline(which, length)) from None
                raise self._unreachable(clean, exc, attempt) from None
            status = resp.status
            if status in (401, 403):
                resp.close(reusable=False)
                retry = self._keyring_retry(clean, creds)
                if retry is not None:
                    creds = retry
                    continue
                raise NetError(self._auth_error(clean, status, creds))
            if status in _RETRY_STATUS and status not in ok_statuses:
                resp.close(reusable=False)
                if attempt < self.retries and self._may_retry(stop, attempt + 1):
                    attempt += 1
                    self._sleep(attempt, resp.headers.get("retry-after"), stop)
                    continue
            if status not in ok_statuses:
                resp.close(reusable=False)
                raise NetError(
                    make(
                        "RS404",
                        f"HTTP {status} from {redact_url(clean)}",
                        subject=redact_url(clean),
                        evidence=[f"after {attempt + 1} attempt(s)"],
                    )
                )
            return Stream(self, clean, resp, stop, attempt)

    def _may_retry(self, stop: _Budget, attempt: int) -> bool:
        """A retry is worth it only when its backoff ends before the deadline."""
        delay = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return bool(time.monotonic() + delay < stop.end()[0])

    def _unreachable(self, url: str, exc: BaseException, attempt: int) -> NetError:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.timeout | TimeoutError):
            what = f"timed out after {self.timeout:g} s"
        else:
            what = redact_text(str(reason)) or type(exc).__name__
        return NetError(
            make(
                "RS401",
                f"cannot reach {redact_url(url)}: {what}",
                subject=redact_url(url),
                evidence=[f"{attempt + 1} attempt(s) with exponential backoff"],
                hint="check the index URL and the network, or use --offline with a warm cache",
            )
        )

    def _auth_error(self, url: str, status: int, creds: Credentials | None) -> Diagnostic:
        host = urllib.parse.urlsplit(url).hostname or ""
        if creds is None:
            what = "no credentials were found"
            hint = (
                f"put credentials in ~/.netrc (machine {host}), in ENVRESOLVE_INDEX_{_host_key(host)}_USERNAME / "
                "_PASSWORD, or in keyring"
            )
        else:
            what = f"the credentials from {creds.source} were refused"
            hint = "check the user name and password or token for this index"
        return make(
            "RS402",
            f"HTTP {status} from {redact_url(url)}: {what}",
            subject=redact_url(url),
            evidence=[Evidence(fact=f"HTTP {status}", source=redact_url(url))],
            hint=hint,
        )

    def _sleep(self, attempt: int, retry_after: str | None, stop: _Budget | None = None) -> None:
        delay = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        if retry_after and retry_after.isdigit():
            delay = min(self.backoff_max, max(delay, float(retry_after)))
        delay *= 0.75 + random.random() / 2
        if stop is not None:  # never sleep past the deadline (the next attempt then reports it)
            delay = max(0.0, min(delay, stop.end()[0] - time.monotonic()))
        time.sleep(delay)

    # -- file:// -------------------------------------------------------------------------------------

    def _get_file(self, url: str, headers: Mapping[str, str]) -> Response:
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        if path.is_dir():
            as_json = path / "index.json"
            as_html = path / "index.html"
            if "json" in headers.get("Accept", "") and as_json.is_file():
                path = as_json
            elif as_html.is_file():
                path = as_html
            else:
                links = "".join(
                    f'<a href="{urllib.parse.quote(p.name)}">{p.name}</a>\n'
                    for p in sorted(path.iterdir())
                    if p.is_file()
                )
                body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
                return Response(url, 200, {"content-type": "text/html"}, body)
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                rng = headers.get("Range")
                if rng:
                    start, end = _parse_range(rng, size)
                    fh.seek(start)
                    body = fh.read(end - start + 1)
                    hdrs = {"content-range": f"bytes {start}-{end}/{size}", "content-length": str(len(body))}
                    return Response(url, 206, hdrs, body)
                body = fh.read()
        except FileNotFoundError:
            return Response(url, 404, {}, b"")
        except OSError as exc:
            raise NetError(
                make("RS401", f"cannot read {redact_url(url)}: {exc.strerror or exc}", subject=redact_url(url))
            ) from None
        ctype = "application/vnd.pypi.simple.v1+json" if path.suffix == ".json" else "text/html"
        if path.suffix not in (".json", ".html", ".htm"):
            ctype = "application/octet-stream"
        return Response(url, 200, {"content-type": ctype, "content-length": str(len(body))}, body)

    # -- downloads -----------------------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None = None,
        on_progress: Callable[[int, int | None], None] | None = None,
        max_bytes: int | None = None,
    ) -> Path:
        """Stream `url` to `dest` (atomically), resuming with `Range` after a broken connection.

        With `sha256`, the file is checked and RS403 raised on a mismatch. On any failure nothing is left at
        `dest` nor beside it. `max_bytes` (default `max_download_bytes`) caps the file (RS411).
        """
        cap = self.max_download_bytes if max_bytes is None else max_bytes
        clean, _ = strip_credentials(url)
        if urllib.parse.urlsplit(clean).scheme == "file":
            data = self._get_file(clean, {}).body
            if len(data) > cap:
                raise self._too_large_error(clean, cap)
            self._check_hash(clean, hashlib.sha256(data).hexdigest(), sha256)
            atomic_write_bytes(dest, data)
            return dest
        if self.offline:
            raise NetError(make("RS406", f"offline: cannot download {redact_url(clean)}", subject=redact_url(clean)))
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        show = on_progress or (self._print_progress(dest.name) if self.progress else None)
        try:
            digest = self._download_to(url, part, cap, show)
            if self.progress and on_progress is None:
                sys.stderr.write("\n")
            self._check_hash(clean, digest, sha256)
            os.replace(part, dest)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return dest

    def _download_to(self, url: str, part: Path, cap: int, show: Callable[[int, int | None], None] | None) -> str:
        """Fetch into `part`, resuming after transient breaks; the sha256 of what was written."""
        digest = hashlib.sha256()
        have = 0
        total: int | None = None
        breaks = 0
        budget = self._stop_at(time.monotonic())  # resumes continue the same request: one deadline
        with open(part, "wb") as out:
            while True:
                hdrs = {"Range": f"bytes={have}-"} if have else {}
                stream = self._stream(url, hdrs, ok_statuses=frozenset({200, 206}), budget=budget)
                try:
                    if have and stream.status != 206:  # the server ignored Range: start over
                        out.seek(0)
                        out.truncate()
                        digest = hashlib.sha256()
                        have = 0
                    length = stream.headers.get("content-length", "")
                    if total is None and length.isdigit():
                        total = have + int(length)
                        if total > cap:
                            raise self._too_large_error(url, cap)
                    for chunk in stream.chunks(cap - have):
                        out.write(chunk)
                        digest.update(chunk)
                        have += len(chunk)
                        if show:
                            show(have, total)
                except NetError as exc:
                    if exc.transient and breaks < self.retries and self._may_retry(budget, breaks + 1):
                        breaks += 1
                        self._sleep(breaks, None, budget)
                        continue
                    raise
                finally:
                    stream.close()
                return digest.hexdigest()

    @staticmethod
    def _check_hash(url: str, got: str, want: str | None) -> None:
        if want is not None and got != want.lower():
            raise hash_mismatch(redact_url(url), want.lower(), got)

    @staticmethod
    def _print_progress(name: str) -> Callable[[int, int | None], None]:
        def show(have: int, total: int | None) -> None:
            if total:
                sys.stderr.write(f"\r{name}: {have / 1e6:.1f}/{total / 1e6:.1f} MB ({100 * have // total}%)")
            else:
                sys.stderr.write(f"\r{name}: {have / 1e6:.1f} MB")
            sys.stderr.flush()

        return show

    # -- cache ---------------------------------------------------------------------------------------

    # One file per entry, in one directory: its metadata as a line of JSON, then the body. A cold run writes
    # a few hundred cache files, and each file and directory created is an inode, which costs more system
    # time than writing the bytes.
    def _cache_path(self, url: str, headers: Mapping[str, str]) -> Path:
        assert self.cache_dir is not None
        key = hashlib.sha256((url + "\n" + headers.get("Accept", "")).encode()).hexdigest()
        return self.cache_dir / "http" / f"{key}.http"

    def _cache_load(self, url: str, headers: Mapping[str, str]) -> _CacheEntry | None:
        """The cache entry's metadata; its body is read only when it will be used (`_CacheEntry.load`)."""
        path = self._cache_path(url, headers)
        try:
            with path.open("rb") as fh:
                line = fh.readline(_MAX_CACHE_META)
            meta = json.loads(line)
            hdrs = dict(meta["headers"])
            sha = str(meta["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not line.endswith(b"\n"):
            return None
        fresh = time.time() < float(meta.get("stored", 0)) + _max_age(hdrs)
        return _CacheEntry(
            url=str(meta.get("url", url)),
            headers=hdrs,
            sha256=sha,
            path=path,
            offset=len(line),
            fresh=fresh,
            etag=hdrs.get("etag"),
            last_modified=hdrs.get("last-modified"),
        )

    def _cache_store(self, url: str, headers: Mapping[str, str], resp: Response) -> None:
        keep = ("content-type", "etag", "last-modified", "cache-control", "date", "age")
        meta = {
            "url": redact_url(resp.url),
            "headers": {k: v for k, v in resp.headers.items() if k in keep},
            "sha256": resp.digest or hashlib.sha256(resp.body).hexdigest(),
            "stored": time.time() - _age(resp.headers),
        }
        line = json.dumps(meta, sort_keys=True).encode() + b"\n"
        self.store((self._cache_path(url, headers), (line, resp.body)))


class Stream:
    """An open response whose body the caller reads, within its request's deadline (see `HttpClient.stream`)."""

    def __init__(self, client: HttpClient, url: str, resp: _Resp, stop: _Budget, attempt: int) -> None:
        self._client = client
        self._resp: _Resp | None = resp
        self._stop = stop
        self._done = False
        self.attempts = attempt + 1
        self.url = resp.url
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers
        self.requested = url

    def chunks(self, cap: int) -> Iterator[bytes]:
        """The body in chunks as they arrive; RS410 past the deadline, RS411 past `cap` bytes, RS401 on a break."""
        have = 0
        resp = self._resp
        if resp is None:
            return
        try:
            length = self.headers.get("content-length", "")
            if length.isdigit() and int(length) > cap:
                raise _TooLarge(cap)  # announced too large: refused before a byte of it is read
            while True:
                resp.set_timeout(self._client._left(self._stop))
                try:
                    chunk = resp.read_chunk(_CHUNK)
                except TimeoutError:
                    self._client._left(self._stop)
                    raise
                if not chunk:
                    break
                have += len(chunk)
                if have > cap:
                    raise _TooLarge(cap)
                self._stop.credit(len(chunk))
                yield chunk
            length = self.headers.get("content-length", "")
            if length.isdigit() and have < int(length) and "content-encoding" not in self.headers:
                raise http.client.IncompleteRead(b"", int(length) - have)
        except _Deadline as exc:
            self.close(reusable=False)
            raise self._client._deadline_error(self.requested, exc) from None
        except _TooLarge as exc:
            self.close(reusable=False)
            raise self._client._too_large_error(self.requested, exc.cap) from None
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            self.close(reusable=False)
            reason = redact_text(str(getattr(exc, "reason", exc))) or type(exc).__name__
            if isinstance(exc, http.client.IncompleteRead):
                reason = f"the connection closed {exc.expected} bytes early"
            err = NetError(
                make(
                    "RS401",
                    f"the transfer of {redact_url(self.requested)} broke after {have} bytes: {reason}",
                    subject=redact_url(self.requested),
                )
            )
            err.transient = True
            raise err from None
        self._done = True

    def read_all(self, cap: int) -> bytes:
        """The whole body (at most `cap` bytes, else RS411)."""
        return b"".join(self.chunks(cap))

    def close(self, *, reusable: bool = True) -> None:
        """Finish; the connection is kept for reuse only after a complete body."""
        if self._resp is not None:
            resp, self._resp = self._resp, None
            resp.close(reusable=reusable and self._done)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _CacheEntry:
    url: str
    headers: dict[str, str]
    sha256: str
    path: Path
    offset: int
    fresh: bool
    etag: str | None
    last_modified: str | None

    def load(self) -> Response | None:
        """The cached response, or None when the body is missing or does not match its recorded sha256."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                body = fh.read()
        except OSError:
            return None
        digest = hashlib.sha256(body).hexdigest()
        if digest != self.sha256:
            return None
        return Response(self.url, 200, self.headers, body, from_cache=True, digest=digest)


def _max_age(headers: Mapping[str, str]) -> float:
    cc = headers.get("cache-control", "").lower()
    if "no-cache" in cc or "no-store" in cc:
        return 0.0
    m = re.search(r"max-age=(\d+)", cc)
    return float(m.group(1)) if m else 0.0


def _age(headers: Mapping[str, str]) -> float:
    age = headers.get("age", "")
    if age.isdigit():
        return float(age)
    date = headers.get("date")
    if date:
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, time.time() - email.utils.parsedate_to_datetime(date).timestamp())
    return 0.0


def _parse_range(value: str, size: int) -> tuple[int, int]:
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return 0, size - 1
    if not m.group(1):
        n = int(m.group(2))
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    return min(start, size), min(end, size - 1)
