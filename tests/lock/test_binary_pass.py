"""Binary facts in the single pass: `lock` reads the wheels it chooses, by ranges, with no earlier `inspect`.

The index is served over loopback HTTP with Range support (`tests/net/faultserver.py`); its wheels wrap real
ELF objects built with the gcc here (`tests/fixtures/elf/build.sh`): `libcvwait.so` needs GLIBCXX_3.4.30,
`libcxx11.so` GLIBCXX_3.4.21. Each object is followed by incompressible padding, so the wheel is larger than the
tail read and a small budget reads the object by its first bytes only. The node (`t4-driver550`, RHEL 8) has
libstdc++ up to GLIBCXX_3.4.25.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import re
import struct
import zipfile
from pathlib import Path

import pytest

import envresolve.net
import envresolve.orchestrate
from envresolve.binary.budgeted import parse_budget
from envresolve.binary.elfhead import elf_hash, read_version_needs
from envresolve.binary.ranged import budgeted_wheel_report
from envresolve.cli import main
from envresolve.net import HttpClient
from tests.net.faultserver import Config, FaultServer

ELF = Path(__file__).resolve().parents[1] / "fixtures" / "elf" / "bin"
NODE = "t4-driver550"
NEW, OLD = "fastcv-2.0-cp311-cp311-manylinux_2_17_x86_64.whl", "fastcv-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
PAD = 700 << 10


def wheel(version: str, lib: str | bytes) -> bytes:
    """A wheel holding a real shared object (plus padding behind its end, which no loader reads)."""
    elf = (ELF / lib).read_bytes() if isinstance(lib, str) else lib
    pad = random.Random(version).randbytes(PAD)
    meta = f"Metadata-Version: 2.1\nName: fastcv\nVersion: {version}\nRequires-Python: >=3.8\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("fastcv/__init__.py", "")
        zf.writestr("fastcv/_cv.so", elf + pad)
        zf.writestr(f"fastcv-{version}.dist-info/METADATA", meta)
        zf.writestr(
            f"fastcv-{version}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_17_x86_64\n",
        )
        zf.writestr(f"fastcv-{version}.dist-info/RECORD", "")
    return buf.getvalue()


def make_index(root: Path, files: dict[str, bytes]) -> Path:
    (root / "files").mkdir(parents=True)
    (root / "simple" / "fastcv").mkdir(parents=True)
    links = []
    for name, data in files.items():
        (root / "files" / name).write_bytes(data)
        links.append(f'<a href="../../files/{name}#sha256={hashlib.sha256(data).hexdigest()}">{name}</a>')
    page = "<html><body>\n" + "<br/>\n".join(links) + "\n</body></html>"
    (root / "simple" / "fastcv" / "index.html").write_text(page)
    return root


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVRESOLVE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setattr(envresolve.net, "BACKOFF", 0.01)
    return tmp_path


def run_lock(tmp: Path, capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> tuple[int, dict[str, object]]:
    spec = tmp / "requirements.txt"
    spec.write_text("fastcv\n")
    out = tmp / "envresolve.lock"
    out.unlink(missing_ok=True)
    argv = ["lock", str(spec), "--python", "3.11", "--node", NODE, "--index-url", url, "-o", str(out)]
    capsys.readouterr()
    rc = main([*argv, "--format", "json", "--explain", *extra])
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return rc, doc


def _codes(doc: object) -> set[str]:
    return set(re.findall(r'"code": "([A-Z]{2}\d{3})"', json.dumps(doc)))


def _ranges(cfg: Config) -> list[str]:
    return [h.get("range", "") for p, _s, h in cfg.log if p.endswith(".whl")]


@pytest.mark.parametrize("budget", ["8M", "400k"])
def test_lock_reads_glibcxx_needs_and_fails_cp121(env: Path, capsys: pytest.CaptureFixture[str], budget: str) -> None:
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so")})
    cfg = Config(root=root)
    with FaultServer(cfg) as srv:
        rc, doc = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", budget)
    assert rc == 1
    assert "CP121" in _codes(doc)
    assert "GLIBCXX_3.4.30" in json.dumps(doc)
    ranges = _ranges(cfg)
    assert ranges and all(r.startswith("bytes=") for r in ranges)  # never the whole file
    assert not (env / "envresolve.lock").exists()


def test_lock_backtracks_to_the_release_that_runs(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so"), OLD: wheel("1.0", "libcxx11.so")})
    cfg = Config(root=root)
    with FaultServer(cfg) as srv:
        rc, doc = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", "400k")
        assert rc == 0, doc
        lock = json.loads((env / "envresolve.lock").read_text())
        (row,) = lock["pip"]
        assert row["version"] == "1.0"
        assert row["verdict"]["basis"] == "binary" and row["verdict"]["status"] == "compatible"
        assert row["binary"]["max_glibcxx"] == "3.4.21"
        assert "LK104" not in _codes(lock)
        why = json.dumps(doc.get("why_not", []))
        assert "2.0" in why and "CP121" in why
        # what the lock recorded is what check judges: no new error on the node it was made for
        capsys.readouterr()
        assert main(["check", str(env / "envresolve.lock"), "--node", NODE]) == 0
        # offline: the cached facts decide the same way, with no request at all
        served = len(cfg.log)
        rc2, _doc2 = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", "400k", "--offline")
        assert rc2 == 0 and len(cfg.log) == served
        assert json.loads((env / "envresolve.lock").read_text())["pip"][0]["version"] == "1.0"


def test_offline_without_cached_facts_is_not_an_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Offline and never read: the facts are unknown, and unknown is never an error."""
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so")})
    with FaultServer(Config(root=root)) as srv:
        # index pages cached first with binary facts off (no wheel bytes read)
        rc, _ = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", "0")
    assert rc == 0  # budget 0: nothing read, nothing known
    rc, doc = run_lock(env, capsys, f"{srv.url}/simple", "--offline")
    assert rc == 0 and "CP121" not in _codes(doc)


def test_budget_small_reads_prefix_and_drops_device_code(env: Path) -> None:
    data = wheel("2.0", "libcvwait.so")
    root = make_index(env / "index", {NEW: data})
    cfg = Config(root=root)
    client = HttpClient(cache_dir=None, progress=False)
    with FaultServer(cfg) as srv:
        report = budgeted_wheel_report(f"{srv.url}/files/{NEW}", client=client, budget=400 << 10)
    client.close()
    assert report is not None
    assert report.sha256 is None  # nothing hashed the whole file
    assert report.max_glibcxx == "3.4.30" and report.device_code == "beyond-budget"
    note = next(d for d in report.diagnostics if d.code == "BN550")
    assert "1 by their first bytes" in note.message
    served = sum(int(m.group(2)) - int(m.group(1)) + 1 for m in map(_span, _ranges(cfg)) if m)
    assert served <= 400 << 10 and served < len(data) // 2


def _span(r: str) -> re.Match[str] | None:
    return re.fullmatch(r"bytes=(\d+)-(\d+)", r)


def test_prefix_reader_proves_version_needs_like_the_whole_reader() -> None:
    from envresolve.binary.elf import read_elf_file

    # liblld.so: LLD's layout (every verneed record, then every auxiliary); libsingle.so: one record in all
    for lib in ("libcvwait.so", "libcxx11.so", "libplain.so.1", "libcuda_mixed.so", "liblld.so", "libsingle.so"):
        data = (ELF / lib).read_bytes()
        head = read_version_needs(data, path=lib)
        full, _ = read_elf_file(ELF / lib)
        assert head is not None and full is not None
        assert {k: set(v) for k, v in head["version_needs"].items()} == {
            k: set(v) for k, v in full.version_needs.items()
        }
        assert set(head["needed"]) <= set(full.needed)


def test_prefix_reader_resumes_after_a_shorter_prefix_and_finds_a_table_it_cut() -> None:
    """Each longer prefix is searched from a little before the shorter one's end: a table that prefix cut in two
    is found whole, and one lying wholly before it is not searched for again."""
    data = (ELF / "libcvwait.so").read_bytes()
    whole = read_version_needs(data, path="x")
    at = data.find(struct.pack("<I", elf_hash(b"GLIBC_2.2.5")))
    assert whole is not None and at > 0
    cut = at + 4  # the table's first record with a known hash ends just past the shorter prefix
    assert read_version_needs(data[:cut], path="x") is None
    assert read_version_needs(data, path="x", searched=cut) == whole
    assert read_version_needs(data, path="x", searched=len(data) + (1 << 20)) is None  # searched in vain already


def test_quick_search_looks_for_the_base_glibc_record_only() -> None:
    """A quick pass finds the table by the record every x86_64 object needs (GLIBC_2.2.5); without that record
    only the full pass, run once the whole first segment is read, finds it by the other names."""
    data = (ELF / "libcvwait.so").read_bytes()
    assert read_version_needs(data, path="x", quick=True) == read_version_needs(data, path="x")
    edited = bytearray(data)
    at = edited.find(struct.pack("<I", elf_hash(b"GLIBC_2.2.5")))
    edited[at : at + 4] = b"\xff\xff\xff\x0f"  # a hash no known name has
    assert read_version_needs(edited, path="x", quick=True) is None
    full = read_version_needs(edited, path="x")
    assert full is not None and "GLIBCXX_3.4.30" in full["version_needs"]["libstdc++.so.6"]


def test_prefix_reader_reads_records_by_hash_when_the_strings_are_out_of_reach() -> None:
    """As after patchelf (auditwheel): `.dynstr` moved to the end, the records stay; here its strings are erased."""
    data = bytearray((ELF / "libcvwait.so").read_bytes())
    for name in (b"GLIBCXX_3.4.30", b"GLIBCXX_3.4.11", b"GLIBC_2.2.5", b"CXXABI_1.3", b"GCC_3.0", b"libstdc++"):
        at = data.find(name + b"\x00")
        data[at : at + len(name)] = b"x" * len(name)
    head = read_version_needs(bytes(data), path="x")
    assert head is not None and head["needed"] == ()  # library names are not read by hash
    assert head["version_needs"]["libstdc++.so.6"] == ("CXXABI_1.3", "GLIBCXX_3.4.11", "GLIBCXX_3.4.30")
    assert head["version_needs"]["glibc"] == ("GLIBC_2.2.5",)


def test_lld_layout_and_a_single_record_are_read_by_hash_only_when_two_records_agree() -> None:
    """Without their strings, LLD's three records (all GLIBC_2.2.5) still prove the table; one record alone
    (libsingle.so) does not: four bytes of a hash prove nothing."""
    for lib, expect in (("liblld.so", {"glibc": ("GLIBC_2.2.5",)}), ("libsingle.so", None)):
        data = bytearray((ELF / lib).read_bytes())
        for name in (b"GLIBC_2.2.5", b"libc.so.6", b"libm.so.6", b"libdl.so.2"):
            at = data.find(name + b"\x00")
            if at >= 0:
                data[at : at + len(name)] = b"x" * len(name)
        head = read_version_needs(bytes(data), path=lib)
        assert (head["version_needs"] if head else None) == expect, lib


def test_prefix_reader_refuses_what_it_cannot_prove() -> None:
    data = bytearray((ELF / "libcvwait.so").read_bytes())
    i = data.find(b"GLIBCXX_3.4.30\x00")
    data[i : i + 14] = b"GLIBCXX_3.4.99"  # the string no longer hashes to its record's vna_hash
    head = read_version_needs(bytes(data), path="x")
    assert head is not None and "GLIBCXX_3.4.99" not in str(head)  # read by the hash: what the linker recorded
    assert "GLIBCXX_3.4.30" in str(head)
    # records whose hashes name nothing known, and no readable strings: nothing is claimed
    data = bytearray((ELF / "libcvwait.so").read_bytes())
    for name in (b"GLIBCXX_3.4.30", b"GLIBCXX_3.4.11", b"GLIBC_2.2.5", b"CXXABI_1.3", b"GCC_3.0"):
        at = data.find(struct.pack("<I", elf_hash(name)))
        data[at : at + 4] = b"\xff\xff\xff\x0f"
        at = data.find(name + b"\x00")
        data[at : at + len(name)] = b"x" * len(name)
    assert read_version_needs(bytes(data), path="x") is None
    assert read_version_needs(b"\x7fELF" + bytes(100), path="x") is None
    assert read_version_needs(b"not an elf" * 10, path="x") is None
    assert elf_hash(b"GLIBC_2.2.5") == 0x09691A75  # as objdump -p prints it


def test_parse_budget() -> None:
    assert parse_budget("8M") == 8 << 20 and parse_budget("512k") == 512 << 10 and parse_budget("0") == 0
    assert parse_budget("1GiB") == 1 << 30
    with pytest.raises(ValueError, match="could not convert"):
        parse_budget("lots")


@pytest.mark.parametrize("via", ["url", "find-links page"])
def test_lint_reads_a_remote_wheel_unless_offline(env: Path, capsys: pytest.CaptureFixture[str], via: str) -> None:
    """A wheel named by URL, or the pinned wheel a find-links page on a server links to (PyG-style `-f` pages):
    lint reads it within the budget (the page through the HTTP cache); offline with nothing cached, nothing."""
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so"), OLD: wheel("1.0", "libcxx11.so")})
    cfg = Config(root=root)
    spec = env / "requirements.txt"
    with FaultServer(cfg) as srv:
        page = f"--find-links {srv.url}/simple/fastcv/\nfastcv=="
        spec.write_text(f"fastcv @ {srv.url}/files/{NEW}\n" if via == "url" else page + "2.0\n")
        capsys.readouterr()
        assert main(["lint", str(spec), "--node", NODE, "--offline", "--format", "json"]) == 0
        assert "CP121" not in capsys.readouterr().out and not cfg.log
        assert main(["lint", str(spec), "--node", NODE, "--format", "json"]) == 1
        out = capsys.readouterr().out
        assert "CP121" in out and "GLIBCXX_3.4.30" in out
        assert _ranges(cfg) and all(r.startswith("bytes=") for r in _ranges(cfg))
        if via != "url":
            spec.write_text(page + "1.0\n")
            assert main(["lint", str(spec), "--node", NODE, "--format", "json"]) == 0


def test_lint_reads_the_find_links_wheel_of_a_pin_even_offline(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--find-links ./wheels` with `fastcv==2.0`: lint reads that local wheel (a file here, so offline too) and
    judges its GLIBCXX need; with two Pythons' wheels the spec's Python picks one, with none nothing is claimed."""
    links = env / "wheels"
    links.mkdir()
    (links / NEW).write_bytes(wheel("2.0", "libcvwait.so"))
    (links / OLD).write_bytes(wheel("1.0", "libcxx11.so"))
    spec = env / "requirements.txt"
    capsys.readouterr()
    for pin, rc in (("fastcv==2.0", 1), ("fastcv==1.0", 0), ("fastcv==3.0", 0)):
        spec.write_text(f"--find-links wheels\n{pin}\n")
        assert main(["lint", str(spec), "--node", NODE, "--offline", "--format", "json"]) == rc, pin
        out = capsys.readouterr().out
        assert ("CP121" in out and "GLIBCXX_3.4.30" in out) is (rc == 1), out
    # a macOS wheel of the same release is not a candidate for a Linux node: the Linux wheel is still judged
    (links / NEW.replace("manylinux_2_17_x86_64", "macosx_11_0_arm64")).write_bytes(wheel("2.0", "libcxx11.so"))
    spec.write_text("--find-links wheels\nfastcv==2.0\n")
    assert main(["lint", str(spec), "--node", NODE, "--offline", "--format", "json"]) == 1
    assert "CP121" in capsys.readouterr().out
    (links / NEW.replace("cp311", "cp312")).write_bytes(wheel("2.0", "libcxx11.so"))
    assert main(["lint", str(spec), "--node", NODE, "--offline", "--format", "json"]) == 0  # which one: unknown
    env_yml = env / "environment.yml"
    env_yml.write_text("dependencies:\n- python=3.11\n- pip\n- pip:\n  - --find-links wheels\n  - fastcv==2.0\n")
    assert main(["lint", str(env_yml), "--node", NODE, "--offline", "--format", "json"]) == 1  # cp311 decides
    assert "CP121" in capsys.readouterr().out


def test_small_wheels_are_fetched_whole_hashed_and_their_metadata_verified(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = wheel("1.0", "libcxx11.so")
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so"), OLD: old})
    cfg = Config(root=root)
    with FaultServer(cfg) as srv:
        rc, doc = run_lock(env, capsys, f"{srv.url}/simple")  # the default budget holds the whole wheel
    assert rc == 0, doc
    (row,) = json.loads((env / "envresolve.lock").read_text())["pip"]
    assert row["version"] == "1.0" and row["metadata_check"] == "sha256"
    assert row["binary"]["sha256"] == hashlib.sha256(old).hexdigest()  # hashed here, not the index's claim
    assert row["binary"]["device_code"] == "read"


def test_a_wheel_that_is_not_what_the_index_announced_has_no_facts(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so")})
    page = root / "simple" / "fastcv" / "index.html"
    page.write_text(re.sub(r"sha256=[0-9a-f]{64}", "sha256=" + "0" * 64, page.read_text()))
    with FaultServer(Config(root=root)) as srv:
        rc, doc = run_lock(env, capsys, f"{srv.url}/simple")
    assert "CP121" not in _codes(doc)  # never judged by bytes that are not the announced file
    assert "BN551" in _codes(doc) or rc != 0


def test_prefix_reader_is_bounded_on_hostile_data() -> None:
    """Records that look right everywhere (vn_version 1, vn_aux 16, the hash of GLIBC_2.2.5 in every slot)."""
    import time

    rec = struct.pack("<HHIII", 1, 64, 0, 16, 16 + 16 * 64)
    aux = struct.pack("<IHHII", elf_hash(b"GLIBC_2.2.5"), 0, 2, 0, 16)
    data = (b"\x7fELF\x02\x01" + bytes(58) + (rec + aux * 64) * 2000)[: 4 << 20]
    t0 = time.process_time()
    assert read_version_needs(data, path="hostile") is None
    assert time.process_time() - t0 < 5


def test_progress_is_shown_on_a_terminal_only(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from envresolve.binary.budgeted import WheelFacts

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = make_index(env / "index", {NEW: wheel("2.0", "libcvwait.so")})
    for stream, shown in ((Tty(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        client = HttpClient(cache_dir=None, progress=False)
        facts = WheelFacts(client, budget=400 << 10)
        with FaultServer(Config(root=root)) as srv:
            info = type("Info", (), {"name": "fastcv", "version": "2.0", "filename": NEW, "sha256": None})()
            info.url = f"{srv.url}/files/{NEW}"
            assert facts(info) is not None
        facts.close()
        client.close()
        assert ("reading fastcv-2.0" in stream.getvalue()) is shown


def test_close_waits_for_a_read_in_flight_then_removes_the_whole_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """A speculative read may still be writing a whole wheel into the kept directory when the search ends:
    `close` waits for it before removing the directory, and a read asked for after `close` reads nothing."""
    import threading
    import time

    from envresolve.binary import budgeted, ranged

    started, release = threading.Event(), threading.Event()
    kept: list[str] = []

    def slow_read(url: str, **kw: object) -> None:
        kept.append(str(kw["keep"]))
        started.set()
        release.wait(10)
        Path(str(kw["keep"]), "part.whl").write_bytes(b"x")  # still writing when close is called

    monkeypatch.setattr(ranged, "budgeted_wheel_report", slow_read)
    facts = budgeted.WheelFacts(HttpClient(cache_dir=None, progress=False), budget=1 << 20)
    info = type("Info", (), {"name": "fastcv", "version": "2.0", "filename": NEW, "sha256": None})()
    info.url = "https://example.invalid/files/" + NEW
    reader = threading.Thread(target=facts, args=(info,))
    reader.start()
    assert started.wait(10)
    closer = threading.Thread(target=facts.close)
    closer.start()
    time.sleep(0.2)
    assert closer.is_alive()  # waiting for the read
    release.set()
    closer.join(10)
    reader.join(10)
    assert not closer.is_alive() and not Path(kept[0]).exists()
    other = type("Info", (), {"name": "fastcv", "version": "2.1", "filename": NEW.replace("2.0", "2.1")})()
    other.sha256, other.url = None, info.url.replace("2.0", "2.1")
    assert facts(other) is None and len(kept) == 1


@pytest.mark.parametrize("keep_string", [False, True])
def test_prefix_without_the_base_glibc_record_gets_one_full_search(env: Path, keep_string: bool) -> None:
    """No GLIBC_2.2.5 record in reach: when its name is not in the strings either, the object does not need it
    and every known name is looked for once (GLIBCXX_3.4.30 found); when the name is there, the table that
    holds that record is not in reach, and nothing is claimed."""
    data = bytearray((ELF / "libcvwait.so").read_bytes())
    at = data.find(struct.pack("<I", elf_hash(b"GLIBC_2.2.5")))
    data[at : at + 4] = b"\xff\xff\xff\x0f"
    if not keep_string:
        at = data.find(b"GLIBC_2.2.5\x00")
        data[at : at + 11] = b"x" * 11
    root = make_index(env / "index", {NEW: wheel("2.0", bytes(data))})
    client = HttpClient(cache_dir=None, progress=False)
    with FaultServer(Config(root=root)) as srv:
        report = budgeted_wheel_report(f"{srv.url}/files/{NEW}", client=client, budget=400 << 10)
    client.close()
    assert report is not None and report.device_code == "beyond-budget"
    assert report.max_glibcxx == (None if keep_string else "3.4.30")


def test_a_pre_release_is_not_read_ahead(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The walk ahead of the resolver takes pre-releases as pip does: not while a final release qualifies, so no
    byte of the newer 2.1rc1 is fetched (nor its metadata) for a plain `fastcv` requirement."""
    rc1 = NEW.replace("2.0", "2.1rc1")
    root = make_index(env / "index", {rc1: wheel("2.1rc1", "libcxx11.so"), NEW: wheel("2.0", "libcxx11.so")})
    cfg = Config(root=root)
    with FaultServer(cfg) as srv:
        rc, _doc = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", "400k")
    assert rc == 0
    assert json.loads((env / "envresolve.lock").read_text())["pip"][0]["version"] == "2.0"
    assert not [p for p, _s, _h in cfg.log if "2.1rc1" in p]


def test_a_measured_wheel_is_not_read_and_its_row_decides(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel whose sha256 has a row in the measured table was measured whole: the lock reads none of its bytes,
    the row's GLIBCXX need rules it out (CP121), the lock backtracks, and the verdict it records says "measured"."""
    import datetime

    from envresolve.matrices import measured

    new, old = wheel("2.0", "libcvwait.so"), wheel("1.0", "libcxx11.so")
    root = make_index(env / "index", {NEW: new, OLD: old})

    def row(data: bytes, file: str, version: str, glibcxx: str) -> measured.MeasuredWheel:
        return measured.MeasuredWheel(
            source="envresolve-inspect",
            sha256=hashlib.sha256(data).hexdigest(),
            file=file,
            name="fastcv",
            version=version,
            tag="cp311-cp311-manylinux_2_17_x86_64",
            size=len(data),
            measured=datetime.date(2026, 12, 6),
            elf_files=1,
            glibc="2.17",
            glibcxx=glibcxx,
            cxx11_abi="cxx11",
        )

    rows = {r.sha256: r for r in (row(new, NEW, "2.0", "3.4.30"), row(old, OLD, "1.0", "3.4.21"))}
    monkeypatch.setattr(measured, "measured_by_sha256", lambda sha: rows.get(sha.lower()))
    monkeypatch.setattr(envresolve.orchestrate, "measured_by_sha256", lambda sha: rows.get(sha.lower()))
    monkeypatch.setattr("envresolve.compat.measured.measured_by_sha256", lambda sha: rows.get(sha.lower()))
    cfg = Config(root=root)
    with FaultServer(cfg) as srv:
        rc, doc = run_lock(env, capsys, f"{srv.url}/simple", "--inspect-budget", "400k")
    assert rc == 0, doc
    (locked,) = json.loads((env / "envresolve.lock").read_text())["pip"]
    assert locked["version"] == "1.0" and locked["binary"] is None
    assert locked["verdict"] == {
        "status": "compatible",
        "basis": "measured",
        "reason": "binary facts measured on this very file (matrices/measured_wheels.yaml, by sha256) pass every rule",
        "codes": [],
    }
    assert "CP121" in json.dumps(doc.get("why_not", []))
    # metadata comes from the wheels' tails (no PEP 658 file here); none of the libraries' bytes is asked for
    assert all(not r.startswith("bytes=0-") and r != "" for r in _ranges(cfg))
    assert sum(int(m.group(2)) - int(m.group(1)) + 1 for m in map(_span, _ranges(cfg)) if m) < 200 << 10


def test_neighbouring_members_first_bytes_are_fetched_together_within_the_budget() -> None:
    """Members whose first reads lie close together share a request; a lone member gets none (its own read
    fetches it); nothing is grouped past what the budget covers."""
    from envresolve.binary.ranged import _first_windows
    from envresolve.binary.wheel import ZipMember

    def member(at: int, size: int) -> ZipMember:
        return ZipMember(f"m{at}.so", at, size, size * 3, 8, 0, at)

    near = [member(0, 10_000), member(11_100, 20_000), member(32_200, 5_000)]  # 1 kB local header room each
    far = member(5_000_000, 10_000)
    assert _first_windows([far, *near], 1 << 30) == [(0, 32_200 + 5_000 + 1024)]
    assert _first_windows([*near, far], 35_000) == [(0, 11_100 + 20_000 + 1024)]  # the third does not fit
    assert _first_windows([*near, far], 20_000) == []  # the second does not fit: no group of two
