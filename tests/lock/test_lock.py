"""Lock model, deterministic writer, reader, schema and exports (checked by their own readers)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from envresolve.errors import InputError, InternalError
from envresolve.lock import Lock, dumps, loads, read, write
from envresolve.lock.export import to_explicit, to_pixi, to_pylock, to_requirements, write_export
from envresolve.lock.schema import SCHEMA_PATH, schema_text
from envresolve.orchestrate import Resolution
from envresolve.specs.model import EnvSpec
from tests.lock.conftest import demo_resolve

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def lock(two_gpu_resolution: Resolution) -> Lock:
    assert two_gpu_resolution.ok, two_gpu_resolution.diagnostics
    assert two_gpu_resolution.lock is not None
    return two_gpu_resolution.lock


def test_lock_content(lock: Lock) -> None:
    assert lock.created_by.startswith("envresolve ")
    assert len(lock.spec.digest) == 64
    assert [n.name for n in lock.nodes] == ["a100-driver535", "h100-driver580"]
    assert {vp.name for vp in lock.nodes[0].virtual_packages} >= {"__cuda", "__glibc"}
    assert lock.python and lock.python.startswith("3.12.")
    conda = {p.name: p for p in lock.conda}
    assert {"python", "cuda-version", "cuda-cudart", "numpy"} <= set(conda)
    for p in lock.conda:
        assert p.channel and p.subdir and p.url and p.build and (p.sha256 or p.md5)
        assert p.verdict.status in {"compatible", "incompatible", "not-inspected"} and p.verdict.reason
    pip = {p.name: p for p in lock.pip}
    assert pip["transformers"].version == "4.35.0"
    assert {"torch", "torchvision", "torchaudio"} <= set(pip)
    for q in lock.pip:
        assert q.url.endswith(q.filename) and q.sha256 and len(q.sha256) == 64
    # conda installed numpy: pip must not replace it
    assert "numpy" not in pip and conda["numpy"].version == "2.1.1"
    # the a100's driver (CUDA 12.2) rules out the CUDA 13 torch: the common lock takes the CUDA 12.8 one
    assert pip["torch"].version == "2.10.0"
    assert not any(q.name.endswith("-cu13") or q.name == "cuda-toolkit" for q in lock.pip)


def test_same_inputs_identical_bytes(demo_spec: EnvSpec, isolated_cache: Path, lock: Lock, tmp_path: Path) -> None:
    again = demo_resolve(demo_spec, isolated_cache, "a100-driver535", "h100-driver580")
    assert again.lock is not None
    write(lock, tmp_path / "a.lock")
    write(again.lock, tmp_path / "b.lock")
    assert (tmp_path / "a.lock").read_bytes() == (tmp_path / "b.lock").read_bytes()
    text = dumps(lock)
    assert text.endswith("\n") and json.loads(text)["lock-version"] == 1
    for fmt in ("pylock", "pixi", "explicit", "requirements"):
        write_export(lock, fmt, tmp_path / f"1.{fmt}")
        write_export(again.lock, fmt, tmp_path / f"2.{fmt}")
        assert (tmp_path / f"1.{fmt}").read_bytes() == (tmp_path / f"2.{fmt}").read_bytes(), fmt


def test_read_write_round_trip(lock: Lock, tmp_path: Path) -> None:
    write(lock, tmp_path / "x.lock")
    back = read(tmp_path / "x.lock")
    assert dumps(back) == dumps(lock)
    assert loads(dumps(lock)) == back


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"lock-version": 99}', '{"lock-version": 1, "created-by": "x"}'],
)
def test_bad_lock_is_lk102(text: str) -> None:
    with pytest.raises(InputError) as exc:
        loads(text)
    assert exc.value.code == "LK102"


def test_schema_in_sync_and_validates(lock: Lock) -> None:
    import jsonschema

    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run python -m envresolve.lock.schema"
    jsonschema.validate(json.loads(dumps(lock)), json.loads(schema_text()))


def test_docs_lockfile_md_embeds_current_schema_fields() -> None:
    doc = (SCHEMA_PATH.parents[1] / "lockfile.md").read_text(encoding="utf-8")
    for field in ("lock-version", "created-by", "spec", "nodes", "conda", "pip", "diagnostics", "verdict"):
        assert f"`{field}`" in doc, field


def test_pylock_validates_with_packaging(lock: Lock) -> None:
    from packaging.pylock import Pylock

    text, diags = to_pylock(lock)
    doc = Pylock.from_dict(tomllib.loads(text))
    doc.validate()
    assert {str(p.name) for p in doc.packages} == {q.name for q in lock.pip}
    assert [d.code for d in diags] == ["LK106"]  # conda packages are not expressible in pylock


def test_pylock_refuses_missing_hash(lock: Lock) -> None:
    broken = lock.model_copy(update={"pip": (lock.pip[0].model_copy(update={"sha256": None}),)})
    with pytest.raises(InternalError) as exc:
        to_pylock(broken)
    assert exc.value.code == "LK103"


def test_pixi_export_loads_with_rattler(lock: Lock, tmp_path: Path) -> None:
    from rattler import LockFile

    data, _ = to_pixi(lock)
    (tmp_path / "pixi.lock").write_bytes(data)
    back = LockFile.from_path(tmp_path / "pixi.lock")
    env = back.default_environment()
    assert env is not None
    platform = back.platforms()[0]
    records = env.conda_repodata_records_for_platform(platform) or []
    assert sorted(r.name.normalized for r in records) == sorted(p.name for p in lock.conda)
    pypi = env.pypi_packages_for_platform(platform) or []
    assert sorted(p.name for p in pypi) == sorted(q.name for q in lock.pip)


def test_explicit_export_reads_back(lock: Lock) -> None:
    from rattler.explicit_environment import ExplicitEnvironmentSpec

    text, _ = to_explicit(lock)
    assert "@EXPLICIT" in text.splitlines()
    spec = ExplicitEnvironmentSpec.from_str(text)
    assert len(spec.packages) == len(lock.conda)
    urls = [ln for ln in text.splitlines() if ln.startswith("file://")]
    assert all("#" in u for u in urls)
    # dependencies before dependents: python comes after libzlib, numpy after python
    order = [u.rsplit("/", 1)[1].split("-")[0] for u in urls]
    assert order.index("libzlib") < order.index("python") < order.index("numpy")


def test_requirements_export_has_hashes(lock: Lock) -> None:
    text, _ = to_requirements(lock)
    for q in lock.pip:
        assert f"{q.name}=={q.version} \\\n    --hash=sha256:{q.sha256}" in text
    assert "--index-url file://" in text


def test_credentials_never_reach_the_lock(lock: Lock) -> None:
    leaky = lock.model_copy(update={"channels": ("https://alice:s3cret@conda.example/private",)})
    text = dumps(leaky)
    assert "s3cret" not in text and "alice" not in text


def test_stale_lock_detected(lock: Lock, demo_spec: EnvSpec) -> None:
    from envresolve.lock import stale
    from envresolve.node import load_node
    from envresolve.specs.model import CondaDependency

    assert stale(lock, spec=demo_spec, nodes=[load_node("a100-driver535"), load_node("h100-driver580")]) == []
    edited = demo_spec.model_copy(
        update={"conda": (*demo_spec.conda, CondaDependency(name="zstd", spec="zstd", raw="zstd"))}
    )
    found = stale(lock, spec=edited, nodes=[load_node("v100-driver470")])
    assert [d.code for d in found] == ["LK101", "LK101"]
    assert found[1].node == "v100-driver470"
