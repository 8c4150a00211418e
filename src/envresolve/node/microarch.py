"""x86-64 microarchitecture levels from CPU flags (pure; the probe passes /proc/cpuinfo's flags).

The levels are those of the x86-64 psABI ("Micro-Architecture Levels" table), which glibc, GCC,
archspec and conda's `__archspec` use. Each level needs every flag of the levels below it. The names
are the Linux `/proc/cpuinfo` spellings: `pni` is SSE3, `abm` is LZCNT, `lahf_lm` is LAHF/SAHF in
64-bit mode.

- v1 (baseline x86-64): cmov cx8 fpu fxsr mmx syscall sse sse2
- v2: cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3
- v3: abm avx avx2 bmi1 bmi2 f16c fma movbe xsave
- v4: avx512f avx512bw avx512cd avx512dq avx512vl
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["LEVEL_FLAGS", "level_from_flags", "level_name", "parse_cpuinfo_flags"]

LEVEL_FLAGS: dict[int, frozenset[str]] = {
    1: frozenset({"cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2"}),
    2: frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}),
    3: frozenset({"abm", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}),
    4: frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}),
}


def level_from_flags(flags: Iterable[str]) -> int | None:
    """The highest level whose flags (and all lower levels' flags) are present; None below v1."""
    have = {f.strip().lower() for f in flags}
    level = None
    for lvl in (1, 2, 3, 4):
        if not LEVEL_FLAGS[lvl] <= have:
            break
        level = lvl
    return level


def parse_cpuinfo_flags(text: str) -> set[str]:
    """The flags of the first processor in `/proc/cpuinfo` text (x86 writes `flags : a b c`)."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return set(value.split())
    return set()


def level_name(arch: str, level: int | None) -> str:
    """archspec's generic name: `x86_64` for v1 (and unknown), `x86_64_v2`..`x86_64_v4`, else the arch."""
    if arch != "x86_64":
        return arch
    return "x86_64" if level in (None, 1) else f"x86_64_v{level}"
