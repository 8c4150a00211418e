"""Where the webhook's node facts come from: a file (re-read when it changes) or the Kubernetes API server.

The API source lists Nodes through the official Kubernetes Python client (the `webhook` extra), in pages, with
a request timeout, and converts each Node's GFD/NFD labels exactly as `envresolve probe --node node.yaml` does
(`envresolve.node.kubernetes`). It is the only network edge of the webhook.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

from envresolve.diagnostics import make
from envresolve.errors import InputError
from envresolve.node.facts import NodeFacts
from envresolve.webhook.review import Fleet, fleet_of

__all__ = ["ApiNodes", "FileNodes", "NodeSource"]

Signature = tuple[tuple[str, int, int, int], ...]


class NodeSource(Protocol):
    """Something that can (re)load the fleet."""

    description: str

    def changed(self) -> bool:
        """True when `load` would see something new (always true for a source that cannot tell)."""

    def load(self) -> Fleet:
        """The fleet now. Raises `InputError` when the facts cannot be read."""


class FileNodes:
    """Node facts from a file or directory that `envresolve check --nodes` accepts; re-read when any file's
    size, mtime or inode changes (a ConfigMap volume swaps a symlink, which changes all three)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.description = f"file {self.path}"
        self._seen: Signature | None = None

    def _signature(self) -> Signature:
        paths = sorted(p for p in self.path.iterdir() if p.is_file()) if self.path.is_dir() else [self.path]
        out = []
        for p in paths:
            try:
                st = p.stat()
            except OSError:
                continue
            out.append((p.name, st.st_size, st.st_mtime_ns, st.st_ino))
        return tuple(out)

    def changed(self) -> bool:
        """True when the file (or a file of the directory) differs from the last successful load."""
        try:
            return self._signature() != self._seen
        except OSError:
            return True

    def load(self) -> Fleet:
        """Read and group the nodes. Raises `InputError`."""
        from envresolve.node.load import read_nodes

        # remembered before reading: a broken file is tried again when it changes, not on every poll
        self._seen = self._signature()
        nodes = [node for node, _ in read_nodes(self.path)]
        if not nodes:
            raise InputError(make("CK112", f"no nodes in {self.path}"))
        return fleet_of(nodes, source=self.description)


class ApiNodes:
    """Nodes listed live from the API server: in-cluster config, or a kubeconfig file for a run outside."""

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        label_selector: str | None = None,
        timeout: float = 10.0,
        refresh_interval: float = 60.0,
        page_size: int = 500,
        max_nodes: int = 100_000,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.label_selector = label_selector
        self.timeout = timeout
        self.refresh_interval = refresh_interval
        self._loaded_at: float | None = None
        self.page_size = page_size
        self.max_nodes = max_nodes
        self.description = "Kubernetes API" + (f" ({kubeconfig})" if kubeconfig else " (in-cluster)")
        self._api: Any = None

    def changed(self) -> bool:
        """True once the refresh interval has passed since the last load (or try): the API is listed again."""
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self.refresh_interval

    def _core(self) -> Any:
        if self._api is None:
            try:
                from kubernetes import client, config
            except ImportError:
                raise InputError(
                    make(
                        "WH104",
                        "live node facts need the Kubernetes client",
                        hint="pip install 'envresolve[webhook]'",
                    )
                ) from None
            configuration = client.Configuration()
            try:
                if self.kubeconfig:
                    config.load_kube_config(
                        config_file=self.kubeconfig, client_configuration=configuration, persist_config=False
                    )
                else:
                    config.load_incluster_config(client_configuration=configuration)
            except config.ConfigException as exc:
                raise InputError(make("WH104", f"no Kubernetes API configuration: {exc}")) from None
            self._api = client.CoreV1Api(client.ApiClient(configuration))
        return self._api

    def list_items(self) -> list[dict[str, Any]]:
        """Every Node object, paged (`limit` + `continue`), each page bounded by the request timeout."""
        api = self._core()
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"limit": self.page_size, "_request_timeout": self.timeout}
            if token:
                kwargs["_continue"] = token
            if self.label_selector:
                kwargs["label_selector"] = self.label_selector
            try:
                raw = api.list_node(_preload_content=False, **kwargs)
                page = json.loads(raw.data)
            except Exception as exc:  # the client raises ApiException, urllib3 and socket errors alike
                raise InputError(
                    make("WH104", f"listing Nodes failed: {type(exc).__name__}: {str(exc)[:200]}")
                ) from None
            got = page.get("items") if isinstance(page, dict) else None
            if not isinstance(got, list):
                raise InputError(make("ND202", "the API server's NodeList has no items"))
            items.extend(i for i in got if isinstance(i, dict))
            if len(items) > self.max_nodes:
                raise InputError(make("ND202", f"more than {self.max_nodes} Nodes listed; refusing"))
            meta = page.get("metadata") or {}
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return items

    def load(self) -> Fleet:
        """List, convert and group the Nodes. Raises `InputError`."""
        from envresolve.node.infer import fill_inferred
        from envresolve.node.kubernetes import node_from_manifest

        self._loaded_at = time.monotonic()
        nodes: list[NodeFacts] = []
        for i, item in enumerate(self.list_items()):
            node, _ = node_from_manifest(item, origin=f"api:nodes[{i}]")
            nodes.append(fill_inferred(node)[0])
        if not nodes:
            raise InputError(make("CK112", "the API server listed no Nodes"))
        return fleet_of(nodes, source=self.description)
