"""Node facts from saved `scontrol show node` output, multi-line or one line per node (`scontrol -o`).

What Slurm states, and what it becomes:

- `NodeName=` names each node; `Arch=` is the CPU architecture;
- `OS=Linux <kernel release> ...` gives the kernel. A RHEL-family kernel release (`...el8_8.x86_64`,
  `...el9.x86_64`, Oracle's `...el8uek...`) names its release, so glibc and the default libstdc++ are
  inferred through the sourced distro table (`matrices/distros.yaml`, the RHEL row of that major
  release: Rocky, AlmaLinux, CentOS and Oracle Linux rebuild the same glibc) and marked `inferred`;
- `Gres=gpu[:TYPE]:COUNT[(S:...)]`: the GPU count, and the model when the admin-chosen TYPE names one in
  the bundled GPU table (`matrices/gpus.yaml`), which gives the compute capability (`inferred`);
- `AvailableFeatures=`/`ActiveFeatures=` (older Slurm: `Features=`) and `Partitions=` are kept as labels.

What Slurm does not state stays unknown: the NVIDIA driver and its CUDA level (a node with GPU gres gets a
driver of unknown version, so no driver check runs and no check claims the driver is missing), glibc and
libstdc++ on any other distribution, and the model of untyped (`gpu:2`) or unknown-typed GPUs (counted in
the labels and a warning, not listed as GPUs). `envresolve probe` run on the node through `srun` measures all
of these (docs/slurm.md).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from envresolve.diagnostics import Diagnostic, Evidence, make
from envresolve.errors import InputError
from envresolve.matrices.access import Sourced, gpus_matrix
from envresolve.matrices.models import GpuRow
from envresolve.node.distros import infer_glibc, infer_libstdcxx
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, LibStdCxxFacts, NodeFacts, OsFacts, Provenance

__all__ = ["MAX_SLURM_NODES", "gpu_row_for_gres_type", "is_scontrol_text", "nodes_from_scontrol"]

#: a saved `scontrol show node` of more nodes than this is refused (memory stays bounded)
MAX_SLURM_NODES = 100_000
#: GPUs per node above this are not plausible; the Gres entry is left out
_MAX_GPUS = 4096

_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_]*)=")
_EL = re.compile(r"\.el([0-9]+)(?=[._]|uek|$)")
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "ppc64le": "ppc64le"}
_NONE = {"", "(null)", "n/a", "none"}
_VENDOR = {"nvidia", "tesla", "geforce", "quadro"}
#: trailing parts of a GPU type name that say memory size or form factor, not the model
_SUFFIX = re.compile(r"^(?:[0-9]+gb?|sxm[0-9]*|pcie|hbm[0-9]*e?|nvl|nvlink)$")
_MIG = re.compile(r"^[0-9]+g$")


def is_scontrol_text(text: str) -> bool:
    """True when the text starts like `scontrol show node` output (its first word is `NodeName=`)."""
    return text.lstrip("\ufeff \t\r\n").startswith("NodeName=")


#: one node's fields, `Key -> Value`, as `scontrol` printed them
_Record = dict[str, str]


def _records(text: str, origin: str) -> list[_Record]:
    """Split the text into one `Key=Value` mapping per node. Values may hold spaces (`OS=Linux 4.18.0 #1 SMP`):
    a value runs to the next ` Key=`. The first occurrence of a key wins (a free-text `Reason=` comes last)."""
    records: list[_Record] = []
    seen: dict[str, int] = {}
    split = _KEY.split
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff").strip()
        if not line:
            continue
        parts = split(line)  # ["", key1, value1, key2, value2, ...]
        if len(parts) < 3 or parts[0]:
            raise InputError(
                make(
                    "ND310",
                    f"line {lineno}: not `Key=Value` text as `scontrol show node` prints it",
                    subject=origin,
                    hint="save the unedited output of `scontrol show node` (or `scontrol -o show node`)",
                )
            )
        keys = parts[1::2]
        if records and "NodeName" not in keys:
            # the common line: more fields of the current node (kept first-wins, merged in C)
            fields = records[-1]
            new = dict(zip(reversed(keys), map(str.strip, reversed(parts[2::2])), strict=True))
            new.update(fields)
            fields.update(new)
            continue
        for i in range(1, len(parts), 2):
            key, value = parts[i], parts[i + 1].strip()
            if key == "NodeName":
                _new_record(records, seen, value, lineno, origin)
            elif not records:
                raise InputError(
                    make("ND310", f"line {lineno}: {key}= comes before the first NodeName=", subject=origin)
                )
            else:
                records[-1].setdefault(key, value)
    return records


def _new_record(records: list[_Record], seen: dict[str, int], name: str, lineno: int, origin: str) -> None:
    if not name or name.lower() in _NONE:
        raise InputError(make("ND310", f"line {lineno}: NodeName has no value", subject=origin))
    if name in seen:
        raise InputError(
            make(
                "ND310",
                f"line {lineno}: node {name} is listed twice (first at line {seen[name]})",
                subject=origin,
            )
        )
    if len(records) >= MAX_SLURM_NODES:
        raise InputError(make("ND310", f"more than {MAX_SLURM_NODES} nodes; split the file", subject=origin))
    seen[name] = lineno
    records.append({"NodeName": name})


def nodes_from_scontrol(text: str, *, origin: str) -> list[tuple[NodeFacts, list[Diagnostic]]]:
    """One node-facts object per Slurm node, with the findings made while reading it. Raises `InputError`
    (ND310) when the text is not readable `scontrol show node` output."""
    records = _records(text, origin)
    if not records:
        raise InputError(make("ND310", "names no Slurm node", subject=origin))
    # a partition repeats a handful of (Arch, OS, Gres) shapes: each is read once, its facts and findings shared
    shapes: dict[tuple[str, str, str], _Shape] = {}
    out = []
    for f in records:
        key = (f.get("Arch", ""), f.get("OS", ""), f.get("Gres", ""))
        shape = shapes.get(key)
        if shape is None:
            shape = shapes[key] = _shape(origin, *key)
        out.append(_node(f, shape, origin))
    return out


#: a finding that names its node: (code, message, subject, evidence, hint)
_Warning = tuple[str, str, str, tuple[Evidence, ...], str | None]


class _Reader:
    """Collects what one (Arch, OS, Gres) shape gives: provenance, labels, node-independent findings (shared by
    every node of the shape) and warnings (made per node, with its name)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.diags: list[Diagnostic] = []
        self.warnings: list[_Warning] = []
        self.prov: dict[str, Provenance] = {}
        self.labels: dict[str, str] = {}

    def unreadable(self, key: str, value: str, why: str) -> None:
        self.warnings.append(("ND314", f"{key}={value!r} {why}; that fact is left out", key, (), None))


@dataclass(frozen=True)
class _Shape:
    cpu: CpuFacts
    os: OsFacts
    glibc: str | None
    libstdcxx: LibStdCxxFacts | None
    driver: DriverFacts | None
    gpus: tuple[GpuFacts, ...]
    provenance: tuple[tuple[str, Provenance], ...]
    labels: tuple[tuple[str, str], ...]
    diags: tuple[Diagnostic, ...]
    warnings: tuple[_Warning, ...]


def _shape(origin: str, arch: str, os_text: str, gres: str) -> _Shape:
    r = _Reader(origin)
    cpu = _cpu(r, arch)
    kernel = _kernel(r, os_text)
    glibc, libstdcxx = _inferred_libs(r, kernel)
    gpus, gpu_count = _gpus(r, gres)
    driver = None
    if gpu_count:
        driver = _unknown_driver()
        r.prov["driver"] = Provenance.INFERRED
        r.diags.append(
            make(
                "ND313",
                f"Slurm lists {gpu_count} GPU(s) (Gres={gres.strip()}) but not the NVIDIA driver: its version and CUDA "
                "level are unknown, so driver checks cannot run for these nodes",
                subject="driver",
                evidence=[Evidence(fact=f"Gres={gres.strip()}", source=origin)],
                hint="collect measured facts on the nodes: srun envresolve probe --format json (docs/slurm.md)",
            )
        )
    return _Shape(
        cpu=cpu,
        os=_os_facts(kernel),
        glibc=glibc,
        libstdcxx=libstdcxx,
        driver=driver,
        gpus=gpus,
        provenance=tuple(r.prov.items()),
        labels=tuple(r.labels.items()),
        diags=tuple(r.diags),
        warnings=tuple(r.warnings),
    )


def _node(f: _Record, shape: _Shape, origin: str) -> tuple[NodeFacts, list[Diagnostic]]:
    name = f["NodeName"]
    labels = dict(shape.labels)
    _labels(labels, f)
    node = NodeFacts(
        name=name,
        source=origin,
        os=shape.os,
        cpu=shape.cpu,
        glibc=shape.glibc,
        libstdcxx=shape.libstdcxx,
        driver=shape.driver,
        gpus=shape.gpus,
        provenance=dict(shape.provenance),
        labels=labels,
    )
    diags = list(shape.diags)
    for code, message, subject, evidence, hint in shape.warnings:
        diags.append(make(code, message, subject=subject, node=name, evidence=evidence, hint=hint))
    return node, diags


def _cpu(r: _Reader, raw: str) -> CpuFacts:
    value = raw.strip()
    if value.lower() in _NONE:
        return _cpu_facts(None)
    arch = _ARCH.get(value.lower())
    if arch is None:
        r.unreadable("Arch", value, "is not an architecture envresolve models (x86_64, aarch64, ppc64le)")
        return _cpu_facts(None)
    r.prov["cpu"] = Provenance.DECLARED
    return _cpu_facts(arch)


def _kernel(r: _Reader, raw: str) -> str | None:
    value = raw.strip()
    if value.lower() in _NONE:
        return None  # a node that has not registered with slurmctld since it started has no OS= yet
    parts = value.split()
    if len(parts) < 2 or parts[0] != "Linux":
        r.unreadable("OS", value, "is not `Linux <kernel release> ...`")
        return None
    r.prov["kernel"] = Provenance.DECLARED
    return parts[1]


def _inferred_libs(r: _Reader, kernel: str | None) -> tuple[str | None, LibStdCxxFacts | None]:
    m = _EL.search(kernel) if kernel else None
    if kernel is None or m is None:
        if kernel is not None:
            r.diags.append(
                make(
                    "ND315",
                    f"glibc and libstdc++ unknown: the kernel release {kernel} does not name a RHEL-family release, "
                    "and Slurm reports nothing else about the OS",
                    subject="glibc",
                    evidence=[Evidence(fact=f"OS kernel release {kernel}", source=r.origin)],
                    hint="collect measured facts on the node: srun -w NODE envresolve probe --format json",
                )
            )
        return None, None
    major = m.group(1)
    family = f"el{major} (RHEL {major} family: RHEL, Rocky Linux, AlmaLinux, CentOS, Oracle Linux)"
    kernel_ev = Evidence(fact=f"kernel release {kernel}: {family}", source=r.origin)
    glibc: str | None = None
    libstdcxx: LibStdCxxFacts | None = None
    missing = []
    g = infer_glibc("rhel", major)
    if g is not None and g.row.glibc is not None:
        glibc = g.row.glibc
        r.prov["glibc"] = Provenance.INFERRED
        r.diags.append(
            make(
                "ND207",
                f"glibc {glibc} inferred from the kernel release {kernel} ({family})",
                subject="glibc",
                evidence=[kernel_ev, Evidence(fact=f"rhel {major}: glibc {glibc}", source=g.citation, unsure=g.unsure)],
            )
        )
    else:
        missing.append("glibc")
    c = infer_libstdcxx("rhel", major)
    if c is not None:
        libstdcxx = LibStdCxxFacts(glibcxx=c.row.glibcxx, cxxabi=c.row.cxxabi)
        r.prov["libstdcxx"] = Provenance.INFERRED
        r.diags.append(
            make(
                "ND207",
                f"libstdc++ GLIBCXX_{c.row.glibcxx} / CXXABI_{c.row.cxxabi} inferred from the kernel release "
                f"{kernel} ({family}; the distribution's libstdc++ from GCC {c.row.gcc})",
                subject="libstdcxx",
                evidence=[
                    kernel_ev,
                    Evidence(
                        fact=f"rhel {major}: libstdc++ from GCC {c.row.gcc}, GLIBCXX_{c.row.glibcxx}",
                        source=c.citation,
                        unsure=c.unsure,
                    ),
                ],
            )
        )
    else:
        missing.append("libstdc++")
    if missing:
        r.diags.append(
            make(
                "ND206",
                f"{' and '.join(missing)} unknown: the distro table has no row for rhel {major} (kernel {kernel})",
                subject=f"rhel {major}",
                hint="state glibc and libstdcxx in a facts file, or add a sourced row to matrices/distros.yaml",
            )
        )
    return glibc, libstdcxx


def _split_gres(value: str) -> Iterator[str]:
    """Gres entries, split at commas outside parentheses (`gpu:a100:4(S:0,2),shard:8`)."""
    depth, start = 0, 0
    for i, ch in enumerate(value):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            yield value[start:i].strip()
            start = i + 1
    yield value[start:].strip()


def _gpus(r: _Reader, raw: str) -> tuple[tuple[GpuFacts, ...], int]:
    """The GPUs the node's Gres names (only those of a known model), and how many GPUs it names in all."""
    value = raw.strip()
    if value.lower() in _NONE:
        return (), 0
    r.labels["slurm/gres"] = value
    listed: list[GpuFacts] = []
    unknown: list[str] = []
    total = 0
    for entry in _split_gres(value):
        spec = entry.split("(", 1)[0]
        parts = [p for p in spec.split(":") if p]
        if not parts or parts[0] != "gpu":
            continue  # mps, shard, and site-defined gres say nothing about GPU models
        fields = [p for p in parts[1:] if p != "no_consume"]
        count_text = fields[-1] if fields else "1"
        if not (count_text.isascii() and count_text.isdigit()):
            r.unreadable("Gres", entry, "does not end in a GPU count")
            continue
        count = int(count_text)
        if count > _MAX_GPUS:
            r.unreadable("Gres", entry, "names an implausible number of GPUs")
            continue
        if count == 0:
            continue
        total += count
        gres_type = ":".join(fields[:-1])
        found = gpu_row_for_gres_type(gres_type) if gres_type else None
        if found is None:
            unknown.append(f"{count} x {gres_type!r}" if gres_type else f"{count} untyped")
            continue
        row, mig = found
        r.prov["gpus"] = Provenance.INFERRED
        r.diags.append(
            make(
                "ND311",
                f"Gres type {gres_type!r} read as {row.row.name} (compute capability {row.row.compute_capability})"
                + (", MIG devices" if mig else ""),
                subject="gpus",
                evidence=[
                    Evidence(fact=f"Gres={entry}", source=r.origin),
                    row.evidence(f"{row.row.name}: compute capability {row.row.compute_capability}"),
                ],
            )
        )
        listed.extend(_gpu_facts(row.row.name, row.row.compute_capability, mig, count))
    if total:
        r.labels["slurm/gpus"] = str(total)
    if unknown:
        r.warnings.append(
            (
                "ND312",
                f"GPU model unknown for {', '.join(unknown)} GPU(s): their compute capability is unknown, so they are "
                "not listed and no kernel-image check covers them",
                "gpus",
                (Evidence(fact=f"Gres={value}", source=r.origin),),
                "give the gres a type that names the model (gpu:a100:4) or collect measured facts with "
                "srun envresolve probe",
            )
        )
    gpus = tuple(g.model_copy(update={"index": i}) for i, g in enumerate(listed))
    return gpus, total


def _labels(labels: dict[str, str], f: dict[str, str]) -> None:
    active = set(_features(f.get("ActiveFeatures", "")))
    available = _features(f.get("AvailableFeatures", "")) or _features(f.get("Features", ""))
    for feature in available:
        labels[f"slurm.feature/{feature}"] = "active" if feature in active or not active else "available"
    for feature in sorted(active - set(available)):
        labels[f"slurm.feature/{feature}"] = "active"
    partitions = f.get("Partitions", "").strip()
    if partitions.lower() not in _NONE:
        labels["slurm/partitions"] = partitions


def _features(value: str) -> list[str]:
    value = value.strip()
    if value.lower() in _NONE:
        return []
    return [p.strip() for p in value.split(",") if p.strip()]


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t and t not in _VENDOR]


def _strip_suffix(tokens: list[str]) -> list[str]:
    out = list(tokens)
    while len(out) > 1 and _SUFFIX.match(out[-1]):
        out.pop()
    return out


@functools.cache
def _gpu_index() -> dict[str, tuple[GpuRow, ...]]:
    index: dict[str, list[GpuRow]] = {}
    for row in gpus_matrix().rows:
        for n in (row.name, *row.aliases):
            toks = _tokens(n)
            for key in {"".join(toks), "".join(_strip_suffix(toks))}:
                if key and row not in index.setdefault(key, []):
                    index[key].append(row)
    return {k: tuple(v) for k, v in index.items()}


@functools.lru_cache(maxsize=256)
def gpu_row_for_gres_type(gres_type: str) -> tuple[Sourced[GpuRow], bool] | None:
    """The GPU-table row a Slurm gres type names (`a100`, `h100`, `nvidia_a100-sxm4-80gb`, `V100`), and whether
    the type names MIG devices (`a100_3g.20gb`); None when the type names no model, or models of different
    compute capabilities."""
    toks = _tokens(gres_type)
    mig = False
    for i, t in enumerate(toks):
        if _MIG.match(t) and i > 0:
            toks, mig = toks[:i], True
            break
    index = _gpu_index()
    for key in ("".join(toks), "".join(_strip_suffix(toks))):
        rows = index.get(key, ())
        if rows and len({row.compute_capability for row in rows}) == 1:
            return Sourced(rows[0], gpus_matrix()), mig
    return None


# A partition repeats a handful of node shapes: validated value objects are built once per distinct shape.


@functools.lru_cache(maxsize=64)
def _cpu_facts(arch: str | None) -> CpuFacts:
    return CpuFacts() if arch is None else CpuFacts(arch=arch)


@functools.lru_cache(maxsize=4096)
def _os_facts(kernel: str | None) -> OsFacts:
    return OsFacts(kernel=kernel)


@functools.lru_cache(maxsize=1)
def _unknown_driver() -> DriverFacts:
    return DriverFacts()


@functools.lru_cache(maxsize=1024)
def _gpu_facts(name: str, cc: str, mig: bool, count: int) -> tuple[GpuFacts, ...]:
    return tuple(
        GpuFacts(index=i, name=name, compute_capability=cc, mig_enabled=True if mig else None) for i in range(count)
    )
