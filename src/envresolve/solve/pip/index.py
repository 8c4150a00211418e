"""Finding distribution files: PEP 691 JSON and PEP 503 HTML simple indexes, and find-links locations.

A find-links location is a local directory (path or `file://` URL) of wheels/sdists, or an HTML page of
links. Project pages are fetched through `HttpClient` (so they are cached and revalidated), possibly in
parallel on a thread pool (`PackageFinder.prefetch`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version
from pydantic_core import from_json, to_json

from envresolve._redact import redact_url
from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.net import HttpClient, NetError, Response

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_PARSED_FORMAT = 3  # 3: wheel names parsed by packaging
_HINTS_FORMAT = 1
_MAX_HINTS = 2000
_MAX_HINTS_BYTES = 1 << 20
_NAME = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")

__all__ = ["ACCEPT", "DistFile", "PackageFinder", "TagFilter", "parse_html_page", "parse_json_page"]

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class DistFile:
    """One file of a project release as an index lists it. URLs carry no credentials."""

    filename: str
    url: str
    index: str = field(compare=False)
    name: NormalizedName
    version: Version
    kind: Literal["wheel", "sdist"]
    tags: frozenset[str] = field(default=frozenset(), compare=False)  # 'cp311-cp311-manylinux_2_17_x86_64', ...
    hashes: Mapping[str, str] = field(default_factory=dict, compare=False)
    requires_python: str | None = field(default=None, compare=False)
    yanked: str | None = field(default=None, compare=False)  # None: not yanked; else the reason ('' if none)
    metadata: bool = field(default=False, compare=False)  # PEP 658/714: `<url>.metadata` exists
    metadata_hashes: Mapping[str, str] = field(default_factory=dict, compare=False)
    local_path: Path | None = field(default=None, compare=False)

    @property
    def sha256(self) -> str | None:
        """The sha256 the index gave, lower case, if any."""
        h = self.hashes.get("sha256")
        return h.lower() if h else None


class TagFilter:
    """Acceptable wheel tags as strings, with per-part sets for a quick first rejection."""

    def __init__(self, tags: Iterable[object]) -> None:
        self.full = frozenset(str(t) for t in tags)
        self.signature = hashlib.sha256("\n".join(sorted(self.full)).encode()).hexdigest()
        split = [t.split("-") for t in self.full]
        self.py = frozenset(p[0] for p in split)
        self.abi = frozenset(p[1] for p in split)
        self.plat = frozenset(p[2] for p in split)
        # a page of 10,000 files carries a few hundred distinct tag triples: each is judged once
        self._seen: dict[str, bool] = {}

    def ok(self, filename: str) -> bool:
        """Does a wheel file name carry an acceptable tag? Strings only: no version or tag parsing."""
        end = len(filename) - 4
        at = filename.rfind("-", 0, filename.rfind("-", 0, filename.rfind("-", 0, end)))
        if at < 0:
            return False
        triple = filename[at + 1 : end]
        known = self._seen.get(triple)
        if known is None:
            known = self._seen[triple] = self._triple_ok(triple)
        return known

    def _triple_ok(self, triple: str) -> bool:
        py, abi, plat = triple.split("-")
        if self.plat.isdisjoint(plat.split(".")) or self.py.isdisjoint(py.split(".")):
            return False
        if self.abi.isdisjoint(abi.split(".")):
            return False
        return not self.full.isdisjoint(
            f"{x}-{y}-{z}" for x in py.split(".") for y in abi.split(".") for z in plat.split(".")
        )


def _tags_ok(filename: str, accept: TagFilter | None) -> bool:
    """Cheap string test: does a wheel file name carry any acceptable tag? (before the costly full parse)."""
    if accept is None or not filename.endswith(".whl"):
        return True
    return accept.ok(filename)


@functools.lru_cache(maxsize=4096)
def _canonical(name: str) -> NormalizedName:
    return canonicalize_name(name)


def _parse_wheel_name(filename: str) -> tuple[NormalizedName, Version, frozenset[str]] | None:
    """Name, version and tags (as strings) of a wheel file name (PEP 427), or None when it is not a valid one."""
    try:
        name, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return name, version, frozenset(map(str, tags))


def _make_file(
    filename: str,
    url: str,
    index: str,
    *,
    hashes: Mapping[str, str] | None = None,
    requires_python: str | None = None,
    yanked: str | None = None,
    metadata: Any = None,
    local_path: Path | None = None,
) -> DistFile | None:
    """A `DistFile` for a wheel or sdist file name, or None for anything else (or an unparsable name)."""
    try:
        if filename.endswith(".whl"):
            parsed = _parse_wheel_name(filename)
            if parsed is None:
                return None
            name, version, tags = parsed
            kind: Literal["wheel", "sdist"] = "wheel"
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            tags = frozenset()
            kind = "sdist"
        else:
            return None
    except InvalidSdistFilename:
        return None
    mhashes: dict[str, str] = {}
    has_meta = False
    if isinstance(metadata, dict):
        has_meta = True
        mhashes = {str(k).lower(): str(v).lower() for k, v in metadata.items()}
    elif metadata is True:
        has_meta = True
    elif isinstance(metadata, str) and metadata.lower() != "false":
        has_meta = True
        if "=" in metadata:
            algo, _, value = metadata.partition("=")
            mhashes = {algo.lower(): value.lower()}
    # Built without the frozen dataclass's __init__ (one object.__setattr__ per field): pages list thousands of
    # files and this is the per-file cost of reading them. Same fields, same values.
    df: DistFile = object.__new__(DistFile)
    df.__dict__.update(
        filename=filename,
        url=url,
        index=index,
        name=name,
        version=version,
        kind=kind,
        tags=tags,
        hashes={k.lower(): v.lower() for k, v in hashes.items()} if hashes else {},
        requires_python=requires_python or None,
        yanked=yanked,
        metadata=has_meta,
        metadata_hashes=mhashes,
        local_path=local_path,
    )
    return df


def _split_fragment(url: str) -> tuple[str, dict[str, str]]:
    base, _, frag = url.partition("#")
    hashes: dict[str, str] = {}
    if "=" in frag:
        algo, _, value = frag.partition("=")
        if algo in ("sha256", "sha384", "sha512", "md5"):
            hashes[algo] = value
    return base, hashes


def parse_json_page(body: bytes, page_url: str, index: str, accept: TagFilter | None = None) -> list[DistFile]:
    """Files of a PEP 691 JSON project page. Raises ValueError on a page that is not one.

    With `accept` (tag strings), wheels with none of those tags are dropped before they are parsed.
    """
    # pydantic-core's JSON reader: a third faster than `json` on PyPI's pages (a cold lock reads 16 MB of them),
    # and deep nesting is a ValueError, not a RecursionError
    data = from_json(body, cache_strings="keys")
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError("not a PEP 691 project page")
    api = str((data.get("meta") or {}).get("api-version", "1.0"))
    if api.split(".")[0] != "1":
        raise ValueError(f"unsupported simple API version {api}")
    out: list[DistFile] = []
    ok = accept.ok if accept is not None else None
    for f in data["files"]:  # tens of thousands on some pages: the rejections are kept cheap
        if not isinstance(f, dict):
            continue
        filename, raw_url = f.get("filename"), f.get("url")
        if not isinstance(filename, str) or not isinstance(raw_url, str):
            continue
        if ok is not None and filename.endswith(".whl") and not ok(filename):
            continue
        if not raw_url.startswith(("https://", "http://")):
            raw_url = urllib.parse.urljoin(page_url, raw_url)
        url, frag_hashes = _split_fragment(raw_url)
        raw_hashes = f.get("hashes")
        hashes: dict[str, Any] = raw_hashes if isinstance(raw_hashes, dict) else {}
        yanked = f.get("yanked", False)
        meta = f.get("core-metadata", f.get("data-dist-info-metadata", f.get("dist-info-metadata")))
        df = _make_file(
            filename,
            url,
            index,
            hashes={**frag_hashes, **{str(k): str(v) for k, v in hashes.items()}},
            requires_python=f.get("requires-python") if isinstance(f.get("requires-python"), str) else None,
            yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
            metadata=meta,
        )
        if df is not None:
            out.append(df)
    return out


@functools.cache
def _link_parser() -> type[Any]:
    """The HTML parser class for link pages (the standard library's HTML parser loads only for HTML pages)."""
    from html.parser import HTMLParser

    class _LinkParser(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.base: str | None = None
            self.links: list[dict[str, str | None]] = []
            self.tags = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags += 1
            if tag == "base" and self.base is None:
                self.base = dict(attrs).get("href")
            elif tag == "a":
                self.links.append(dict(attrs))

    return _LinkParser


def parse_html_page(body: bytes, page_url: str, index: str, accept: TagFilter | None = None) -> list[DistFile]:
    """Files of a PEP 503 HTML project page (or a find-links page), with PEP 592/658/714 attributes.

    Raises ValueError for a body that is not HTML at all: not UTF-8 (PEP 503), or text without a single tag.
    """
    parser = _link_parser()()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not an HTML page: not UTF-8 text (byte {exc.start})") from None
    parser.feed(text)
    parser.close()
    if parser.tags == 0 and text.strip():
        raise ValueError("not an HTML page: no HTML tags")
    base = urllib.parse.urljoin(page_url, parser.base) if parser.base else page_url
    out: list[DistFile] = []
    for attrs in parser.links:
        href = attrs.get("href")
        if not href:
            continue
        url, hashes = _split_fragment(urllib.parse.urljoin(base, href))
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        if not _tags_ok(filename, accept):
            continue
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        if meta is None and ("data-core-metadata" in attrs or "data-dist-info-metadata" in attrs):
            meta = "true"  # attribute present without a value
        df = _make_file(
            filename,
            url,
            index,
            hashes=hashes,
            requires_python=attrs.get("data-requires-python"),
            yanked=(attrs.get("data-yanked") or "") if "data-yanked" in attrs else None,
            metadata=meta,
        )
        if df is not None:
            out.append(df)
    return out


class PackageFinder:
    """Lists the files of a project across indexes and find-links locations, with an in-memory memo.

    `index_urls` are simple-index roots (`.../simple/`); `find_links` are directories or pages. URLs may
    carry credentials: they are registered with the client and dropped from every URL this class returns.
    """

    def __init__(
        self,
        client: HttpClient,
        index_urls: Sequence[str],
        find_links: Sequence[str] = (),
        *,
        tags: Iterable[object] | None = None,
        cache_dir: Path | None = None,
        workers: int = 6,
    ) -> None:
        self.client = client
        self.accept = TagFilter(tags) if tags is not None else None
        self.cache_dir = cache_dir
        self.index_urls = [client.trust_host(u) for u in index_urls]
        self.find_links = [client.trust_host(u) if "://" in u else u for u in find_links]
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="envresolve-pip")
        self._lock = threading.Lock()
        self._pages: dict[NormalizedName, Future[list[DistFile]]] = {}
        self._links: Future[list[DistFile]] | None = None
        #: page URL (credentials masked) -> the sha256 of the body read, or "status N" for a missing page
        self.digests: dict[str, str] = {}
        self.listed: set[str] = set()  # projects some index has a page for (even if no file passed the tags)

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The shared worker pool (metadata fetches run on it too)."""
        return self._pool

    def close(self) -> None:
        """Stop the worker pool (pending prefetches are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def prefetch(self, names: Iterable[str]) -> None:
        """Start fetching these projects' pages in the background (and the find-links locations, first)."""
        self._links_future()
        for name in names:
            self._future(canonicalize_name(name))

    def files(self, name: str) -> list[DistFile]:
        """All files of project `name` on every location. Raises NetError on network failure."""
        key = canonicalize_name(name)
        found = list(self._future(key).result())
        found.extend(f for f in self._find_links_files() if f.name == key)
        return found

    def _future(self, key: NormalizedName) -> Future[list[DistFile]]:
        with self._lock:
            fut = self._pages.get(key)
            if fut is None:
                fut = self._pool.submit(self._fetch_project, key)
                self._pages[key] = fut
            return fut

    def _fetch_project(self, key: NormalizedName) -> list[DistFile]:
        out: list[DistFile] = []
        for root in self.index_urls:
            page_url = root.rstrip("/") + "/" + key + "/"
            resp = self.client.get(
                page_url, headers={"Accept": ACCEPT}, cache=True, ok_statuses=frozenset({200, 404, 410})
            )
            with self._lock:
                self.digests[redact_url(page_url)] = (
                    f"status {resp.status}" if resp.status != 200 else resp.digest or "unknown"
                )
            if resp.status != 200:
                continue
            with self._lock:
                self.listed.add(key)
            index = redact_url(root)
            cached = self._parsed_load(resp, index)
            if cached is not None:
                out.extend(cached)
                continue
            try:
                if resp.content_type.startswith("application/vnd.pypi.simple.v1+json") or (
                    resp.content_type == "application/json"
                ):
                    files = parse_json_page(resp.body, resp.url, index, self.accept)
                elif "html" in resp.content_type or not resp.content_type:
                    files = parse_html_page(resp.body, resp.url, index, self.accept)
                else:
                    raise ValueError(f"unexpected content type {resp.content_type!r}")
            except (ValueError, UnicodeDecodeError) as exc:
                raise NetError(
                    make(
                        "RS206",
                        f"cannot parse the index page {redact_url(page_url)}: {exc}",
                        subject=redact_url(page_url),
                        hint="the index URL should point at a PEP 503/691 simple index root",
                    )
                ) from None
            self._parsed_store(resp, index, files)
            out.extend(files)
        return out

    # Which projects a resolution of the same roots against the same locations fetched last time: a warm run
    # fetches all their pages at once instead of wave by wave as the dependencies come to light (the pages are
    # fetched again, not trusted: this only orders the work). Names only; the locations enter through a hash.
    def _hints_path(self, roots: Iterable[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        locs = [redact_url(u) for u in self.index_urls] + [redact_url(u) for u in self.find_links]
        names = sorted({canonicalize_name(r) for r in roots})
        key = hashlib.sha256(json.dumps([_HINTS_FORMAT, names, locs]).encode()).hexdigest()
        return self.cache_dir / "pip-hints" / f"{key}.json"

    def remembered(self, roots: Iterable[str]) -> list[str]:
        """The projects a resolution of these roots fetched last time, in the order it asked for them."""
        path = self._hints_path(roots)
        if path is None:
            return []
        try:
            names = json.loads(path.read_bytes()[:_MAX_HINTS_BYTES])
        except (OSError, ValueError):
            return []
        if not isinstance(names, list):
            return []
        return [n for n in names[:_MAX_HINTS] if isinstance(n, str) and _NAME.fullmatch(n)]

    def fetched(self) -> list[str]:
        """The projects whose pages were asked for, in the order they were."""
        with self._lock:
            return list(self._pages)

    def remember(self, roots: Iterable[str]) -> None:
        """Keep the projects fetched for these roots (those an index had a page for) for the next run."""
        path = self._hints_path(roots)
        if path is None:
            return
        with self._lock:
            names = [n for n in self._pages if n in self.listed]
        self.client.store((path, json.dumps(names[:_MAX_HINTS]).encode()))

    def wheel_names(self, name: str) -> list[str]:
        """Every wheel file name of a project on the indexes and find-links, tags unfiltered (for diagnostics)."""
        key = canonicalize_name(name)
        out: list[str] = []
        for root in self.index_urls:
            page_url = root.rstrip("/") + "/" + key + "/"
            try:
                resp = self.client.get(
                    page_url, headers={"Accept": ACCEPT}, cache=True, ok_statuses=frozenset({200, 404, 410})
                )
                if resp.status != 200:
                    continue
                if "json" in resp.content_type:
                    files = parse_json_page(resp.body, resp.url, "")
                else:
                    files = parse_html_page(resp.body, resp.url, "")
            except (InputError, ValueError, UnicodeDecodeError):
                continue
            out.extend(f.filename for f in files if f.kind == "wheel")
        for loc in self.find_links:
            path = Path(loc) if "://" not in loc else None
            if path is not None and path.is_dir():
                for p in path.iterdir():
                    parsed = _parse_wheel_name(p.name) if p.name.endswith(".whl") else None
                    if parsed is not None and parsed[0] == key:
                        out.append(p.name)
        return out

    # A page's files after the tag filter, keyed by the page body's sha256: a warm run whose index sent
    # the same bytes again skips parsing (the largest CPU cost of a warm lock).
    def _parsed_path(self, resp: Response, index: str) -> Path | None:
        if self.cache_dir is None or resp.digest is None or self.accept is None:
            return None
        key = hashlib.sha256(
            f"{_PARSED_FORMAT}\n{resp.digest}\n{resp.url}\n{index}\n{self.accept.signature}".encode()
        ).hexdigest()
        return self.cache_dir / "pages" / f"{key}.json"

    def _parsed_load(self, resp: Response, index: str) -> list[DistFile] | None:
        path = self._parsed_path(resp, index)
        if path is None:
            return None
        try:
            rows = from_json(path.read_bytes(), cache_strings="keys")
            # Rows hold what parsing found (name, version, kind, tags): only the version is parsed again, once
            # per distinct version (a release has a file per Python and platform).
            out: list[DistFile] = []
            versions: dict[str, Version] = {}
            for filename, url, hashes, rp, yanked, has_meta, mhashes, name, version, kind, tags in rows:
                df: DistFile = object.__new__(DistFile)
                df.__dict__.update(
                    filename=filename,
                    url=url,
                    index=index,
                    name=name,
                    version=versions.get(version) or versions.setdefault(version, Version(version)),
                    kind=kind,
                    tags=frozenset(tags),
                    hashes=hashes,
                    requires_python=rp,
                    yanked=yanked,
                    metadata=has_meta,
                    metadata_hashes=mhashes,
                    local_path=None,
                )
                out.append(df)
            return out
        except (OSError, ValueError, TypeError):
            return None

    def _parsed_store(self, resp: Response, index: str, files: list[DistFile]) -> None:
        path = self._parsed_path(resp, index)
        if path is None:
            return
        rows = [
            [
                f.filename,
                f.url,
                dict(f.hashes),
                f.requires_python,
                f.yanked,
                f.metadata,
                dict(f.metadata_hashes),
                f.name,
                str(f.version),
                f.kind,
                sorted(f.tags),
            ]
            for f in files
        ]
        self.client.store((path, to_json(rows)))

    def _find_links_files(self) -> list[DistFile]:
        fut = self._links_future()
        return fut.result() if fut is not None else []

    # Submitted with the first prefetch, not with the first page asked for: by then the pool holds the whole
    # wave of page fetches (45 pages in a warm run), and the first answer would wait for all of them.
    def _links_future(self) -> Future[list[DistFile]] | None:
        if not self.find_links:
            return None
        with self._lock:
            if self._links is None:
                self._links = self._pool.submit(self._fetch_find_links)
            return self._links

    def _fetch_find_links(self) -> list[DistFile]:
        out: list[DistFile] = []
        for loc in self.find_links:
            parts = urllib.parse.urlsplit(loc)
            path: Path | None = None
            if "://" not in loc:
                path = Path(loc)
            elif parts.scheme == "file":
                path = Path(urllib.parse.unquote(parts.path))
            if path is not None and path.is_dir():
                for p in sorted(path.iterdir()):
                    if p.is_file() and _tags_ok(p.name, self.accept):
                        df = _make_file(p.name, p.resolve().as_uri(), str(path), local_path=p.resolve())
                        if df is not None:
                            out.append(df)
                continue
            url = path.resolve().as_uri() if path is not None else loc
            resp = self.client.get(url, headers={"Accept": "text/html"}, cache=True)
            try:
                out.extend(parse_html_page(resp.body, resp.url, redact_url(loc), self.accept))
            except ValueError as exc:
                raise NetError(
                    make(
                        "RS206",
                        f"cannot parse the find-links page {redact_url(loc)}: {exc}",
                        subject=redact_url(loc),
                        hint="a find-links location is a directory or an HTML page of links",
                    )
                ) from None
        return out
