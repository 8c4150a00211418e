"""The C++ standard-library ABI flavour of an object, decided from its dynamic symbol names.

GCC 5 moved `std::string` and `std::list` into the inline namespace `std::__cxx11` (the "cxx11" ABI);
`-D_GLIBCXX_USE_CXX11_ABI=0` keeps the old layout (pre-cxx11). The two are not link compatible: an
extension built with one cannot call a library built with the other through a `std::string`.

The rule, applied to the dynamic string table (every name the object imports or exports):

cxx11 evidence
    `St7__cxx11` (a name inside `std::__cxx11`, e.g. `NSt7__cxx1112basic_stringI...`) or `B5cxx11`
    (the ABI tag GCC adds to functions returning such a type).
pre-cxx11 evidence
    a member function of the old `std::string` (`_ZNSs...`, `_ZNKSs...`: the `Ss` abbreviation only
    denotes the old `std::basic_string<char>`), a parameter of that type (`RKSs`, `PKSs`, `RSs`),
    or the old `std::list` (`St4listI`; the cxx11 one is `NSt7__cxx114listI`).

Both -> "mixed" (libstdc++ itself, or objects built from sources compiled both ways); neither -> "none"
(C code, or C++ without strings/lists in its dynamic interface, which links with either flavour).
All checks are substring searches (C speed); the old-ABI patterns are chosen so that they do not occur
inside length-prefixed identifiers in practice (they need upper-case runs like `RKSs` or a name start).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["CxxAbi", "cxx_abi_flavour"]

CxxAbi = Literal["cxx11", "pre-cxx11", "mixed", "none"]

_CXX11 = (b"St7__cxx11", b"B5cxx11")
_OLD = (b"\0_ZNSs", b"\0_ZNKSs", b"RKSs", b"PKSs", b"RSs", b"St4listI")


def cxx_abi_flavour(dynstr: bytes | bytearray | memoryview) -> CxxAbi:
    """Classify a dynamic string table (DT_STRTAB bytes, NUL separated) as cxx11 / pre-cxx11 / mixed / none."""
    blob = bytes(dynstr) if isinstance(dynstr, memoryview) else dynstr
    if not blob.startswith(b"\0"):
        blob = b"\0" + blob
    new = any(blob.find(p) >= 0 for p in _CXX11)
    old = any(blob.find(p) >= 0 for p in _OLD)
    if new and old:
        return "mixed"
    if new:
        return "cxx11"
    if old:
        return "pre-cxx11"
    return "none"
