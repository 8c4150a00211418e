"""Wheel file names are parsed by `packaging` in inspection and resolution alike; invalid names are skipped."""

from __future__ import annotations

from pathlib import Path

from envresolve.binary import inspect
from envresolve.binary.wheel import parse_wheel_filename
from envresolve.solve.pip.index import parse_html_page
from tests.fixtures.archives import build

INVALID = [
    "foo-notaversion-py3-none-any.whl",  # not a PEP 440 version
    "foo__bar-1.0-py3-none-any.whl",  # a double underscore is not an escaped project name
    "foo-1.0-build-py3-none-any.whl",  # a build tag starts with a digit
    "foo-1.0-py3-none.whl",  # too few parts
    "foo-1.0-py3-none-any.tar.gz",
]


def test_invalid_names_are_none_and_compressed_tags_stay_as_written() -> None:
    for name in INVALID:
        assert parse_wheel_filename(name) is None, name
    got = parse_wheel_filename(
        "https://host/x/Foo_Bar-1.0-2b-cp39.cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    )
    assert got == {
        "name": "Foo_Bar", "version": "1.0", "build": "2b", "py": "cp39.cp310", "abi": "abi3",
        "plat": "manylinux2014_x86_64.manylinux_2_17_x86_64",
    }  # fmt: skip


def test_inspect_of_a_wheel_with_an_invalid_name_reads_its_tags_from_metadata(tmp_path: Path) -> None:
    w = build.demo_wheel(tmp_path, plat="manylinux_2_35_x86_64")
    renamed = w.rename(tmp_path / "demo-notaversion-py3-none-manylinux_2_5_x86_64.whl")
    r = inspect(renamed, cache=False)
    assert r.kind == "wheel" and r.platform_tag == "manylinux_2_35_x86_64" and r.name is None


def test_index_pages_skip_invalid_wheel_names() -> None:
    links = [*INVALID[:3], "foo-1.0-py3-none-any.whl", "foo-1.1-2-py3-none-any.whl"]
    body = "<html><body>" + "".join(f'<a href="{n}">{n}</a>' for n in links) + "</body></html>"
    files = parse_html_page(body.encode(), "http://127.0.0.1/simple/foo/", "idx")
    assert [(f.filename, str(f.version), sorted(f.tags)) for f in files] == [
        ("foo-1.0-py3-none-any.whl", "1.0", ["py3-none-any"]),
        ("foo-1.1-2-py3-none-any.whl", "1.1", ["py3-none-any"]),
    ]
