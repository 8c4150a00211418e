"""pip requirements files with pip's syntax."""

from __future__ import annotations

from pathlib import Path

from envresolve.specs.requirements import RequirementsParser, parse_requirements_file


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_full_syntax(tmp_path: Path) -> None:
    _write(tmp_path, "sub/common.txt", "numpy<2  # inline comment\n")
    _write(tmp_path, "sub/constraints.txt", "scipy==1.13.1\n")
    (tmp_path / "pkg").mkdir()
    req = _write(
        tmp_path,
        "requirements.txt",
        "# a comment\n"
        "--index-url https://pypi.example.invalid/simple\n"
        "--extra-index-url https://torch-index.example.invalid/whl/cu121\n"
        "-f https://data.example.invalid/wheels/\n"
        "-r sub/common.txt\n"
        "-c sub/constraints.txt\n"
        "torch==2.3.1+cu121 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        'nvidia-cutlass-dsl==4.3.4; python_version >= "3.10"\n'
        "requests[socks]>=2.31\n"
        "detectron2 @ git+https://github.com/facebookresearch/detectron2.git@bcfd464\n"
        "git+https://github.com/NVIDIA/apex.git@abc#egg=apex\n"
        "https://files.example.invalid/pkgs/foo-1.0-py3-none-any.whl\n"
        "-e ./pkg\n"
        "-e git+https://github.com/CompVis/taming-transformers.git@master#egg=taming-transformers\n"
        "--extra-index-url https://${PIP_USER}:${PIP_TOKEN}@private.example.invalid/simple\n",
    )
    res = parse_requirements_file(req, env={"PIP_USER": "bob", "PIP_TOKEN": "t0k"})
    by_name = {r.name: r for r in res.pip}
    assert by_name["torch"].specifier == "==2.3.1+cu121"
    assert by_name["torch"].hashes == ("sha256:aaaa", "sha256:bbbb")
    assert by_name["torch"].location is not None and by_name["torch"].location.line == 7
    assert by_name["nvidia-cutlass-dsl"].marker == 'python_version >= "3.10"'
    assert by_name["requests"].extras == ("socks",)
    assert by_name["detectron2"].url and by_name["detectron2"].url.startswith("git+https://")
    assert by_name["apex"].url and by_name["apex"].editable is False
    assert by_name["foo"].url and by_name["foo"].url.endswith(".whl")
    assert by_name["pkg"].editable and by_name["taming-transformers"].editable
    assert by_name["numpy"].location is not None and by_name["numpy"].location.file.endswith("common.txt")
    assert by_name["scipy"].constraint is True
    kinds = [(i.kind, i.display) for i in res.indexes]
    assert kinds[:3] == [
        ("index-url", "https://pypi.example.invalid/simple"),
        ("extra-index-url", "https://torch-index.example.invalid/whl/cu121"),
        ("find-links", "https://data.example.invalid/wheels/"),
    ]
    private = res.indexes[3]
    assert private.has_credentials and "t0k" not in private.display
    assert private.url.get_secret_value() == "https://bob:t0k@private.example.invalid/simple"
    # credentials that come from ${VAR} are the safe way: no SP220
    assert [d.code for d in res.diagnostics] == []


def test_includes_missing_and_cycles(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", "-r b.txt\nnumpy\n")
    _write(tmp_path, "b.txt", "-r a.txt\n-c missing.txt\nscipy\n")
    res = parse_requirements_file(tmp_path / "a.txt")
    codes = sorted(d.code for d in res.diagnostics)
    assert codes == ["SP124", "SP125"]
    cycle = next(d for d in res.diagnostics if d.code == "SP125")
    assert cycle.location is not None and cycle.location.file.endswith("b.txt") and cycle.location.line == 1
    assert {r.name for r in res.pip} == {"numpy", "scipy"}


def test_clean_includes_pass(tmp_path: Path) -> None:
    _write(tmp_path, "a.txt", "-r b.txt\nnumpy\n")
    _write(tmp_path, "b.txt", "scipy\n")
    res = parse_requirements_file(tmp_path / "a.txt")
    assert res.diagnostics == []


def test_problems_are_reported_per_line(tmp_path: Path) -> None:
    req = _write(
        tmp_path,
        "requirements.txt",
        "torch=2.1.0\n--index https://x.example.invalid\n--extra-index-url https://u:p@x.example.invalid/s\n"
        "pkg @ https://u:secret@host.example.invalid/pkg.whl\n--extra-index-url http://plain.example.invalid/s\n"
        "-r https://example.invalid/remote.txt\n--extra-index-url https://${UNSET_VAR}@y.example.invalid/s\n",
    )
    res = parse_requirements_file(req, env={})
    got = [(d.code, d.location.line if d.location else None) for d in res.diagnostics]
    assert ("SP121", 1) in got
    assert ("SP122", 2) in got
    assert ("SP220", 3) in got and ("SP220", 4) in got
    assert ("SP221", 5) in got
    assert ("SP124", 6) in got
    assert ("SP123", 7) in got
    assert all("secret" not in d.message and ":p@" not in d.message for d in res.diagnostics)
    assert all("secret" not in r.requirement for r in res.pip)


def test_embedded_text_cannot_include_files() -> None:
    res = RequirementsParser(embedded=True).parse_text(
        "-r other.txt\n./local-pkg\nnumpy\n", file="m.yaml", base_dir=None
    )
    assert [d.code for d in res.diagnostics] == ["SP124", "SP124"]
