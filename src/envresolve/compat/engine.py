"""The rule engine: every rule over an environment, and the candidate-level verdict the resolvers use."""

from __future__ import annotations

import re
from collections.abc import Callable

from packaging.utils import canonicalize_name

from envresolve.compat.cudalibs import check_cudnn, check_mixed_majors, check_nccl
from envresolve.compat.driver import check_driver
from envresolve.compat.extensions import check_extensions
from envresolve.compat.kernels import check_kernels
from envresolve.compat.libs import check_glibc, check_libstdcxx, check_needed
from envresolve.compat.model import Environment, Package
from envresolve.compat.torch import check_companions, check_cxx11_abi, check_python
from envresolve.compat.unknown import check_unknown_facts
from envresolve.diagnostics import Diagnostic, sort_diagnostics
from envresolve.node.facts import NodeFacts

__all__ = ["RULES", "Rule", "candidate_verdict", "evaluate", "undecided_dependencies"]

#: A rule: pure function of the environment and the node facts.
Rule = Callable[[Environment, NodeFacts], list[Diagnostic]]

#: name -> rule, in report order
RULES: dict[str, Rule] = {
    "driver": check_driver,
    "kernels": check_kernels,
    "glibc": check_glibc,
    "libstdcxx": check_libstdcxx,
    "needed": check_needed,
    "cxx11-abi": check_cxx11_abi,
    "companions": check_companions,
    "mixed-cuda-majors": check_mixed_majors,
    "cudnn": check_cudnn,
    "nccl": check_nccl,
    "python": check_python,
    "extensions": check_extensions,
    "unknown-facts": check_unknown_facts,
}


def evaluate(env: Environment, node: NodeFacts, *, rules: dict[str, Rule] | None = None) -> list[Diagnostic]:
    """Run every rule (or the given ones) and return the findings, worst first."""
    out: list[Diagnostic] = []
    for fn in (rules or RULES).values():
        out.extend(fn(env, node))
    return sort_diagnostics(out)


def _key(d: Diagnostic) -> tuple[str, str | None, str]:
    return d.code, d.subject, d.message


def candidate_verdict(pkg: Package, node: NodeFacts, chosen: Environment) -> list[Diagnostic]:
    """What goes wrong if `pkg` joins the packages already chosen (replacing one of the same name and ecosystem).

    Returns only the findings the candidate introduces; a resolver rejects the candidate when any is an error.
    Libraries (CP130) are judged against the candidate plus its dependency closure: while a dependency the
    candidate declares is not chosen yet, that closure is unknown, so a library it may bring is never "missing".
    """
    name = canonicalize_name(pkg.name)
    rest = tuple(p for p in chosen.packages if not (canonicalize_name(p.name) == name and p.ecosystem == pkg.ecosystem))
    with_pkg = chosen.model_copy(update={"packages": (*rest, pkg)})
    before = _findings_without(chosen, node, name, pkg.ecosystem, rest)
    open_closure = bool(undecided_dependencies(pkg, chosen))
    return [
        d
        for d in evaluate(with_pkg, node)
        if _key(d) not in before and not (open_closure and d.code == "CP130" and d.subject == pkg.name)
    ]


#: (id(chosen), id(node), name, ecosystem) -> (chosen, node, rules, findings): what the environment has without a
#: name. A resolver judges every candidate of a name against the same `chosen`, so this is computed once per name
#: instead of once per candidate. The objects are kept and compared by identity (they are frozen), and so are the
#: rules (a caller may swap them).
_WITHOUT: dict[tuple[int, int, str, str], tuple[Environment, NodeFacts, tuple[Rule, ...], frozenset[object]]] = {}
_WITHOUT_MAX = 512


def _findings_without(
    chosen: Environment, node: NodeFacts, name: str, ecosystem: str, rest: tuple[Package, ...]
) -> frozenset[object]:
    key = (id(chosen), id(node), name, ecosystem)
    rules = tuple(RULES.values())
    hit = _WITHOUT.get(key)
    if hit is not None and hit[0] is chosen and hit[1] is node and hit[2] == rules:
        return hit[3]
    found = frozenset(_key(d) for d in evaluate(chosen.model_copy(update={"packages": rest}), node))
    if len(_WITHOUT) >= _WITHOUT_MAX:
        _WITHOUT.clear()
    _WITHOUT[key] = (chosen, node, rules, found)
    return found


_DEP = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


def undecided_dependencies(pkg: Package, chosen: Environment) -> list[str]:
    """The dependencies in `pkg`'s closure (Requires-Dist / conda depends, followed through the packages `chosen`
    holds) that `chosen` does not hold yet. Markers are not evaluated: a dependency that may apply counts."""
    by_name = {canonicalize_name(p.name): p for p in chosen.packages}
    out: list[str] = []
    seen = {canonicalize_name(pkg.name)}
    todo = [pkg]
    while todo:
        for dep in todo.pop().depends:
            match = _DEP.match(dep)
            if not match:
                continue
            dname = canonicalize_name(match["name"])
            if dname in seen:
                continue
            seen.add(dname)
            got = by_name.get(dname)
            if got is None:
                out.append(match["name"])
            else:
                todo.append(got)
    return out
