"""Aggregate the facts of every ELF member into one ArtifactReport per wheel, package or directory.

External libraries: every DT_NEEDED name that no member provides (by file name, soname or, in
conda packages and prefixes, a symlink name). Names that every glibc-based system has (glibc's own
libraries, the dynamic loader, libgcc_s and libstdc++) stay in `external_libs` - they *are* outside
the artifact, and their versions matter (GLIBC_/GLIBCXX_ needs) - but are also listed in
`system_libs`, so "what must come from another package" is `external_libs - system_libs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from packaging.version import InvalidVersion, Version

from envresolve.binary.elf import TAG_ARCH_MACHINES
from envresolve.binary.model import ArtifactReport, ElfFacts, max_version
from envresolve.diagnostics import Diagnostic, Evidence, make, sort_diagnostics

__all__ = ["SYSTEM_LIBS", "TagPromise", "build_report", "bundled_runtime_cuda", "is_system_lib"]


@dataclass(frozen=True)
class TagPromise:
    """What a manylinux policy lets a wheel need at most (pypa's policy data): the highest GLIBC_, GLIBCXX_ and
    CXXABI_ versions, the policy's name and the citation of the matrix row they come from."""

    policy: str
    glibc: str
    glibcxx: str
    cxxabi: str
    source: str


#: libraries of glibc itself, the dynamic loaders, and the GCC runtime that every glibc system ships
SYSTEM_LIBS = frozenset(
    {
        *("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libutil.so.1"),
        *("libresolv.so.2", "libcrypt.so.1", "libnsl.so.1", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1"),
        *("libthread_db.so.1", "libc_malloc_debug.so.0", "libmemusage.so", "libpcprofile.so"),
        *("ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "ld-linux.so.2", "ld64.so.2", "ld64.so.1"),
        *("ld-linux-armhf.so.3", "ld-linux-riscv64-lp64d.so.1"),
        *("libgcc_s.so.1", "libstdc++.so.6"),
    }
)
_NSS = re.compile(r"^libnss_[a-z0-9_]+\.so\.2$")
_CUDART = re.compile(r"^libcudart\.so\.(\d+)")


def is_system_lib(name: str) -> bool:
    """True for libraries every glibc-based Linux system provides (glibc, the loader, libgcc_s, libstdc++)."""
    return name in SYSTEM_LIBS or bool(_NSS.match(name))


def bundled_runtime_cuda(paths: Iterable[str]) -> str | None:
    """The CUDA version of a runtime shipped under a hashed name among these paths (`matrices/names.yaml`,
    bundled-runtime: `libcudart-80664282.so.10.2` gives '10.2', `libcudart-e409450e.so.11.0` gives '11')."""
    from envresolve.matrices.names import decode_bundled_runtime

    for path in sorted(paths):
        facts = decode_bundled_runtime(path)
        if facts is not None:
            return facts.cuda or (str(facts.cuda_major) if facts.cuda_major is not None else None)
    return None


def _vkey(v: str) -> Version:
    try:
        return Version(v)
    except InvalidVersion:
        return Version("0")


def _arch_key(arch: str) -> tuple[int, str]:
    m = re.match(r"^(?:sm|compute)_(\d+)([a-z]?)$", arch)
    return (int(m.group(1)), m.group(2)) if m else (1 << 30, arch)


def build_report(
    *,
    artifact: str,
    kind: Literal["wheel", "conda", "elf", "directory"],
    elf: Sequence[ElfFacts],
    provided: Iterable[str] = (),
    diagnostics: Iterable[Diagnostic] = (),
    sha256: str | None = None,
    platform_tag: str | None = None,
    tag_glibc: str | None = None,
    tag_musl: str | None = None,
    tag_archs: Iterable[str] = (),
    tag_promise: TagPromise | None = None,
    name: str | None = None,
    version: str | None = None,
    build: str | None = None,
    files: int = 0,
) -> ArtifactReport:
    """Aggregate member facts, compare them with the tag, and return the report.

    `tag_promise` (wheels whose manylinux policy is known) adds the policy's GLIBCXX_/CXXABI_ ceilings to the
    glibc one; a member needing more than any ceiling is BN601."""
    elf = sorted(elf, key=lambda f: f.path)
    diags = list(diagnostics)
    all_needs = [v for f in elf for vs in f.version_needs.values() for v in vs]
    max_glibc = max_version(all_needs, "GLIBC")
    provided_names = set(provided) | {f.path.rsplit("/", 1)[-1] for f in elf} | {f.soname for f in elf if f.soname}
    needed = {n for f in elf for n in f.needed}
    external = sorted(needed - provided_names)
    majors: set[int] = set()
    static = dlopen = False
    for f in elf:
        if f.cuda_runtime is not None:
            if f.cuda_runtime.mode == "static":
                static = True
            elif f.cuda_runtime.mode == "dlopen":
                dlopen = True
            elif f.cuda_runtime.major is not None:
                majors.add(f.cuda_runtime.major)
        for n in f.needed:
            m = _CUDART.match(n)
            if m:
                majors.add(int(m.group(1)))
    bundled = bundled_runtime_cuda(provided_names)
    sass = sorted({e.arch for f in elf for e in f.fatbin if e.kind == "sass"}, key=_arch_key)
    ptx = sorted({e.arch for f in elf for e in f.fatbin if e.kind == "ptx"}, key=_arch_key)

    understated = _understated(all_needs, tag_glibc, tag_promise)
    if understated:
        diags.append(_bn601(artifact, kind, platform_tag, elf, tag_promise, understated))
    archs = set(tag_archs)
    allowed = {TAG_ARCH_MACHINES.get(a, a) for a in archs}  # the ELF reader's one naming of machines
    if allowed:
        for f in elf:
            if f.machine and f.machine.lower() not in allowed:
                diags.append(
                    make(
                        "BN602",
                        f"{f.path} is built for {f.machine}, the platform tag says {', '.join(sorted(archs))}",
                        subject=f"{artifact}:{f.path}",
                    )
                )

    return ArtifactReport(
        artifact=artifact,
        kind=kind,
        sha256=sha256,
        platform_tag=platform_tag,
        tag_glibc=tag_glibc,
        tag_musl=tag_musl,
        elf=tuple(elf),
        max_glibc=max_glibc,
        max_glibcxx=max_version(all_needs, "GLIBCXX"),
        max_cxxabi=max_version(all_needs, "CXXABI"),
        cuda_runtime_majors=tuple(sorted(majors)),
        cuda_runtime_static=static,
        cuda_runtime_dlopen=dlopen,
        cuda_runtime_bundled=bundled,
        sass_archs=tuple(sass),
        ptx_archs=tuple(ptx),
        external_libs=tuple(external),
        system_libs=tuple(n for n in external if is_system_lib(n)),
        diagnostics=tuple(sort_diagnostics(diags)),
        name=name,
        version=version,
        build=build,
        files=files,
    )


def _understated(all_needs: list[str], tag_glibc: str | None, promise: TagPromise | None) -> list[tuple[str, str, str]]:
    """(symbol family, highest need, ceiling) for each family whose need exceeds what the tag promises."""
    ceilings: dict[str, str] = {}
    if tag_glibc:
        # a policy may allow a newer GLIBC_ than its name (manylinux2014 on aarch64 allows GLIBC_2.18)
        ceilings["GLIBC"] = promise.glibc if promise and _vkey(promise.glibc) > _vkey(tag_glibc) else tag_glibc
    if promise is not None:
        ceilings["GLIBCXX"] = promise.glibcxx
        ceilings["CXXABI"] = promise.cxxabi
    out = []
    for family, ceiling in ceilings.items():
        need = max_version(all_needs, family)
        if need and _vkey(need) > _vkey(ceiling):
            out.append((family, need, ceiling))
    return out


def _bn601(
    artifact: str,
    kind: str,
    platform_tag: str | None,
    elf: Sequence[ElfFacts],
    promise: TagPromise | None,
    understated: list[tuple[str, str, str]],
) -> Diagnostic:
    evidence: list[Evidence | str] = []
    parts: list[str] = []
    hints: list[str] = []
    for family, need, ceiling in understated:
        floor = _vkey(ceiling)
        culprits = [f for f in elf if _vkey(f.needs(family) or "0") > floor]
        culprits.sort(key=lambda f: (_vkey(f.needs(family) or "0"), f.path), reverse=True)
        evidence += [
            f"{f.path} needs {family}_{f.needs(family)} (from {_needing_lib(f, f'{family}_{f.needs(family)}')})"
            for f in culprits[:8]
        ]
        if family == "GLIBC":
            parts.append(
                f"package depends on __glibc >={ceiling}, but members need GLIBC_{need}"
                if kind == "conda"
                else f"platform tag {platform_tag} promises glibc {ceiling}, but members need GLIBC_{need}"
            )
            hints.append(f"glibc >= {need}")
        else:
            policy = promise.policy if promise else "its manylinux policy"
            parts.append(
                f"{platform_tag} ({policy}) allows {family}_{ceiling} at most, but members need {family}_{need}"
            )
            hints.append(f"a libstdc++ defining {family}_{need}")
    evidence.append(f"platform tag: {platform_tag}")
    if promise is not None and any(family != "GLIBC" for family, _, _ in understated):
        evidence.append(
            Evidence(
                fact=f"policy {promise.policy}: GLIBCXX_{promise.glibcxx}, CXXABI_{promise.cxxabi} at most",
                source=promise.source,
            )
        )
    return make(
        "BN601",
        "; ".join(parts),
        subject=artifact,
        evidence=evidence,
        hint=f"treat this artifact as needing {' and '.join(hints)}",
    )


def _needing_lib(f: ElfFacts, version: str) -> str:
    libs = sorted(lib for lib, vs in f.version_needs.items() if version in vs)
    return ", ".join(libs) or "?"
