from __future__ import annotations

from envresolve.node.microarch import LEVEL_FLAGS, level_from_flags, level_name, parse_cpuinfo_flags

V1 = set(LEVEL_FLAGS[1])
V2 = V1 | LEVEL_FLAGS[2]
V3 = V2 | LEVEL_FLAGS[3]
V4 = V3 | LEVEL_FLAGS[4]


def test_levels() -> None:
    assert level_from_flags(set()) is None
    assert level_from_flags(V1) == 1
    assert level_from_flags(V2) == 2
    assert level_from_flags(V3) == 3
    assert level_from_flags(V4) == 4


def test_a_level_needs_every_lower_level() -> None:
    assert level_from_flags(V4 - {"popcnt"}) == 1  # AVX-512 without POPCNT is still only v1
    assert level_from_flags(V3 - {"movbe"}) == 2
    assert level_from_flags(V4 - {"avx512vl"}) == 3


def test_cpuinfo_parsing() -> None:
    text = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: " + " ".join(sorted(V3)) + "\n\nprocessor\t: 1\n"
    assert level_from_flags(parse_cpuinfo_flags(text)) == 3
    assert parse_cpuinfo_flags("processor : 0\nFeatures : fp asimd\n") == set()


def test_names() -> None:
    assert level_name("x86_64", 3) == "x86_64_v3"
    assert level_name("x86_64", 1) == "x86_64"
    assert level_name("x86_64", None) == "x86_64"
    assert level_name("aarch64", None) == "aarch64"
