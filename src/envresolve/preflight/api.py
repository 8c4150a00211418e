"""The operator API: `check(lock_or_prefix, node) -> Report`.

Nodes are facts (`NodeFacts`), facts files, bundled profile names, Node `List` manifests, or `None` for the live
machine: only then is anything probed, here at the edge, through `envresolve.node.probe_with_diagnostics()` (and
the loader's ldconfig cache through `envresolve.preflight.loader.live_system()`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from envresolve._input import LimitError, loads_json, open_fd
from envresolve.compat.model import Environment
from envresolve.diagnostics import Diagnostic, Evidence, Severity, make, unique_diagnostics
from envresolve.errors import InputError
from envresolve.limits import MAX_LOCK_BYTES
from envresolve.node.facts import NodeFacts
from envresolve.preflight.fleet import check_fleet, group_key
from envresolve.preflight.loader import LoaderConfig, RecordedSystem, SystemLibraries, live_system
from envresolve.preflight.lockview import environment_from_lock
from envresolve.preflight.prefix import scan_prefix
from envresolve.preflight.report import Report

if TYPE_CHECKING:
    from envresolve.node.images import ImageFacts
    from envresolve.specs.model import EnvSpec

__all__ = [
    "NodeInput",
    "Rules",
    "check",
    "check_environment",
    "check_lock",
    "check_prefix",
    "check_spec",
    "is_lock_file",
    "nodes_from",
]

NodeInput = Union[NodeFacts, str, "os.PathLike[str]", Sequence[Union[NodeFacts, str, "os.PathLike[str]"]], None]
Rules = Callable[[Environment, NodeFacts], list[Diagnostic]]

#: findings about the files themselves: the same on every node, reported once
_NODE_INDEPENDENT = {"CK106", "CK108", "CK111"}


#: MATRIX rules an installed prefix answers better: the loader emulation resolves every DT_NEEDED entry (CK101)
#: and finds which libstdc++ copy really loads (CK104, CK105), where these rules reason from package metadata
_SUPERSEDED_IN_PREFIX = frozenset({"libstdcxx", "needed"})


def _default_rules() -> Rules:
    from envresolve.compat import evaluate

    return evaluate


def _prefix_rules() -> Rules:
    from envresolve.compat import RULES, evaluate

    kept = {name: rule for name, rule in RULES.items() if name not in _SUPERSEDED_IN_PREFIX}
    return lambda env, node: evaluate(env, node, rules=kept)


def nodes_from(node: NodeInput) -> tuple[list[NodeFacts], bool, list[Diagnostic]]:
    """The nodes to check, whether they were probed live (`node is None`), and what the probe reported.

    Raises `ProbeError` when the live machine cannot be probed, `InputError` for unreadable node sources.
    """
    if node is None:
        from envresolve.node import probe_with_diagnostics

        probed = probe_with_diagnostics()
        return [probed.node], True, [d if d.node else d.with_node(probed.node.label) for d in probed.diagnostics]
    if isinstance(node, NodeFacts):
        return [node], False, []
    if isinstance(node, (str, os.PathLike)):
        from envresolve.node import read_nodes

        loaded = read_nodes(node)
        # what loading could not read (a label, a GPU model Slurm does not name) is said in the report;
        # inferred facts (info) are not repeated there
        notes = _load_notes([d for _, found in loaded for d in found if d.severity is not Severity.INFO])
        return [n for n, _ in loaded], False, notes
    out: list[NodeFacts] = []
    all_notes: list[Diagnostic] = []
    for item in node:
        got, _, found = nodes_from(item)
        out += got
        all_notes += found
    return out, False, all_notes


def _load_notes(diags: list[Diagnostic], *, max_names: int = 6) -> list[Diagnostic]:
    """One finding per distinct problem: the same finding about many nodes (10,000 nodes with an untyped Gres)
    becomes one, naming its nodes in its evidence."""
    nodes: dict[str, list[str]] = {}
    first: dict[str, Diagnostic] = {}
    for d in diags:
        key = d.with_node(None).model_dump_json()
        first.setdefault(key, d)
        if d.node and d.node not in nodes.setdefault(key, []):
            nodes[key].append(d.node)
    out = []
    for key, d in first.items():
        names = nodes.get(key, [])
        if len(names) <= 1:
            out.append(d)
            continue
        shown = ", ".join(names[:max_names]) + (f", ... (+{len(names) - max_names})" if len(names) > max_names else "")
        out.append(
            d.model_copy(
                update={"node": None, "evidence": (*d.evidence, Evidence(fact=f"{len(names)} nodes: {shown}"))}
            )
        )
    return unique_diagnostics(out)


def check_environment(
    env: Environment,
    nodes: Sequence[NodeFacts],
    *,
    subject: str,
    kind: str = "lock",
    diagnostics: Sequence[Diagnostic] = (),
    rules: Rules | None = None,
    node_checks: Callable[[NodeFacts], list[Diagnostic]] | None = None,
) -> Report:
    """Run the compatibility rules for `env` on every node (once per group of identical nodes).

    `node_checks` adds findings that depend on the node but not on the packages (the lock's platform).
    """
    evaluate = rules or _default_rules()
    return check_fleet(
        nodes,
        lambda n: [*(node_checks(n) if node_checks else ()), *evaluate(env, n)],
        subject=subject,
        kind="spec" if kind == "spec" else "lock",
        packages=len(env.packages),
        diagnostics=diagnostics,
    )


def check_lock(
    lock: Any,
    nodes: Sequence[NodeFacts],
    *,
    subject: str | None = None,
    rules: Rules | None = None,
    notes: Sequence[Diagnostic] = (),
) -> Report:
    """Re-verify every package of a lock against the nodes, from the binary facts the lock recorded (no downloads)."""
    env, pkg_notes = environment_from_lock(lock)
    # lock-level notes (LK: e.g. packages not inspected) carry over; rule findings for the lock-time nodes do not,
    # the rules run again for the nodes checked now
    lock_diags = [
        d
        for d in getattr(lock, "diagnostics", ())
        if isinstance(d, Diagnostic) and d.code.startswith("LK") and not d.node
    ]
    spec = getattr(lock, "spec", None)
    name = subject or str(getattr(spec, "source", None) or "lock")
    platform = getattr(lock, "platform", None)
    return check_environment(
        env,
        nodes,
        subject=name,
        kind="lock",
        diagnostics=[*pkg_notes, *lock_diags, *notes],
        rules=rules,
        node_checks=lambda n: _platform_check(platform, n),
    )


#: conda subdir -> the architecture its packages run on
_SUBDIR_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64", "linux-ppc64le": "ppc64le"}


def _platform_check(platform: str | None, node: NodeFacts) -> list[Diagnostic]:
    arch = _SUBDIR_ARCH.get(platform or "")
    if arch is None or arch == node.cpu.arch:
        return []
    return [
        make(
            "CK113",
            f"the lock is for {platform}, the node is {node.cpu.arch}",
            subject=platform,
            hint=f"lock again for the node's platform (envresolve lock --node ... on a {node.cpu.arch} node's facts)",
        )
    ]


def check_prefix(
    prefix: str | os.PathLike[str],
    nodes: Sequence[NodeFacts],
    *,
    live: bool = False,
    ld_library_path: Sequence[str] = (),
    env_lib_on_path: bool = False,
    install_path: str | None = None,
    rules: Rules | None = None,
    system: SystemLibraries | None = None,
    notes: Sequence[Diagnostic] = (),
) -> Report:
    """Check an installed environment. `live=True` reads this machine's ldconfig cache for the node side.

    The prefix is scanned once per group of nodes with identical facts; file-level findings are reported once.
    The matrix rules run on the installed packages, except those the loader emulation answers precisely
    (library resolution and the libstdc++ that loads).
    """
    evaluate = rules or _prefix_rules()
    if not nodes:
        raise InputError(make("CK112", "no node to check against"))
    cache: dict[str, list[Diagnostic]] = {}
    env_diags: list[Diagnostic] = list(notes)
    first: dict[str, Any] = {}

    def one(node: NodeFacts) -> list[Diagnostic]:
        key = group_key(node)
        if key not in cache:
            sys_libs = system or (live_system(machine=node.cpu.arch) if live else RecordedSystem(node))
            config = LoaderConfig(
                ld_library_path=tuple(ld_library_path),
                env_lib_on_path=env_lib_on_path,
                install_path=install_path,
                platform=node.cpu.arch,
            )
            scan = scan_prefix(Path(prefix), node, sys_libs, config)
            if not first:
                first["scan"] = scan
                env_diags.extend(d for d in scan.diagnostics if d.code in _NODE_INDEPENDENT)
            found = [d for d in scan.diagnostics if d.code not in _NODE_INDEPENDENT]
            cache[key] = found + evaluate(scan.environment, node)
        return cache[key]

    # scan for the first node before building the report, so file-level findings are known up front
    one(nodes[0])
    return check_fleet(
        nodes,
        one,
        subject=str(prefix),
        kind="prefix",
        packages=len(first["scan"].environment.packages),
        objects=first["scan"].objects,
        diagnostics=env_diags,
    )


def is_lock_file(path: Path) -> bool:
    """True for an envresolve lockfile (a JSON object with `lock-version`), as opposed to a spec."""
    try:
        fd, _st = open_fd(path)  # a FIFO or a device is no lock: the spec reader then refuses it (GN106)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as fh:
        head = fh.read(4096)
        if not head.lstrip().startswith(b"{"):
            return False
        data = head + fh.read(MAX_LOCK_BYTES + 1 - len(head))
    if len(data) > MAX_LOCK_BYTES:
        return False
    try:
        obj = loads_json(data)
    except LimitError:  # a lock over a limit: the lock reader says which (GN108, GN109)
        return b'"lock-version"' in head
    except ValueError:
        return False
    return isinstance(obj, dict) and "lock-version" in obj


def check_spec(
    spec: str | os.PathLike[str] | EnvSpec,
    nodes: Sequence[NodeFacts],
    *,
    offline: bool = False,
    settings: Any = None,
    rules: Rules | None = None,
    image: ImageFacts | None = None,
    allow_outside_includes: bool = False,
) -> list[Report]:
    """Resolve each environment of a spec for the nodes (`envresolve.orchestrate.resolve`), then check the result.

    An environment runs in its spec's container image (a Dockerfile's FROM, an ImageSpec's base image) or else in
    `image`, when given: the image decides glibc and libstdc++, each node the driver and GPUs.
    `allow_outside_includes` lets `-r`/`-c` includes leave the spec's directory (refused by default: SP160).

    When one lock serves every node, that lock is checked like a lockfile. When there is none, each node's verdict
    is the resolver's outcome for it (its blocking fact and findings). `settings` is a
    `envresolve.ResolveSettings`, passed through. A spec with errors of its own (a line that is not a
    requirement, a match spec that does not parse) raises `InputError` with them, as `lock` does.
    """
    from envresolve.orchestrate import resolve

    if isinstance(spec, (str, os.PathLike)):
        from envresolve.specs import load_spec

        specs = list(load_spec(Path(spec), allow_outside_includes=allow_outside_includes))
    else:
        specs = [spec]
    reports = []
    for s in specs:
        spec_errors = [d for d in s.diagnostics if d.severity is Severity.ERROR]
        if spec_errors:  # a spec that cannot be read as written is an input error, as for `lock` (exit 2)
            raise InputError(spec_errors)
        subject = f"{s.source}{f' ({s.name})' if s.name else ''}"
        if s.image is None and image is not None:
            s = s.model_copy(update={"image": image})
        resolution = resolve(s, list(nodes), offline=offline, settings=settings)
        judged = list(nodes)
        if s.image is not None:
            from envresolve.node.images import image_on_node

            judged = [image_on_node(s.image, n) for n in nodes]
        extra = [d for d in resolution.diagnostics if d.severity is not Severity.INFO]
        if resolution.lock is not None:
            # the rules run again below for every node: keep the resolver's own notes, not its rule findings
            extra = [d for d in extra if not d.code.startswith("CP")]
            env, notes = environment_from_lock(resolution.lock)
            reports.append(
                check_environment(env, judged, subject=subject, kind="spec", diagnostics=[*notes, *extra], rules=rules)
            )
            continue
        reports.append(
            check_fleet(judged, _outcomes(resolution, judged, extra), subject=subject, kind="spec", packages=0)
        )
    return reports


def _outcomes(
    resolution: Any, nodes: Sequence[NodeFacts], extra: list[Diagnostic]
) -> Callable[[NodeFacts], list[Diagnostic]]:
    """Per-node findings of a resolution that found no common lock: each node's own outcome."""
    outcomes = list(resolution.nodes)
    by_name = {o.node: o for o in outcomes}
    positional = len(outcomes) == len(nodes)

    def outcome_of(node: NodeFacts) -> list[Diagnostic]:
        o = outcomes[list(nodes).index(node)] if positional else by_name.get(node.label)
        if o is None:
            return list(extra) or [make("CK112", f"the resolver reported nothing for {node.label}")]
        found = list(o.diagnostics)
        if not o.ok and not any(d.severity is Severity.ERROR for d in found):
            found = [*extra, *found]
        return found

    return outcome_of


def check(
    lock_or_prefix: Any,
    node: NodeInput = None,
    *,
    ld_library_path: Sequence[str] = (),
    env_lib_on_path: bool = False,
    install_path: str | None = None,
    rules: Rules | None = None,
    allow_outside_includes: bool = False,
) -> Report:
    """Can this environment run on this node (or these nodes)? Returns a JSON-ready `Report`.

    `lock_or_prefix` is a lock (`envresolve.lock.model.Lock`), an `Environment`, or a path: a directory is an
    installed prefix (conda env or venv), a file is a lockfile or a spec (a spec is resolved first, and must hold
    one environment). `node` is facts, a facts file / profile name / Node `List`, a list of those, or None to
    probe this machine (raises `ProbeError` when it cannot). `allow_outside_includes` lets a spec's `-r`/`-c`
    includes leave its directory (refused by default: SP160).
    """
    nodes, live, notes = nodes_from(node)
    if not nodes:
        raise InputError(make("CK112", "no node to check against"))
    if isinstance(lock_or_prefix, Environment):
        return check_environment(lock_or_prefix, nodes, subject="environment", rules=rules)
    if not isinstance(lock_or_prefix, (str, os.PathLike)):
        return check_lock(lock_or_prefix, nodes, rules=rules, notes=notes)
    path = Path(lock_or_prefix)
    if path.is_dir():
        return check_prefix(
            path,
            nodes,
            live=live,
            ld_library_path=ld_library_path,
            env_lib_on_path=env_lib_on_path,
            install_path=install_path,
            rules=rules,
            notes=notes,
        )
    if not path.exists():
        raise InputError(make("GN101", f"no such file or directory: {path}", subject=str(path)))
    if is_lock_file(path):
        from envresolve.lock.io import read

        return check_lock(read(path), nodes, subject=str(path), rules=rules, notes=notes)
    reports = check_spec(path, nodes, rules=rules, allow_outside_includes=allow_outside_includes)
    if len(reports) != 1:
        raise InputError(
            make("GN104", f"{path} holds {len(reports)} environments; check them with check_spec()", subject=str(path))
        )
    return reports[0]
