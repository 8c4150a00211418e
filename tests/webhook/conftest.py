"""Fixtures of the webhook tests: a test CA, a server certificate, and one shared HTTPS server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.webhook.harness import FLEET, Server, start
from tests.webhook.tls import CertAuthority, make_ca


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("webhook")


@pytest.fixture(scope="module")
def ca(workdir: Path) -> CertAuthority:
    return make_ca(workdir)


@pytest.fixture(scope="module")
def server(workdir: Path, ca: CertAuthority) -> Iterator[Server]:
    """The webhook over HTTPS against the six-node GFD fleet, with a 64 KiB body limit and a 0.5 s body deadline."""
    cert, key = workdir / "tls.crt", workdir / "tls.key"
    ca.issue(cert, key)
    srv = start(
        [
            *("--nodes", str(FLEET), "--tls-cert", str(cert), "--tls-key", str(key)),
            *("--max-body-bytes", "65536", "--read-timeout", "0.5"),
        ],
        workdir=workdir,
        ca=ca.path,
    )
    yield srv
    srv.stop()
