"""Network faults against a loopback index: `envresolve lock` (and `inspect`) end with a clear code, leave no lock
or partial file, and never show the credential, in any output, lock, export or cache file.

Every test runs the real CLI in-process against `FaultServer` on 127.0.0.1, with the credential in the index
URL or in a netrc file, and short deadlines and backoffs so the whole suite stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import envresolve.net
from envresolve.cli import main
from tests.fixtures.index.server import ROOT as FIXTURE_INDEX
from tests.net.faultserver import Config, Fault, FaultServer

USER = "ci-bot"
SECRET = "Zq9-s3cr3t-NETFAULT"
FILES = FIXTURE_INDEX / "files"
NODE = "a100-driver535"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def forged_wheel(name: str, version: str, requires: list[str]) -> bytes:
    """A wheel whose METADATA says what an attacker wants (a valid zip with one dist-info)."""
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(f"{name}-{version}.dist-info/METADATA", meta)
        zf.writestr(
            f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return buf.getvalue()


def make_index(root: Path, files: dict[str, tuple[bytes, str | None]]) -> Path:
    """A PEP 503 index under `root`: file name -> (bytes, the sha256 the page announces; None: the real one)."""
    by_project: dict[str, list[str]] = {}
    (root / "files").mkdir(parents=True, exist_ok=True)
    for filename, (data, claimed) in files.items():
        (root / "files" / filename).write_bytes(data)
        project = filename.split("-")[0]
        sha = claimed or _sha(data)
        by_project.setdefault(project, []).append(f'<a href="../../files/{filename}#sha256={sha}">{filename}</a>')
    for project, links in by_project.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "<br/>\n".join(links) + "\n</body></html>\n")
    return root


def real(*names: str) -> dict[str, tuple[bytes, str | None]]:
    return {n: ((FILES / n).read_bytes(), None) for n in names}


ALPHA, BETA10, BETA11 = "alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl", "beta-1.1-py3-none-any.whl"


@dataclass
class Run:
    rc: int
    out: str
    err: str
    outdir: Path
    seconds: float

    @property
    def lock(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.outdir / "envresolve.lock").read_text())
        return data

    def pip(self) -> dict[str, dict[str, object]]:
        rows = self.lock["pip"]
        assert isinstance(rows, list)
        return {str(r["name"]): r for r in rows}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache, no netrc, fast backoff and a short per-read timeout."""
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("ENVRESOLVE_INDEX_USERNAME", "ENVRESOLVE_INDEX_PASSWORD", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(envresolve.net, "BACKOFF", 0.01)
    return tmp_path


def lock(
    tmp: Path,
    capsys: pytest.CaptureFixture[str],
    index_url: str,
    reqs: str = "alpha\n",
    *extra: str,
    name: str = "out",
) -> Run:
    spec = tmp / f"{name}-requirements.txt"
    spec.write_text(reqs)
    outdir = tmp / name
    outdir.mkdir(exist_ok=True)
    argv = ["lock", str(spec), "--python", "3.11", "--node", NODE, "--index-url", index_url]
    argv += ["-o", str(outdir / "envresolve.lock"), "--export", "pylock,requirements", *extra]
    capsys.readouterr()
    t0 = time.monotonic()
    rc = main(argv)
    seconds = time.monotonic() - t0
    cap = capsys.readouterr()
    return Run(rc, cap.out, cap.err, outdir, seconds)


def with_creds(url: str) -> str:
    return url.replace("http://", f"http://{USER}:{SECRET}@") + "/simple/"


def assert_clean(run: Run, tmp: Path, *, locked: bool) -> None:
    """The credential is nowhere; no partial file anywhere; the output set is whole or absent."""
    token = base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
    for text in (run.out, run.err):
        assert SECRET not in text and token not in text
    for root in (run.outdir, tmp / "cache"):
        for p in root.rglob("*") if root.exists() else ():
            if p.is_file():
                data = p.read_bytes()
                assert SECRET.encode() not in data and token.encode() not in data, p
                assert not p.name.endswith((".part", ".tmp")), p
            assert ".set-" not in p.name, p
    names = sorted(p.name for p in run.outdir.iterdir())
    if locked:
        assert names == ["envresolve.lock", "pylock.toml", "requirements.lock.txt"]
        set_id = run.lock["output-set"]["id"]  # type: ignore[index]
        for export in ("pylock.toml", "requirements.lock.txt"):
            assert (run.outdir / export).read_text().splitlines()[0] == f"# envresolve-output-set: {set_id}"
    else:
        assert names == [], names


def code_of(run: Run) -> list[str]:
    return [w.strip("[") for w in run.err.split() if w.startswith("error[")]


def errors(run: Run) -> str:
    return run.err


# -- faults ---------------------------------------------------------------------------------------


@pytest.fixture
def index(tmp_path: Path) -> Path:
    return make_index(tmp_path / "index", real(ALPHA, BETA10, BETA11))


def test_ok_baseline_with_credentials_in_url(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FaultServer(Config(index, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 0, run.err
    assert run.pip()["beta"]["version"] == "1.1"
    assert "LK105" in run.out  # the credential was removed from what the lock records
    assert_clean(run, env, locked=True)


def test_5xx_always_is_rs404(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("status", status=502)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS404" in run.err and "HTTP 502" in run.err
    assert cfg.hits("/simple/alpha/") == 4  # one try + 3 retries, once per command
    assert_clean(run, env, locked=False)


def test_5xx_then_ok_is_retried(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("status", status=503, times=2)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 0, run.err
    assert_clean(run, env, locked=True)


def test_connection_reset_then_ok_and_always(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("reset", times=1)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url), name="once")
    assert run.rc == 0, run.err
    assert_clean(run, env, locked=True)
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("reset")})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url), name="always")
    assert run.rc == 2 and "RS401" in run.err
    assert_clean(run, env, locked=False)


def test_truncated_page_is_retried_and_truncated_always_fails(
    env: Path, index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (index / "simple" / "alpha" / "index.html").read_bytes()
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("truncate", body=page, times=1)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url), name="once")
    assert run.rc == 0, run.err
    assert_clean(run, env, locked=True)
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("truncate", body=page)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url), name="always")
    assert run.rc == 2 and "RS401" in run.err and "broke" in run.err
    assert_clean(run, env, locked=False)


def test_truncated_download_resumes(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without Range support the wheel is downloaded whole; a cut connection is resumed, and hash-checked."""
    wheel = (index / "files" / ALPHA).read_bytes()
    cfg = Config(
        index, auth=(USER, SECRET), ranges=False, faults={f"/files/{ALPHA}": Fault("truncate", body=wheel, times=1)}
    )
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 0, run.err
    assert run.pip()["alpha"]["metadata_check"] == "sha256"
    assert_clean(run, env, locked=True)


def test_wrong_hash_without_range_is_rs403(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    idx = make_index(tmp_path / "idx-bad", {**real(BETA10, BETA11), ALPHA: ((FILES / ALPHA).read_bytes(), "ab" * 32)})
    with FaultServer(Config(idx, auth=(USER, SECRET), ranges=False)) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS403" in run.err
    assert_clean(run, env, locked=False)


def test_wrong_hash_with_range_is_unverified_then_rs403_when_verified(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    idx = make_index(tmp_path / "idx-bad", {**real(BETA10, BETA11), ALPHA: ((FILES / ALPHA).read_bytes(), "ab" * 32)})
    with FaultServer(Config(idx, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, with_creds(srv.url), name="ranged")
        # ranges cannot see the hash: the lock says so, package by package, and the metadata is the file's own
        assert run.rc == 0, run.err
        assert run.pip()["alpha"]["metadata_check"] == "unverified" and "LK107" in json.dumps(run.lock)
        assert run.pip()["beta"]["version"] == "1.1"
        assert_clean(run, env, locked=True)
        run = lock(env, capsys, with_creds(srv.url), "alpha\n", "--verify-hashes", name="verified")
    assert run.rc == 2 and "RS403" in run.err
    assert_clean(run, env, locked=False)


def test_slow_drip_hits_the_command_deadline(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("drip", body=b"<html>" * 400)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url), "alpha\n", "--timeout", "1")
    assert run.rc == 2 and "RS410" in run.err
    assert run.seconds < 3
    assert_clean(run, env, locked=False)


def test_slow_drip_hits_the_request_deadline(
    env: Path, index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(envresolve.net, "REQUEST_TIMEOUT", 1.0)
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("drip", body=b"<html>" * 400)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS410" in run.err and "request deadline" in run.err
    assert run.seconds < 3
    assert_clean(run, env, locked=False)


def test_redirect_loop_is_rs412_and_not_retried(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("redirect-loop")})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS412" in run.err
    assert cfg.hits("/simple/alpha/") == 10
    assert_clean(run, env, locked=False)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refused_is_rs402(env: Path, index: Path, capsys: pytest.CaptureFixture[str], status: int) -> None:
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("status", status=status)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS402" in run.err and f"HTTP {status}" in run.err
    assert_clean(run, env, locked=False)


def test_no_credentials_is_rs402_naming_netrc(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FaultServer(Config(index, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, srv.url + "/simple/")
    assert run.rc == 2 and "RS402" in run.err and "netrc" in run.err
    assert_clean(run, env, locked=False)


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "until-close"])
def test_huge_page_is_capped_and_fetched_once(
    env: Path, index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, announce: bool
) -> None:
    monkeypatch.setattr(envresolve.net, "MAX_PAGE_BYTES", 256 << 10)
    fault = Fault("huge", size=8 << 20, announce=announce)
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": fault})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS411" in run.err
    assert cfg.hits("/simple/alpha/") == 1  # not retried, not fetched again for the diagnostics
    assert not list((env / "cache").rglob("*.http")) or all(
        p.stat().st_size < 256 << 10 for p in (env / "cache").rglob("*.http")
    )
    assert_clean(run, env, locked=False)


def test_garbage_page_is_rs206(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = bytes(range(256)) * 8
    cfg = Config(index, auth=(USER, SECRET), faults={"/simple/alpha/": Fault("body", body=garbage)})
    with FaultServer(cfg) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS206" in run.err and "RS209" not in run.err
    assert_clean(run, env, locked=False)


def test_cross_index_cache_poisoning_does_not_reach_the_real_index(
    env: Path, tmp_path: Path, index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Index A serves a forged alpha 1.0 (pinning beta==1.0) under the real alpha's sha256, with Range support.

    A later lock against the real index, sharing the cache, must read the real metadata (beta 1.1).
    """
    real_sha = _sha((FILES / ALPHA).read_bytes())
    evil = make_index(
        tmp_path / "idx-evil", {**real(BETA10, BETA11), ALPHA: (forged_wheel("alpha", "1.0", ["beta==1.0"]), real_sha)}
    )
    with FaultServer(Config(evil, auth=(USER, SECRET))) as srv:
        first = lock(env, capsys, with_creds(srv.url), name="evil")
    assert first.rc == 0 and first.pip()["beta"]["version"] == "1.0"  # A's own lock is A's business...
    assert first.pip()["alpha"]["metadata_check"] == "unverified"  # ...and says it is unverified
    with FaultServer(Config(index, auth=(USER, SECRET))) as srv:
        second = lock(env, capsys, with_creds(srv.url), name="real")
    assert second.rc == 0, second.err
    assert second.pip()["beta"]["version"] == "1.1"  # the real alpha's metadata: no downgrade
    assert_clean(second, env, locked=True)


def test_a_verified_record_refutes_a_claimed_sha256(
    env: Path, tmp_path: Path, index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real alpha was downloaded and verified once; index A lists beta 1.1 under alpha's sha256: RS403."""
    with FaultServer(Config(index, auth=(USER, SECRET), ranges=False)) as srv:
        first = lock(env, capsys, with_creds(srv.url), name="real")
    assert first.rc == 0 and first.pip()["alpha"]["metadata_check"] == "sha256"
    alpha_sha = _sha((FILES / ALPHA).read_bytes())
    evil = make_index(
        tmp_path / "idx-evil", {**real(ALPHA, BETA10), BETA11: ((FILES / BETA11).read_bytes(), alpha_sha)}
    )
    with FaultServer(Config(evil, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, with_creds(srv.url), "beta==1.1\n", name="evil")
    assert run.rc == 2 and "RS403" in run.err and "alpha 1.0" in run.err
    assert_clean(run, env, locked=False)


def test_metadata_of_another_project_is_rs413(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = make_index(tmp_path / "idx-evil", {**real(BETA10, BETA11), ALPHA: (forged_wheel("beta", "1.1", []), None)})
    with FaultServer(Config(evil, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 2 and "RS413" in run.err
    assert_clean(run, env, locked=False)


# -- one client: inspect authenticates as lock does -----------------------------------------------


def test_inspect_url_authenticates_from_netrc_like_lock(
    env: Path, index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = env / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {SECRET}\n")
    netrc.chmod(0o600)
    with FaultServer(Config(index, auth=(USER, SECRET))) as srv:
        url = f"{srv.url}/files/{ALPHA}"
        capsys.readouterr()
        assert main(["inspect", url, "--no-cache"]) == 2  # no netrc yet: refused, like lock
        refused = capsys.readouterr()
        assert "RS402" in refused.err and SECRET not in refused.err + refused.out
        monkeypatch.setenv("NETRC", str(netrc))
        assert main(["inspect", url, "--no-cache", "--format", "json"]) == 0
        shown = capsys.readouterr()
        report = json.loads(shown.out)["reports"][0]
        assert report["name"] == "alpha" and SECRET not in shown.out + shown.err
        run = lock(env, capsys, srv.url + "/simple/")
    assert run.rc == 0, run.err
    assert_clean(run, env, locked=True)
    auth = [h.get("authorization", "") for _p, s, h in srv.cfg.log if s in (200, 206)]
    assert auth and all(a.startswith("Basic ") for a in auth)


def test_inspect_url_obeys_timeout(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = (index / "files" / ALPHA).read_bytes()
    cfg = Config(index, ranges=False, faults={f"/files/{ALPHA}": Fault("drip", body=wheel)})
    with FaultServer(cfg) as srv:
        capsys.readouterr()
        t0 = time.monotonic()
        rc = main(["inspect", f"{srv.url}/files/{ALPHA}", "--no-cache", "--timeout", "1"])
        seconds = time.monotonic() - t0
    assert rc == 2 and "RS410" in capsys.readouterr().err
    assert seconds < 3


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon"])
def test_timeout_must_be_positive_seconds(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock", "x.txt", "--node", NODE, "--timeout", value]) == 2
    err = capsys.readouterr().err
    assert "GN104" in err and "seconds" in err


def test_a_cache_of_earlier_versions_is_not_trusted(env: Path, index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Earlier versions cached range-read METADATA under `sha256-<claimed>`; such a record is never believed."""
    real_sha = _sha((FILES / ALPHA).read_bytes())
    for legacy in (
        env / "cache" / "metadata" / ("sha256-" + real_sha)[:9] / f"sha256-{real_sha}.METADATA",
        env / "cache" / "metadata" / f"sha256-{real_sha}.json",
    ):
        legacy.parent.mkdir(parents=True, exist_ok=True)
        legacy.write_text("Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\nRequires-Dist: beta==1.0\n")
    with FaultServer(Config(index, auth=(USER, SECRET))) as srv:
        run = lock(env, capsys, with_creds(srv.url))
    assert run.rc == 0, run.err
    assert run.pip()["beta"]["version"] == "1.1"
