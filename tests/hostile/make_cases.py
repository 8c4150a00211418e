"""Builds the hostile-input cases (issue 12) into a directory at test time: every input format, every command.

Each case is one CLI invocation (or one library call, `api=`) on inputs written here, with what it must give:
the exit status and the diagnostic codes that must appear. `tests/hostile/runner.py` runs them; nothing binary
is committed. `python tests/hostile/make_cases.py DIR` writes the inputs and prints the case list.

Placeholders in argv: `{d}` the case's directory, `{out}` its output directory (must stay empty unless the
command succeeded), `{repo}` the repository root. Every case directory has a sibling `outside/` holding files
with `SECRET` in them; no output may ever contain it.
"""

from __future__ import annotations

import bz2
import io
import json
import os
import struct
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fixtures.archives import build as arch  # noqa: E402

SECRET = "HOSTILE-SECRET-c0ffee"
NODE = "h100-driver580"
INDEX = "{repo}/examples/index"
EXIT_OK, EXIT_FINDINGS, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 4
HANG = 4.0  # the kill timeout of CPU-bound cases that run away today; a fixed one answers in well under 1 s
FIFO_WAIT = 10.0  # FIFO cases block (no CPU): the runner runs them side by side, so waiting longer costs nothing


@dataclass(frozen=True)
class Case:
    """One hostile case: run `argv` (or the library call `api`) and expect `exit` and every code in `codes`."""

    id: str
    argv: tuple[str, ...]
    exit: int | tuple[int, ...]  # the exit status, or the statuses that are all acceptable
    codes: frozenset[str] = frozenset()
    api: str | None = None
    outputs: tuple[str, ...] = ()  # files under {out} that a successful run must write
    timeout: float = 20.0  # the runner kills the case after this (the budget is 60 s; every fixed case takes < 2 s)
    needs_code: bool = False  # a coded diagnostic must appear even when the exit status is 0


@dataclass
class Builder:
    root: Path
    dry: bool = False  # only list the cases (test collection): write nothing
    cases: list[Case] = field(default_factory=list)

    def dir(self, case_id: str) -> Path:
        d = self.root / "cases" / case_id
        (d / "out").mkdir(parents=True)
        return d

    def add(
        self,
        case_id: str,
        make: Callable[[Path], object] | None,
        argv: list[str],
        exit: int | tuple[int, ...],
        codes: set[str] | frozenset[str] = frozenset(),
        **kw: object,
    ) -> None:
        assert all(c.id != case_id for c in self.cases), case_id
        if not self.dry:
            d = self.dir(case_id)
            if make is not None:
                make(d)
        self.cases.append(Case(case_id, tuple(argv), exit, frozenset(codes), **kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- small helpers


def _w(name: str, data: bytes | str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)

    return make


def _fifo(name: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(p)

    return make


def _link(name: str, target: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)

    return make


def _mkdir(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir(parents=True)


def _all(*makes: Callable[[Path], object]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        for m in makes:
            m(d)

    return make


def _deep_json(n: int) -> str:
    return "[" * n + "]" * n


GARBAGE = bytes(range(256)) * 8 + b"\x00\xff\xfe" * 100
LATIN1 = "dependencies:\n  - caf\xe9\n".encode("latin-1")
UTF16 = "\ufeffdependencies:\n  - numpy\n".encode("utf-16-le")
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)
BIG_DIGITS = "9" * 100_000

# ---------------------------------------------------------------------------------------------- spec formats

VALID_REQ = "idna>=3\n"
VALID_ENV = "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n  - numpy\n"
VALID_PIXI = (
    '[workspace]\nname = "demo"\nchannels = ["conda-forge"]\nplatforms = ["linux-64"]\n\n'
    '[dependencies]\npython = "3.12.*"\nnumpy = "*"\n'
)


def _dataset(env: str, req: str = "") -> str:
    def block(text: str) -> str:
        return "".join(f"        {line}\n" for line in text.splitlines())

    out = (
        "apiVersion: dataset.baizeai.io/v1alpha1\nkind: Dataset\nmetadata:\n  name: demo\nspec:\n  source:\n"
        "    type: CONDA\n    uri: conda://demo?python=3.12\n    options:\n      name: demo\n"
        "      pythonVersion: '3.12'\n"
        "      condaEnvironmentYml: |\n" + block(env)
    )
    if req:
        out += "      pipRequirementsTxt: |\n" + block(req)
    return out


SPEC_NAMES = {"req": "requirements.txt", "env": "environment.yml", "dataset": "dataset.yaml", "pixi": "pixi.toml"}
VALID = {"req": VALID_REQ, "env": VALID_ENV, "dataset": _dataset(VALID_ENV, VALID_REQ), "pixi": VALID_PIXI}


def _spec_variants(fmt: str) -> dict[str, bytes | str]:
    """Hostile contents for one spec format (the file keeps the format's name)."""
    yaml_like = fmt in ("env", "dataset")
    v: dict[str, bytes | str] = {
        "empty": b"",
        "garbage": GARBAGE,
        "nul": VALID[fmt].replace("n", "n\x00", 1),
        "utf16": UTF16,
        "latin1": LATIN1,
        "oversize": VALID[fmt] + "#" * 80 + "\n" + ("# padding line\n" * 500_000),
        "longline": VALID[fmt] + "# " + "x" * 2_000_000 + "\n",
    }
    if yaml_like:
        v["deep"] = "dependencies: " + _deep_json(100_000) + "\n"
        v["aliasbomb"] = ALIAS_BOMB
        v["wrongtype"] = "- just\n- a\n- list\n"
        v["bigint"] = "name: demo\ndependencies:\n  - numpy=" + BIG_DIGITS + "\n"
    if fmt == "pixi":
        v["deep"] = VALID_PIXI + "x = " + "[" * 100_000 + "]" * 100_000 + "\n"
        v["wrongtype"] = "workspace = 3\n"
        v["bigint"] = VALID_PIXI + 'idna = "==' + BIG_DIGITS + '"\n'
    if fmt == "req":
        v["bigint"] = "idna==" + BIG_DIGITS + "\n"
        v["wrongtype"] = "[section]\nkey = value\n"
        v["deep"] = "numpy" + "[" * 100_000 + "\n"
    if fmt == "dataset":
        v["embedded-deep"] = _dataset("dependencies: " + _deep_json(5_000))
        v["embedded-garbage"] = _dataset("\x07\x08: [\n")
    return v


def _spec_argv(cmd: str, path: str) -> list[str]:
    if cmd == "lint":
        return ["lint", path]
    if cmd == "lock":
        return [
            "lock",
            path,
            "--offline",
            "--node",
            NODE,
            "--index-url",
            INDEX,
            "--python",
            "3.12",
            "-o",
            "{out}/env.lock",
        ]
    return ["check", path, "--offline", "--node", NODE, "--index-url", INDEX]


# What `lint` says about each hostile spec (exit, codes): syntax and content problems are findings (exit 1), a
# warning alone keeps exit 0. `lock` and `check` refuse the same inputs with exit 2 and the same codes.
_SPEC_LINT: dict[str, tuple[int, set[str]]] = {
    "garbage": (EXIT_INPUT, {"SP102"}),  # a file that cannot be read as a spec at all: exit 2, in lint too
    "nul": (EXIT_INPUT, {"SP102"}),
    "utf16": (EXIT_INPUT, {"SP103"}),
    "latin1": (EXIT_INPUT, {"SP103"}),
    "oversize": (EXIT_INPUT, {"SP101"}),
    "longline": (EXIT_OK, set()),
    "aliasbomb": (EXIT_FINDINGS, {"SP105"}),
    "deep": (EXIT_FINDINGS, {"SP105"}),
    "bigint": (EXIT_FINDINGS, {"SP120"}),
    "empty": (EXIT_OK, {"SP107"}),
    "wrongtype": (EXIT_OK, {"SP107"}),
    "embedded-deep": (EXIT_FINDINGS, {"SP105"}),
    "embedded-garbage": (EXIT_FINDINGS, {"SP104"}),
}
_SPEC_LINT_BY_FORMAT: dict[tuple[str, str], tuple[int, set[str]]] = {
    ("req", "deep"): (EXIT_FINDINGS, {"SP121"}),
    ("req", "bigint"): (EXIT_INPUT, {"GN109"}),  # a 100,000-digit version: refused by the digit limit
    ("req", "empty"): (EXIT_OK, {"SP112"}),
    ("req", "wrongtype"): (EXIT_FINDINGS, {"SP121"}),
    ("pixi", "empty"): (EXIT_FINDINGS, {"SP110"}),
    ("pixi", "wrongtype"): (EXIT_FINDINGS, {"SP110"}),
    ("pixi", "deep"): (EXIT_INPUT, {"GN108"}),  # deep TOML: the nesting limit
}


def add_specs(b: Builder) -> None:
    for fmt, name in SPEC_NAMES.items():
        for variant, content in _spec_variants(fmt).items():
            lint_exit, codes = _SPEC_LINT_BY_FORMAT.get((fmt, variant), _SPEC_LINT[variant])
            b.add(f"spec-{fmt}-{variant}-lint", _w(name, content), _spec_argv("lint", "{d}/" + name), lint_exit, codes)
            if variant in ("garbage", "deep", "oversize", "bigint"):  # lock and check: the ones that fail to load
                for cmd in ("lock", "check"):
                    # a huge number may fail at load or later in the solve: exit 2 with a code, whichever code
                    c = set() if variant == "bigint" and fmt != "req" else codes
                    b.add(
                        f"spec-{fmt}-{variant}-{cmd}", _w(name, content), _spec_argv(cmd, "{d}/" + name), EXIT_INPUT, c
                    )
        # special files in place of the spec: input that cannot be read is exit 2 in every command
        for variant, make, codes in [
            ("fifo", _fifo(name), {"GN106"}),
            ("devzero", _link(name, "/dev/zero"), {"GN106"}),
            ("missing", None, {"GN101"}),
            ("symlink-loop", _link(name, name), {"GN101"}),
        ]:
            cmds: tuple[str, ...] = ("lint", "lock")
            if variant == "fifo":  # a hang today: one command per format keeps the suite short
                cmds = ("lint",) if fmt in ("req", "env") else ("lock",)
            for cmd in cmds:
                b.add(
                    f"spec-{fmt}-{variant}-{cmd}",
                    make,
                    _spec_argv(cmd, "{d}/" + name),
                    EXIT_INPUT,
                    codes,
                    timeout=FIFO_WAIT if variant == "fifo" else 20.0,
                )
        # a directory is a valid lint argument (its specs are linted) but no spec for lock
        b.add(f"spec-{fmt}-directory-lint", _mkdir(name), ["lint", "{d}/" + name], EXIT_OK)
        b.add(f"spec-{fmt}-directory-lock", _mkdir(name), _spec_argv("lock", "{d}/" + name), EXIT_INPUT, {"GN101"})
        b.add(f"spec-{fmt}-valid-lint", _w(name, VALID[fmt]), ["lint", "{d}/" + name], EXIT_OK)


# ---------------------------------------------------------------------------------------------- includes


def _secret(d: Path) -> None:
    out = d.parent.parent / "outside"
    out.mkdir(exist_ok=True)
    (out / "secret.txt").write_text(f"root:x:0:0:{SECRET}\nmachine host login me password {SECRET}\n")
    (out / "ok.txt").write_text("numpy\n")


def _diamond(depth: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        for i in range(depth):
            (d / f"a{i}.txt").write_text(f"-r a{i + 1}.txt\n-r b{i + 1}.txt\n")
            (d / f"b{i}.txt").write_text(f"-r a{i + 1}.txt\n-r b{i + 1}.txt\n")
        (d / f"a{depth}.txt").write_text("numpy\n")
        (d / f"b{depth}.txt").write_text("numpy\n")
        (d / "requirements.txt").write_text("-r a0.txt\n")

    return make


def add_includes(b: Builder) -> None:
    """`-r`/`-c` includes: outside the spec's tree (refused, never echoed), cycles, special files, a diamond."""
    outside = (EXIT_FINDINGS, EXIT_INPUT)  # a refused include: a finding for lint or an input error; never an echo
    req = "requirements.txt"
    includes: list[tuple[str, Callable[[Path], object], int | tuple[int, ...], int, set[str], float]] = [
        ("abs-outside", _all(_secret, lambda d: _w(req, f"-r {d.parent.parent}/outside/secret.txt\n")(d)),
         outside, EXIT_INPUT, {"SP160"}, 20),
        ("rel-outside", _all(_secret, _w(req, "-r ../../outside/secret.txt\n")), outside, EXIT_INPUT, {"SP160"}, 20),
        ("constraint-outside", _all(_secret, _w(req, "idna\n-c ../../outside/secret.txt\n")),
         outside, EXIT_INPUT, {"SP160"}, 20),
        ("outside-valid", _all(_secret, _w(req, "-r ../../outside/ok.txt\n")), outside, EXIT_INPUT, {"SP160"}, 20),
        ("etc-passwd", _w(req, "-r ../../../../../../../../etc/passwd\n"), outside, EXIT_INPUT, {"SP160"}, 20),
        ("self-cycle", _w(req, "-r requirements.txt\n"), EXIT_FINDINGS, EXIT_INPUT, {"SP125"}, 20),
        ("two-cycle", _all(_w(req, "-r b.txt\n"), _w("b.txt", "-r requirements.txt\n")),
         EXIT_FINDINGS, EXIT_INPUT, {"SP125"}, 20),
        ("missing", _w(req, "-r nothere.txt\n"), EXIT_FINDINGS, EXIT_INPUT, {"SP124"}, 20),
        ("fifo", _all(_fifo("in.txt"), _w(req, "-r in.txt\n")), EXIT_INPUT, EXIT_INPUT, {"GN106"}, FIFO_WAIT),
        # a link to /dev/zero leaves the spec's tree: refused before it is opened
        ("devzero", _all(_link("in.txt", "/dev/zero"), _w(req, "-r in.txt\n")), outside, EXIT_INPUT, {"SP160"}, 20),
        ("directory", _all(_mkdir("in.txt"), _w(req, "-r in.txt\n")), EXIT_INPUT, EXIT_INPUT, {"GN101"}, 20),
        # 2^30 paths through 62 files: each file is read once, and the lock succeeds (numpy from the demo index)
        ("diamond-30", _diamond(30), EXIT_OK, EXIT_OK, set(), HANG),
        ("garbage", _all(_w("in.txt", GARBAGE), _w(req, "-r in.txt\n")), EXIT_INPUT, EXIT_INPUT, {"SP102"}, 20),
        # inside the tree: read and locked (idna from the demo's local index)
        ("nested-valid", _all(_w("sub/in.txt", "idna\n"), _w(req, "-r sub/in.txt\n")), EXIT_OK, EXIT_OK, set(), 20),
    ]  # fmt: skip
    for name, make, lint_exit, lock_exit, codes, timeout in includes:
        b.add(
            f"include-{name}-lint", make, _spec_argv("lint", "{d}/requirements.txt"), lint_exit, codes, timeout=timeout
        )
        b.add(
            f"include-{name}-lock",
            make,
            _spec_argv("lock", "{d}/requirements.txt"),
            lock_exit,
            codes,
            timeout=timeout,
            outputs=("env.lock",) if lock_exit == EXIT_OK else (),
        )


# ---------------------------------------------------------------------------------------------- nodes


def _node_json() -> dict[str, object]:
    from envresolve.node import load_node

    obj: dict[str, object] = json.loads(load_node(NODE).to_json())
    obj["gpus"] = obj["gpus"][:1]  # type: ignore[index]
    return obj


NODE_JSON = _node_json()
K8S_LIST = (REPO / "tests" / "fixtures" / "check" / "nodes-gfd.yaml").read_text()
VIRTUAL = "subdirs:\n  linux-64:\n    packages:\n      __glibc: '2.17'\n      __cuda: '12.4'\n"


def _node_variants() -> dict[str, tuple[str, bytes | str]]:
    j = json.dumps(NODE_JSON)
    return {
        "json-valid": ("node.json", j),
        "yaml-valid": ("node.yaml", j),
        "k8s-valid": ("nodes.yaml", K8S_LIST),
        "virtual-valid": ("virtual-packages.yaml", VIRTUAL),
        "json-empty": ("node.json", b""),
        "json-garbage": ("node.json", GARBAGE),
        "json-truncated": ("node.json", j[: len(j) // 2]),
        "json-deep": ("node.json", '{"driver": ' + _deep_json(100_000) + "}"),
        "json-bigint": ("node.json", j.replace('"index": 0', '"index": ' + "9" * 5000)),
        "json-bigint-cc": ("node.json", j.replace('"9.0"', "9" * 5000)),
        "json-wrongtype": ("node.json", "[1, 2, 3]"),
        "json-bad-driver": ("node.json", j.replace("580.65.06", "abc")),
        "json-negative": ("node.json", j.replace('"index": 0', '"index": -1')),
        "json-nul": ("node.json", j.replace('"glibc": "2.39"', '"glibc": "2.3\x009"')),
        "json-oversize": ("node.json", j + " " * 20_000_000),
        "json-many-gpus": ("node.json", json.dumps({**NODE_JSON, "gpus": [NODE_JSON["gpus"][0]] * 20_000})),  # type: ignore[index]
        "yaml-aliasbomb": ("node.yaml", ALIAS_BOMB),
        "yaml-deep": ("node.yaml", "driver: " + _deep_json(100_000) + "\n"),
        "yaml-utf16": ("node.yaml", UTF16),
        "k8s-garbage-labels": (
            "nodes.yaml",
            K8S_LIST.replace('nvidia.com/gpu.compute.major: "9"', 'nvidia.com/gpu.compute.major: "nine"'),
        ),
        "k8s-bigint-label": (
            "nodes.yaml",
            K8S_LIST.replace('nvidia.com/gpu.memory: "81559"', 'nvidia.com/gpu.memory: "' + "9" * 5000 + '"'),
        ),
        "k8s-items-not-list": ("nodes.yaml", "apiVersion: v1\nkind: List\nitems: 7\n"),
        "k8s-empty-list": ("nodes.yaml", "apiVersion: v1\nkind: List\nitems: []\n"),
        "virtual-garbage": ("virtual-packages.yaml", "subdirs:\n  linux-64:\n    packages:\n      __cuda: [1, 2]\n"),
        "virtual-bigint": ("virtual-packages.yaml", VIRTUAL.replace("12.4", "1" + "2" * 5000)),
    }


# (exit, codes) of `probe --node FILE`: every node file that cannot be used is exit 2 with ND202 (cannot be
# parsed or is refused) or ND203 (not a node format); unsure labels are a warning (ND205), not an error.
_NODE_EXPECT: dict[str, tuple[int, set[str]]] = {
    "json-deep": (EXIT_INPUT, {"GN108"}),
    "json-oversize": (EXIT_INPUT, {"GN107"}),
    "json-empty": (EXIT_INPUT, {"ND203"}),
    "json-wrongtype": (EXIT_INPUT, {"ND203"}),
    "json-many-gpus": (EXIT_OK, set()),
    "json-nul": (EXIT_INPUT, {"ND202"}),
    "k8s-garbage-labels": (EXIT_OK, {"ND205"}),
    "json-bigint": (EXIT_INPUT, {"GN109"}),
    "json-bigint-cc": (EXIT_INPUT, {"GN109"}),
    "k8s-bigint-label": (EXIT_OK, {"ND205"}),  # a label past the digit limit is left out, like any bad label
    "virtual-bigint": (EXIT_INPUT, {"ND202"}),
}


def add_nodes(b: Builder) -> None:
    for variant, (name, content) in _node_variants().items():
        exit_, codes = _NODE_EXPECT.get(
            variant, (EXIT_OK, set()) if variant.endswith("-valid") else (EXIT_INPUT, {"ND202"})
        )
        path = "{d}/" + name
        b.add(
            f"node-{variant}-probe",
            _w(name, content),
            ["probe", "--node", path, "-o", "{out}/facts.json"],
            exit_,
            codes,
            outputs=("facts.json",) if exit_ == EXIT_OK else (),
        )
        if variant in ("json-valid", "json-garbage", "json-deep", "json-bigint", "yaml-aliasbomb", "k8s-valid"):
            b.add(
                f"node-{variant}-lint",
                _all(_w(name, content), _w("requirements.txt", VALID_REQ)),
                ["lint", "{d}/requirements.txt", "--node", path],
                exit_,
                codes,
            )
            b.add(
                f"node-{variant}-check",
                _all(_w(name, content), _prefix()),
                ["check", "--prefix", "{d}/env", "--node", path],
                exit_,
                codes,
            )
    for variant, make, codes in [
        ("fifo", _fifo("node.json"), {"GN106"}),
        ("devzero", _link("node.json", "/dev/zero"), {"GN106"}),
        ("directory", _mkdir("node.json"), {"ND203"}),  # a directory of node files, holding none
        ("missing", None, {"GN101"}),
    ]:
        t = FIFO_WAIT if variant == "fifo" else 20.0
        b.add(f"node-{variant}-probe", make, ["probe", "--node", "{d}/node.json"], EXIT_INPUT, codes, timeout=t)
        b.add(
            f"node-{variant}-lock",
            make,
            [
                "lock",
                "{repo}/examples/llm-finetune-dataset.yaml",
                "--offline",
                "--node",
                "{d}/node.json",
                "-o",
                "{out}/env.lock",
            ],
            EXIT_INPUT,
            codes,
            timeout=t,
        )
    b.add("node-devzero-direct-probe", None, ["probe", "--node", "/dev/zero"], EXIT_INPUT, {"GN106"})
    b.add("node-unknown-profile", None, ["probe", "--node", "no-such-profile-h100"], EXIT_INPUT, {"ND204"})


# ---------------------------------------------------------------------------------------------- binaries


def _wheel_with(members: list[tuple[str, bytes]]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        arch.make_zip(d / "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl", members)

    return make


WHEEL = "{d}/demo-1.0-cp311-cp311-manylinux2014_x86_64.whl"


def _wheel_bytes(d: Path) -> bytes:
    return arch.demo_wheel(d).read_bytes()


def _patched_wheel(**fields: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = arch.demo_wheel(d)
        p.write_bytes(arch.patch_central(p.read_bytes(), "demo/_native.cpython-311-x86_64-linux-gnu.so", **fields))

    return make


def _many_member_wheel(n: int) -> Callable[[Path], None]:
    """A stored zip of `n` empty members, written record by record (zipfile takes seconds for this)."""

    def make(d: Path) -> None:
        local, central = bytearray(), bytearray()
        for i in range(n):
            name = f"demo/m{i}.so".encode()
            off = len(local)
            local += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
            central += (
                struct.pack(
                    "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0, off
                )
                + name
            )
        n16 = min(n, 0xFFFF)  # zip64 is not needed for the reader to count the central directory
        end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, n16, n16, len(central), len(local), 0)
        (d / "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl").write_bytes(bytes(local + central) + end)

    return make


def _zip_bomb(d: Path) -> None:
    path = d / "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("demo/libbomb.so", "w") as f:
        chunk = b"\x7fELF" + b"\0" * (1 << 20)
        for _ in range(64):
            f.write(chunk)


def _zip64_lie(d: Path) -> None:
    p = arch.demo_wheel(d)
    data = bytearray(p.read_bytes())
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HHHH", data, at + 4, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
    p.write_bytes(bytes(data))


def _conda(
    members: list[tuple[str, bytes | None, str | None]] | None = None,
    index: object = None,
    info_raw: bytes | None = None,
) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        if info_raw is None:
            arch.demo_conda(d, members=members, index=index)  # type: ignore[arg-type]
            return
        z = zstandard.ZstdCompressor(level=3)
        info = arch._tar([("info/index.json", info_raw, None)])
        pkg = arch._tar(arch.pkg_members())
        arch.make_zip(
            d / "demo-1.0-h1234_0.conda",
            [
                ("metadata.json", b'{"conda_pkg_format_version": 2}'),
                ("info-demo-1.0-h1234_0.tar.zst", z.compress(info)),
                ("pkg-demo-1.0-h1234_0.tar.zst", z.compress(pkg)),
            ],
            method=zipfile.ZIP_STORED,
        )

    return make


def _conda_raw_pkg(pkg_tar: Callable[[], bytes]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        z = zstandard.ZstdCompressor(level=1)
        info = arch._tar([("info/index.json", json.dumps(arch.INDEX).encode(), None)])
        arch.make_zip(
            d / "demo-1.0-h1234_0.conda",
            [
                ("metadata.json", b'{"conda_pkg_format_version": 2}'),
                ("info-demo-1.0-h1234_0.tar.zst", z.compress(info)),
                ("pkg-demo-1.0-h1234_0.tar.zst", z.compress(pkg_tar())),
            ],
            method=zipfile.ZIP_STORED,
        )

    return make


def _gnu_long_name_tar() -> bytes:
    """A tar whose first member has a 64 MiB GNU long name (the header says so; the data is all 'a')."""
    size = 64 << 20
    out = io.BytesIO()
    hdr = tarfile.TarInfo("././@LongLink")
    hdr.type = tarfile.GNUTYPE_LONGNAME
    hdr.size = size
    out.write(hdr.tobuf(format=tarfile.GNU_FORMAT))
    out.write(b"a" * size)
    out.write(b"\0" * (-size % 512))
    ti = tarfile.TarInfo("x")
    out.write(ti.tobuf(format=tarfile.GNU_FORMAT))
    out.write(b"\0" * 1024)
    return out.getvalue()


def _symlink_tar(n: int) -> bytes:
    """A tar of `n` symlinks, then the demo package: headers patched from one template (tarfile is slow here)."""
    ti = tarfile.TarInfo("x")
    ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "libalpha.so.1", 1_700_000_000
    template = bytearray(ti.tobuf(format=tarfile.USTAR_FORMAT))
    out = bytearray()
    for i in range(n):
        h = bytearray(template)
        name = f"lib/l{i}.so".encode()
        h[0:100] = name.ljust(100, b"\0")
        h[148:156] = b" " * 8
        h[148:156] = b"%06o\0 " % sum(h)
        out += h
    return bytes(out) + arch._tar(arch.pkg_members())


def _zstd_bomb(d: Path) -> None:
    z = zstandard.ZstdCompressor(level=1)
    info = arch._tar([("info/index.json", json.dumps(arch.INDEX).encode(), None)])
    big = arch._tar([("lib/libbig.so", b"\x7fELF\x02\x01\x01" + b"\0" * (64 << 20), None)])
    arch.make_zip(
        d / "demo-1.0-h1234_0.conda",
        [
            ("metadata.json", b'{"conda_pkg_format_version": 2}'),
            ("info-demo-1.0-h1234_0.tar.zst", z.compress(info)),
            ("pkg-demo-1.0-h1234_0.tar.zst", z.compress(big)),
        ],
        method=zipfile.ZIP_STORED,
    )


def _tbz2(
    members: list[tuple[str, bytes | None, str | None]] | None = None, raw: bytes | None = None
) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / "demo-1.0-h1234_0.tar.bz2"
        if raw is not None:
            p.write_bytes(raw)
            return
        ms = [("info/index.json", json.dumps(arch.INDEX).encode(), None), *(members or arch.pkg_members())]
        p.write_bytes(bz2.compress(arch._tar(ms)))

    return make


def _bz2_bomb(d: Path) -> None:
    """A .tar.bz2 whose lib/libbig.so claims 512 MiB of zeros: one bz2 stream of 16 MiB of zeros, repeated
    (bz2 readers take concatenated streams), so building it costs one small compression."""
    ti = tarfile.TarInfo("lib/libbig.so")
    ti.size = 512 << 20
    index = json.dumps(arch.INDEX).encode()
    info = tarfile.TarInfo("info/index.json")
    info.size = len(index)
    head = info.tobuf(format=tarfile.USTAR_FORMAT) + index + b"\0" * (-len(index) % 512)
    head += ti.tobuf(format=tarfile.USTAR_FORMAT)
    zeros = bz2.compress(b"\0" * (16 << 20), 9)
    (d / "demo-1.0-h1234_0.tar.bz2").write_bytes(bz2.compress(head + b"\x7fELF\x02\x01\x01") + zeros * 32)


def _elf_patch(**fields: int) -> Callable[[Path], None]:
    """libalpha with ELF64 header fields overwritten (e_shoff at 0x28, e_phoff 0x20, e_shnum 0x3C, ...)."""
    offsets = {
        "e_phoff": (0x20, "<Q"),
        "e_shoff": (0x28, "<Q"),
        "e_phnum": (0x38, "<H"),
        "e_shnum": (0x3C, "<H"),
        "e_shentsize": (0x3A, "<H"),
        "e_shstrndx": (0x3E, "<H"),
        "e_phentsize": (0x36, "<H"),
    }

    def make(d: Path) -> None:
        buf = bytearray(arch.ALPHA)
        for k, v in fields.items():
            at, fmt = offsets[k]
            struct.pack_into(fmt, buf, at, v)
        (d / "libx.so").write_bytes(bytes(buf))

    return make


def _prefix(extra: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        p = d / "env"
        (p / "lib").mkdir(parents=True)
        (p / "conda-meta").mkdir()
        (p / "lib" / "libalpha.so.1").write_bytes(arch.ALPHA)
        (p / "conda-meta" / "demo-1.0-h1234_0.json").write_text(
            json.dumps({**arch.INDEX, "files": ["lib/libalpha.so.1"]})
        )
        if extra is not None:
            extra(p)

    return make


WHL = "demo-1.0-cp311-cp311-manylinux2014_x86_64.whl"
# (name, make, exit, codes): an archive that cannot be read at all (BN501) is input that cannot be read: exit 2;
# hostile members are findings (exit 1) and the rest of the archive is still read.
_Bin = tuple[str, Callable[[Path], object] | None, "int | tuple[int, ...]", set[str]]


def add_binaries(b: Builder) -> None:
    wheels: list[_Bin] = [
        ("valid", arch.demo_wheel, EXIT_OK, set()),
        ("garbage", _w(WHL, GARBAGE), EXIT_INPUT, {"BN501"}),
        ("empty", _w(WHL, b""), EXIT_INPUT, {"BN501"}),
        ("truncated", lambda d: _w(WHL, _wheel_bytes(d)[:3000])(d), EXIT_INPUT, {"BN501"}),
        ("zip-bomb", _zip_bomb, EXIT_FINDINGS, {"BN502"}),
        ("zip64-lie", _zip64_lie, EXIT_OK, set()),  # entry counts of 0xFFFF without a zip64 record: still read
        ("huge-usize", _patched_wheel(usize=0xFFFFFFFF), EXIT_FINDINGS, {"BN502"}),
        ("bad-offset", _patched_wheel(offset=0x7FFFFFFF), EXIT_FINDINGS, {"BN508"}),
        ("bad-method", _patched_wheel(method=99), EXIT_FINDINGS, {"BN508"}),
        ("encrypted", _patched_wheel(flags=1), EXIT_FINDINGS, {"BN507"}),
        (
            "traversal",
            _wheel_with(
                [
                    ("../../../../tmp/evil.so", arch.ALPHA),
                    ("/abs/evil.so", arch.ALPHA),
                    ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
                ]
            ),
            EXIT_FINDINGS,
            {"BN504"},
        ),
        ("many-members", _many_member_wheel(250_000), EXIT_INPUT, {"BN516"}),
        ("long-name", _wheel_with([("demo/" + "n" * 60_000 + ".so", arch.ALPHA)]), (EXIT_OK, EXIT_FINDINGS), set()),
        ("fifo", _fifo(WHL), EXIT_INPUT, {"GN106"}),
        ("devzero", _link(WHL, "/dev/zero"), EXIT_INPUT, {"GN106"}),
    ]
    for name, make, exit_, codes in wheels:
        b.add(
            f"wheel-{name}-inspect",
            make,
            ["inspect", "--no-cache", "{d}/" + WHL],
            exit_,
            codes,
            timeout=20.0,
        )
    conda = "{d}/demo-1.0-h1234_0.conda"
    condas: list[_Bin] = [
        ("valid", _conda(), EXIT_OK, set()),
        ("garbage", _w("demo-1.0-h1234_0.conda", GARBAGE), EXIT_INPUT, {"BN501"}),
        ("index-deep", _conda(info_raw=_deep_json(100_000).encode()), EXIT_INPUT, {"GN108"}),
        ("index-garbage", _conda(info_raw=GARBAGE), EXIT_OK, {"BN512"}),
        (
            "index-bigint",
            _conda(info_raw=b'{"name": "demo", "build_number": ' + b"9" * 5000 + b"}"),
            EXIT_INPUT,
            {"GN109"},
        ),
        (
            "traversal",
            _conda(members=[("../../evil.so", arch.ALPHA, None), ("/abs.so", arch.ALPHA, None)]),
            EXIT_FINDINGS,
            {"BN504"},
        ),
        (
            "symlink-out",
            _conda(members=[("lib/out.so", None, "/etc/passwd"), ("lib/up.so", None, "../../../../x")]),
            EXIT_FINDINGS,
            {"BN511"},
        ),
        ("hardlink-out", _conda(members=[("lib/h.so", None, "=/etc/passwd")]), EXIT_FINDINGS, {"BN511"}),
        ("gnu-long-name", _conda_raw_pkg(_gnu_long_name_tar), EXIT_FINDINGS, {"BN517"}),
        ("many-symlinks", _conda_raw_pkg(lambda: _symlink_tar(100_000)), EXIT_FINDINGS, {"BN518"}),
        ("zstd-bomb", _zstd_bomb, EXIT_FINDINGS, {"BN502"}),
        ("fifo", _fifo("demo-1.0-h1234_0.conda"), EXIT_INPUT, {"GN106"}),
    ]
    for name, make, exit_, codes in condas:
        b.add(
            f"conda-{name}-inspect",
            make,
            ["inspect", "--no-cache", conda],
            exit_,
            codes,
            timeout=2 * HANG if name == "many-symlinks" else 20.0,
        )
    tb = "{d}/demo-1.0-h1234_0.tar.bz2"
    tbz: list[_Bin] = [
        ("valid", _tbz2(), EXIT_OK, set()),
        ("garbage", _tbz2(raw=GARBAGE), EXIT_INPUT, {"BN501"}),
        (
            "truncated",
            lambda d: (
                _tbz2()(d) or _w("demo-1.0-h1234_0.tar.bz2", (d / "demo-1.0-h1234_0.tar.bz2").read_bytes()[:2000])(d)
            ),
            EXIT_INPUT,
            {"BN501"},
        ),
        ("not-tar", _tbz2(raw=bz2.compress(GARBAGE)), EXIT_INPUT, {"BN501"}),
        ("bomb", _bz2_bomb, EXIT_FINDINGS, {"BN502"}),
        (
            "traversal",
            _tbz2(members=[("../../evil.so", arch.ALPHA, None), *arch.pkg_members()]),
            EXIT_FINDINGS,
            {"BN504"},
        ),
    ]
    for name, make, exit_, codes in tbz:
        b.add(f"tarbz2-{name}-inspect", make, ["inspect", "--no-cache", tb], exit_, codes)
    elfs: list[_Bin] = [
        ("valid", _w("libx.so", arch.ALPHA), EXIT_OK, set()),
        ("magic-only", _w("libx.so", b"\x7fELF"), EXIT_FINDINGS, {"BN102"}),
        ("garbage-after-magic", _w("libx.so", b"\x7fELF\x02\x01\x01" + GARBAGE), EXIT_FINDINGS, {"BN109"}),
        ("truncated", _w("libx.so", arch.ALPHA[:200]), EXIT_FINDINGS, {"BN102"}),
        ("empty", _w("libx.so", b""), EXIT_INPUT, {"BN515"}),
        # the section header table lies; the dynamic facts come from the program headers and are still right
        ("shoff-2-62", _elf_patch(e_shoff=1 << 62, e_shnum=0xFFFF), (EXIT_OK, EXIT_FINDINGS), {"BN520"}),
        ("shoff-past-end", _elf_patch(e_shoff=1 << 40), (EXIT_OK, EXIT_FINDINGS), set()),
        ("shentsize-zero", _elf_patch(e_shentsize=0), (EXIT_OK, EXIT_FINDINGS), set()),
        ("shstrndx-bad", _elf_patch(e_shstrndx=0xFFF0), (EXIT_OK, EXIT_FINDINGS), set()),
        ("phnum-max", _elf_patch(e_phnum=0xFFFF), EXIT_FINDINGS, {"BN104"}),
        ("phoff-huge", _elf_patch(e_phoff=(1 << 64) - 1), EXIT_FINDINGS, {"BN103"}),
        ("fifo", _fifo("libx.so"), EXIT_INPUT, {"GN106"}),
        ("devzero", _link("libx.so", "/dev/zero"), EXIT_INPUT, {"GN106"}),
        ("devzero-direct", None, EXIT_INPUT, {"GN106"}),
        ("missing", None, EXIT_INPUT, {"GN101"}),
    ]
    for name, make, exit_, codes in elfs:
        path = "/dev/zero" if name == "devzero-direct" else "{d}/libx.so"
        b.add(
            f"elf-{name}-inspect",
            make,
            ["inspect", "--no-cache", "--symbols", path],
            exit_,
            codes,
            needs_code=name == "shoff-2-62",
        )
    sp = "lib/python3.11/site-packages/d-1.dist-info"
    # an installed prefix: what cannot be read inside it is reported, never followed, never hangs
    prefixes: list[tuple[str, Callable[[Path], object] | None]] = [
        ("valid", None),
        ("meta-deep", lambda p: (p / "conda-meta" / "x-1-0.json").write_text(_deep_json(100_000))),
        ("meta-garbage", lambda p: (p / "conda-meta" / "x-1-0.json").write_bytes(GARBAGE)),
        ("meta-bigint", lambda p: (p / "conda-meta" / "x-1-0.json").write_text('{"build_number": ' + "9" * 5000 + "}")),
        ("meta-fifo", lambda p: os.mkfifo(p / "conda-meta" / "x-1-0.json")),
        ("so-fifo", lambda p: os.mkfifo(p / "lib" / "libfifo.so")),
        ("so-devzero", lambda p: os.symlink("/dev/zero", p / "lib" / "libz.so")),
        ("so-garbage", lambda p: (p / "lib" / "libg.so").write_bytes(b"\x7fELF" + GARBAGE)),
        ("symlink-loop", lambda p: os.symlink("libloop.so", p / "lib" / "libloop.so")),
        ("dir-loop", lambda p: os.symlink("..", p / "lib" / "up")),
        ("metadata-fifo", lambda p: (p / sp).mkdir(parents=True) or os.mkfifo(p / sp / "METADATA")),
        ("record-fifo", lambda p: (p / sp).mkdir(parents=True) or os.mkfifo(p / sp / "RECORD")),
    ]
    for name, extra in prefixes:
        b.add(f"prefix-{name}-inspect", _prefix(extra), ["inspect", "--no-cache", "{d}/env"], EXIT_OK)  # type: ignore[arg-type]
        b.add(f"prefix-{name}-check", _prefix(extra), ["check", "--prefix", "{d}/env", "--node", NODE], EXIT_OK)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- locks, explain


_LOCK_CODES = {
    "deep": {"GN108"},
    "garbage": {"SP102"},
    "empty": {"SP107"},
    "truncated": {"SP107"},
    "version-99": {"LK102"},
    "wrongtype": {"LK102"},
    "missing-keys": {"LK102"},
}


def add_locks(b: Builder, base_lock: Path | None) -> None:
    """`check LOCK` on damaged copies of a real lock (`base_lock`, made by `lock` on the demo)."""
    text = base_lock.read_text() if base_lock is not None else "{}"
    lock = json.loads(text)
    variants: dict[str, bytes | str] = {
        "valid": text,
        "garbage": GARBAGE,
        "empty": b"",
        "truncated": text[: len(text) // 2],
        "version-99": json.dumps({**lock, "lock-version": 99}),
        "deep": '{"lock-version": 1, "conda": ' + _deep_json(100_000) + "}",
        "bigint": text.replace('"lock-version": 1', '"lock-version": ' + "1" * 5000, 1),
        "wrongtype": json.dumps({**lock, "conda": "not a list"}),
        "missing-keys": json.dumps({"lock-version": 1}),
        "oversize": text + " " * 60_000_000,
    }
    for name, content in variants.items():
        exit_: int | tuple[int, ...] = EXIT_OK if name == "valid" else EXIT_INPUT
        if name == "oversize":
            exit_ = (EXIT_OK, EXIT_INPUT)  # valid JSON padded to 60 MB: checked within budget, or refused by a cap
        b.add(
            f"lock-{name}-check",
            _w("env.lock", content),
            ["check", "{d}/env.lock", "--node", NODE],
            exit_,
            _LOCK_CODES.get(name, set()),
        )
    for variant, make, t in [("fifo", _fifo("env.lock"), FIFO_WAIT), ("devzero", _link("env.lock", "/dev/zero"), 20.0)]:
        b.add(
            f"lock-{variant}-check", make, ["check", "{d}/env.lock", "--node", NODE], EXIT_INPUT, {"GN106"}, timeout=t
        )
    demo = [
        "lock",
        "{repo}/examples/llm-finetune-dataset.yaml",
        "--offline",
        "--index-url",
        INDEX,
        "--no-notebook-packages",
        "--node",
        NODE,
        "-o",
        "{out}/env.lock",
        "--export",
        "pylock,requirements",
    ]
    b.add("lock-demo-valid", None, demo, EXIT_OK, outputs=("env.lock", "pylock.toml", "requirements.lock.txt"))
    b.add("lock-demo-bad-export", None, [*demo[:-1], "pylock,nonsense"], EXIT_INPUT)
    b.add("lock-demo-output-is-directory", _mkdir("out/env.lock"), demo, EXIT_INPUT)


def add_explain(b: Builder) -> None:
    for name, arg, exit_ in [
        ("valid", "CP101", EXIT_OK),
        ("by-name", "driver-too-old-for-cuda", EXIT_OK),
        ("unknown", "ZZ999", EXIT_INPUT),
        ("huge", "A" * 1_000_000, EXIT_INPUT),
        ("nul-like", "CP1\x7f01", EXIT_INPUT),
        ("path", "../../etc/passwd", EXIT_INPUT),
    ]:
        b.add(f"explain-{name}", None, ["explain", arg], exit_)


# ---------------------------------------------------------------------------------------------- library API


_API_CODES = {
    "load_spec-fifo": {"GN106"},
    "load_node-bigint": {"GN109"},
    "load_node-devzero": {"GN106"},
    "inspect-fifo": {"GN106"},
    "load_spec-garbage": {"SP102"},
    "load_spec-deep": {"SP105"},
    "load_node-deep": {"GN108"},
    "inspect-garbage-wheel": {"BN501"},
    "lint-garbage": {"SP102"},
    "check-garbage-lock": {"SP102"},
}


def add_api(b: Builder) -> None:
    """Library calls (tests/hostile/api_cases.py): exit 0 = returned, 2 = EnvresolveError, 4 = anything else."""
    for name, make in [
        ("load_spec-garbage", _w("environment.yml", GARBAGE)),
        ("load_spec-deep", _w("environment.yml", "dependencies: " + _deep_json(100_000))),
        ("load_spec-fifo", _fifo("environment.yml")),
        ("load_node-deep", _w("node.json", '{"driver": ' + _deep_json(100_000) + "}")),
        ("load_node-bigint", _w("node.json", json.dumps(NODE_JSON).replace('"index": 0', '"index": ' + "9" * 5000))),
        ("load_node-devzero", _link("node.json", "/dev/zero")),
        ("inspect-garbage-wheel", _w("demo-1.0-cp311-cp311-manylinux2014_x86_64.whl", GARBAGE)),
        ("inspect-fifo", _fifo("libx.so")),
        ("lint-garbage", _w("environment.yml", GARBAGE)),
        ("check-garbage-lock", _w("env.lock", GARBAGE)),
    ]:
        fn = name.split("-", 1)[0]
        exit_: int | tuple[int, ...] = EXIT_OK if fn == "lint" else EXIT_INPUT
        if name == "inspect-garbage-wheel":
            exit_ = (EXIT_OK, EXIT_INPUT)  # a report carrying BN501, or an InputError with it
        b.add(
            f"api-{name}",
            make,
            [],
            exit_,
            _API_CODES.get(name, set()),
            api=fn,
            timeout=FIFO_WAIT if "fifo" in name else 20.0,
        )


def add_indexes(b: Builder) -> None:
    """pip indexes as `lock --offline` reads them: a local PEP 503 directory, a URL with inline credentials."""
    req = _w("requirements.txt", "idna\n")
    lock = ["lock", "{d}/requirements.txt", "--offline", "--python", "3.12", "--node", NODE, "-o", "{out}/env.lock"]
    garbage = _all(req, _w("index/index.html", "<html>\x00\x01 not a page"), _w("index/idna/index.html", GARBAGE))
    b.add(
        "index-garbage-page-lock", garbage, [*lock, "--index-url", "{d}/index"], (EXIT_FINDINGS, EXIT_INPUT), {"RS206"}
    )
    b.add(
        "index-empty-page-lock",
        _all(req, _w("index/idna/index.html", b"")),
        [*lock, "--index-url", "{d}/index"],
        EXIT_FINDINGS,
        {"RS209"},
    )
    b.add(
        "index-deep-html-lock",
        _all(req, _w("index/idna/index.html", "<a>" * 50_000)),
        [*lock, "--index-url", "{d}/index"],
        (EXIT_FINDINGS, EXIT_INPUT),
    )
    # the credential is SECRET: it must not appear anywhere; the command warns that it sits on the command line
    cred = f"http://user:{SECRET}@127.0.0.1:9/simple"
    b.add("index-inline-credential-lock", req, [*lock, "--index-url", cred], EXIT_INPUT, {"LK105", "RS406"})


def build(root: Path | None, base_lock: Path | None) -> list[Case]:
    """Write every case's inputs under `root` and return the cases (`root=None`: only list them)."""
    b = Builder(root or Path("/nonexistent"), dry=root is None)
    if root is not None:
        (root / "outside").mkdir(parents=True, exist_ok=True)
        (root / "outside" / "secret.txt").write_text(f"{SECRET}\n")
    add_specs(b)
    add_includes(b)
    add_nodes(b)
    add_binaries(b)
    add_locks(b, base_lock)
    add_indexes(b)
    add_explain(b)
    add_api(b)
    return b.cases


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for c in build(target, Path(sys.argv[2]) if len(sys.argv) > 2 else None):
        print(c.id, " ".join(c.argv), c.exit, sorted(c.codes))
