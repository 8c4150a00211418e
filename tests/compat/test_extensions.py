"""Extensions built against torch, judged from their names: CP200 (cxx11 ABI), CP201 (torch minor), CP202 (CUDA
major), in the rule itself, in lint (offline, names only) and in lock (names and metadata from a local index)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from envresolve.compat import Environment, Package, check_extensions, evaluate
from envresolve.diagnostics import Severity
from envresolve.node import load_node
from envresolve.orchestrate import ResolveSettings, resolve
from envresolve.specs import lint, load_spec

FA_TRUE = "flash_attn-2.5.8+cu122torch2.3cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
FA_FALSE = "flash_attn-2.5.8+cu122torch2.3cxx11abiFALSE-cp311-cp311-linux_x86_64.whl"
RELEASES = "https://github.com/Dao-AILab/flash-attention/releases/download/v2.5.8/"


def _env(torch: str, *others: tuple[str, str, str | None]) -> Environment:
    pkgs = [Package(name="torch", version=torch, ecosystem="pypi")]
    pkgs += [Package(name=n, version=v, ecosystem="pypi", url=u) for n, v, u in others]
    return Environment(packages=tuple(pkgs))


def _codes(env: Environment) -> list[tuple[str, Severity]]:
    return [(d.code, d.severity) for d in check_extensions(env)]


def test_cxx11_build_next_to_pre_cxx11_pypi_torch_is_an_error() -> None:
    env = _env("2.3.1", ("flash-attn", "2.5.8+cu122torch2.3cxx11abitrue", RELEASES + FA_TRUE))
    (diag,) = check_extensions(env)
    assert (diag.code, diag.severity) == ("CP200", Severity.ERROR)
    facts = [e.fact for e in diag.evidence]
    assert any("encoded in a name" in f for f in facts) and any("pre-cxx11" in f for f in facts)
    assert all(e.source for e in diag.evidence)
    # the matching build, and a torch whose PyPI wheels are cxx11 (2.7), are fine
    assert _codes(_env("2.3.1", ("flash-attn", "2.5.8+cu122torch2.3cxx11abifalse", RELEASES + FA_FALSE))) == []
    env27 = _env("2.7.1", ("flash-attn", "2.8.0+cu12torch2.7cxx11abitrue", None))
    assert _codes(env27) == []


def test_the_engine_runs_the_rule() -> None:
    env = _env("2.3.1", ("flash-attn", "2.5.8+cu122torch2.3cxx11abitrue", RELEASES + FA_TRUE))
    assert "CP200" in [d.code for d in evaluate(env, load_node("a100-driver535"))]


def test_torch_minor_mismatch_is_an_error_when_the_binding_is_confirmed() -> None:
    env = _env("2.4.1", ("flash-attn", "2.6.3+cu123torch2.3cxx11abifalse", None))
    assert _codes(env) == [("CP201", Severity.ERROR)]
    # the PyG binding is marked unsure in matrices/names.yaml: a warning, never an error
    pyg = _env("2.4.1", ("torch-scatter", "2.1.2+pt23cu121", None))
    assert _codes(pyg) == [("CP201", Severity.WARNING)]


def test_cuda_major_mismatch_is_a_warning() -> None:
    env = _env("2.1.2+cu118", ("torch-scatter", "2.1.2+pt21cu121", None))
    assert _codes(env) == [("CP202", Severity.WARNING)]


@pytest.mark.parametrize(
    "other",
    [
        ("flash-attn", "2.5.8", None),  # no label: nothing known
        ("somepkg", "1.0+cu122torch2.3cxx11abitrue", None),  # a convention of another project
        ("xformers", "0.0.27+cu121", None),  # CUDA only, same major as torch 2.4's default
        ("flash-attn", "2.5.8+cu122torch2.4cxx11abifalse", None),  # all facts agree
    ],
)
def test_unknown_or_agreeing_facts_give_nothing(other: tuple[str, str, str | None]) -> None:
    assert _codes(_env("2.4.1", other)) == []


def test_torch_of_unknown_build_gives_nothing() -> None:
    env = _env("2.3.1+rocm6.0", ("flash-attn", "2.5.8+cu122torch2.3cxx11abitrue", None))
    assert _codes(env) == []


def test_lint_reports_it_from_the_name_alone(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text(f"torch==2.3.1\nflash-attn @ {RELEASES}{FA_TRUE}\n")
    errors = [d for d in lint([req]) if d.severity is Severity.ERROR]
    assert [(d.code, d.location.line if d.location else None) for d in errors] == [("CP200", 2)]
    # a variant index lint cannot decode leaves torch's build unknown: no verdict
    req.write_text(
        f"--extra-index-url https://mirror.example/whl/nightly/foo\ntorch==2.3.1\nflash-attn @ {RELEASES}{FA_TRUE}\n"
    )
    assert not [d for d in lint([req]) if d.code.startswith("CP2")]
    # torch 2.6 from the cu126 index is the cxx11 build: the cxx11 flash-attn pairs with it
    fa26 = "flash_attn-2.7.4.post1+cu12torch2.6cxx11abiTRUE-cp311-cp311-linux_x86_64.whl"
    req.write_text(f"--extra-index-url https://mirror.example/whl/cu126\ntorch==2.6.0\nflash-attn @ {RELEASES}{fa26}\n")
    assert not [d for d in lint([req]) if d.code.startswith("CP2")]
    req.write_text(f"torch==2.6.0\nflash-attn @ {RELEASES}{fa26}\n")  # PyPI's 2.6.0 is the pre-cxx11 cu124 build
    assert [d.code for d in lint([req]) if d.severity is Severity.ERROR] == ["CP200"]


def _page(root: Path, project: str, files: dict[str, str]) -> None:
    """A PEP 503 page for `project` listing wheels by name only, each with PEP 658 metadata next to it."""
    (root / "files").mkdir(parents=True, exist_ok=True)
    links = []
    for filename, metadata in files.items():
        data = metadata.encode()
        (root / "files" / f"{filename}.metadata").write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        fake = hashlib.sha256(filename.encode()).hexdigest()  # the wheels are not here; only names and metadata
        links.append(
            f'<a href="../../files/{filename}#sha256={fake}" data-requires-python="&gt;=3.8" '
            f'data-core-metadata="sha256={digest}">{filename}</a><br/>'
        )
    page = root / "simple" / project
    page.mkdir(parents=True)
    (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


def test_lock_reports_it_from_the_names_and_metadata_a_local_index_serves(tmp_path: Path) -> None:
    index = tmp_path / "index"
    # test metadata: the file names are the real release names; Requires-Dist is trimmed to torch alone
    _page(
        index,
        "torch",
        {"torch-2.3.1-cp311-cp311-manylinux1_x86_64.whl": "Metadata-Version: 2.1\nName: torch\nVersion: 2.3.1\n\n"},
    )
    meta = "Metadata-Version: 2.1\nName: flash-attn\nVersion: 2.5.8+cu122torch2.3cxx11abiTRUE\nRequires-Dist: torch\n\n"
    _page(index, "flash-attn", {FA_TRUE: meta})
    req = tmp_path / "requirements.txt"
    req.write_text("torch==2.3.1\nflash-attn==2.5.8+cu122torch2.3cxx11abiTRUE\n")
    spec = load_spec(req)[0].model_copy(update={"python": "3.11"})
    settings = ResolveSettings(
        index_urls=((index / "simple").as_uri(),), notebook_packages=False, pip_cache_dir=str(tmp_path / "cache")
    )
    res = resolve(spec, [load_node("a100-driver535")], offline=True, settings=settings)
    cp200 = [d for d in res.diagnostics if d.code == "CP200"]
    assert cp200 and cp200[0].severity is Severity.ERROR and not res.ok
    assert "encoded in a name" in cp200[0].evidence[0].fact
