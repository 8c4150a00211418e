"""Probing the live machine: the ONLY module of envresolve that reads facts off the machine it runs on.

Order of sources: NVML through `nvidia-ml-py` first; when NVML is unusable, `/proc/driver/nvidia/version`
plus `nvidia-smi --query-gpu` (with a timeout); with neither, a node without GPUs and an info finding.
glibc comes from the C library itself, libstdc++ from where the dynamic loader would find it, its levels
from its ELF version definitions.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envresolve.diagnostics import Diagnostic, make
from envresolve.node.facts import CpuFacts, DriverFacts, GpuFacts, LibStdCxxFacts, NodeFacts, OsFacts, Provenance
from envresolve.node.libstdcxx import (
    STANDARD_DIRS,
    highest_versions,
    parse_ld_so_cache,
    parse_ldconfig_p,
    version_definitions,
)
from envresolve.node.microarch import level_from_flags, parse_cpuinfo_flags
from envresolve.node.nvidia_smi import QUERY_FIELDS, parse_cuda_version, parse_proc_version, parse_query_gpu
from envresolve.node.nvml import NvmlCallError, NvmlLike, NvmlUnavailable, collect

__all__ = ["ProbeResult", "PynvmlAdapter", "probe", "probe_with_diagnostics"]

NVIDIA_SMI_TIMEOUT_S = 10.0
_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "ppc64le": "ppc64le"}


@dataclass
class ProbeResult:
    """The probed facts and what the probe had to say about them."""

    node: NodeFacts
    diagnostics: list[Diagnostic] = field(default_factory=list)


class PynvmlAdapter:
    """`NvmlLike` over `nvidia-ml-py` (`import pynvml`): NVML errors become `NvmlCallError`."""

    def __init__(self) -> None:
        self._nv: Any = None
        self._handles: dict[int, Any] = {}

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        nv = self._nv
        try:
            return fn(*args)
        except nv.NVMLError as exc:
            code = getattr(exc, "value", None)
            raise NvmlCallError(str(exc), not_supported=code == nv.NVML_ERROR_NOT_SUPPORTED) from None

    def _handle(self, index: int) -> Any:
        if index not in self._handles:
            self._handles[index] = self._call(self._nv.nvmlDeviceGetHandleByIndex, index)
        return self._handles[index]

    def init(self) -> None:
        try:
            import pynvml
        except ImportError as exc:
            raise NvmlUnavailable(f"nvidia-ml-py is not installed: {exc}") from None
        self._nv = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise NvmlUnavailable(str(exc)) from None
        except OSError as exc:  # some versions leak loader errors
            raise NvmlUnavailable(str(exc)) from None

    def shutdown(self) -> None:
        if self._nv is not None:
            self._call(self._nv.nvmlShutdown)

    @staticmethod
    def _text(value: Any) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    def driver_version(self) -> str:
        return self._text(self._call(self._nv.nvmlSystemGetDriverVersion))

    def cuda_driver_version(self) -> int:
        fn = getattr(self._nv, "nvmlSystemGetCudaDriverVersion_v2", None) or self._nv.nvmlSystemGetCudaDriverVersion
        return int(self._call(fn))

    def device_count(self) -> int:
        return int(self._call(self._nv.nvmlDeviceGetCount))

    def name(self, index: int) -> str:
        return self._text(self._call(self._nv.nvmlDeviceGetName, self._handle(index)))

    def uuid(self, index: int) -> str:
        return self._text(self._call(self._nv.nvmlDeviceGetUUID, self._handle(index)))

    def compute_capability(self, index: int) -> tuple[int, int]:
        major, minor = self._call(self._nv.nvmlDeviceGetCudaComputeCapability, self._handle(index))
        return int(major), int(minor)

    def memory_total(self, index: int) -> int:
        return int(self._call(self._nv.nvmlDeviceGetMemoryInfo, self._handle(index)).total)

    def mig_mode(self, index: int) -> int:
        current, _pending = self._call(self._nv.nvmlDeviceGetMigMode, self._handle(index))
        return int(current)

    def pci_device_id(self, index: int) -> int:
        return int(self._call(self._nv.nvmlDeviceGetPciInfo, self._handle(index)).pciDeviceId)


def probe() -> NodeFacts:
    """Probe this machine. Never raises for a missing GPU or driver: that is a node without GPUs.

    Raises `ProbeError` (ND109) only on a CPU architecture node facts cannot name.
    """
    return probe_with_diagnostics().node


def probe_with_diagnostics(
    *,
    nvml: NvmlLike | None = None,
    root: Path = Path("/"),
    run: Callable[[list[str], float], tuple[int, str]] | None = None,
) -> ProbeResult:
    """Probe this machine and say what could not be probed.

    `nvml`, `root` and `run` exist for tests: a fake NVML, a directory standing in for `/` (for
    /proc, /etc and /sys), and a stand-in for running `nvidia-smi`/`ldconfig`.
    """
    diags: list[Diagnostic] = []
    run = run or _run
    prov: dict[str, Provenance] = {}
    os_facts = _os(root, diags)
    prov.update(os=Provenance.PROBED, kernel=Provenance.PROBED)
    cpu = _cpu(root)
    prov["cpu"] = Provenance.PROBED
    glibc = _glibc(diags)
    if glibc:
        prov["glibc"] = Provenance.PROBED
    libstdcxx = _libstdcxx(cpu.arch, root, run, diags)
    if libstdcxx:
        prov["libstdcxx"] = Provenance.PROBED
    driver, gpus = _gpus(nvml or PynvmlAdapter(), root, run, diags)
    # "no driver, no GPUs" is a probed answer too
    prov.update(driver=Provenance.PROBED, gpus=Provenance.PROBED)
    if driver and driver.cuda:
        prov["cuda"] = Provenance.PROBED
    host = platform.node() or None
    node = NodeFacts(
        name=host,
        source="probe",
        os=os_facts,
        cpu=cpu,
        glibc=glibc,
        libstdcxx=libstdcxx,
        driver=driver,
        gpus=gpus,
        provenance=prov,
    )
    return ProbeResult(node=node, diagnostics=diags)


def _run(cmd: list[str], timeout: float) -> tuple[int, str]:
    """Run a command with a timeout; (exit status, stdout). A missing program or a timeout is status 127/124."""
    exe = shutil.which(cmd[0])
    if exe is None:
        return 127, ""
    try:
        proc = subprocess.run(
            [exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout, check=False, errors="replace"
        )
    except subprocess.TimeoutExpired:
        return 124, ""
    except OSError:
        return 126, ""
    return proc.returncode, proc.stdout


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _os(root: Path, diags: list[Diagnostic]) -> OsFacts:
    text = _read(root / "etc/os-release") or _read(root / "usr/lib/os-release")
    fields: dict[str, str] = {}
    if text is None:
        diags.append(make("ND108", "no /etc/os-release or /usr/lib/os-release", subject="os"))
    else:
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in {"ID", "VERSION_ID"}:
                fields[key.strip()] = value.strip().strip("\"'")
    kernel = _read(root / "proc/sys/kernel/osrelease")
    kernel = kernel.strip() if kernel else (platform.release() or None)
    return OsFacts(id=fields.get("ID"), version_id=fields.get("VERSION_ID"), kernel=kernel)


def _cpu(root: Path) -> CpuFacts:
    machine = platform.machine()
    arch = _ARCH.get(machine.lower())
    if arch is None:
        from envresolve.errors import ProbeError

        raise ProbeError(make("ND109", f"cannot describe a {machine or 'unknown'} machine", subject="cpu"))
    level = None
    if arch == "x86_64":
        text = _read(root / "proc/cpuinfo")
        if text:
            level = level_from_flags(parse_cpuinfo_flags(text))
    return CpuFacts(arch=arch, microarch_level=level)


def _glibc(diags: list[Diagnostic]) -> str | None:
    version: str | None = None
    try:
        value = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        value = None
    if value and value.startswith("glibc "):
        version = value.split()[1]
    if version is None:
        try:
            libc = ctypes.CDLL(None)
            fn = libc.gnu_get_libc_version
            fn.restype = ctypes.c_char_p
            raw = fn()
            version = raw.decode("ascii") if raw else None
        except (OSError, AttributeError):
            version = None
    if version is None:
        diags.append(make("ND107", "the C library is not GNU libc or does not report its version", subject="glibc"))
    return version


def _libstdcxx(
    arch: str, root: Path, run: Callable[[list[str], float], tuple[int, str]], diags: list[Diagnostic]
) -> LibStdCxxFacts | None:
    soname = "libstdc++.so.6"
    candidates: list[str] = []
    try:
        cache = (root / "etc/ld.so.cache").read_bytes()
    except OSError:
        cache = b""
    candidates += parse_ld_so_cache(cache, soname, arch)
    if not candidates and root == Path("/"):
        status, out = run(["ldconfig", "-p"], 10.0)
        if status == 0:
            candidates += parse_ldconfig_p(out, soname, arch)
    candidates += [f"{d}/{soname}" for d in STANDARD_DIRS.get(arch, ())]
    for candidate in candidates:
        path = root / candidate.lstrip("/") if root != Path("/") else Path(candidate)
        if not path.is_file():
            continue
        try:
            names = version_definitions(path)
        except (OSError, ValueError) as exc:
            diags.append(make("ND106", f"{candidate}: {exc}", subject="libstdcxx"))
            return LibStdCxxFacts(path=candidate)
        glibcxx, cxxabi = highest_versions(names)
        return LibStdCxxFacts(path=candidate, glibcxx=glibcxx, cxxabi=cxxabi)
    diags.append(make("ND105", f"no {soname} in the loader cache or the standard directories", subject="libstdcxx"))
    return None


def _gpus(
    nvml: NvmlLike, root: Path, run: Callable[[list[str], float], tuple[int, str]], diags: list[Diagnostic]
) -> tuple[DriverFacts | None, tuple[GpuFacts, ...]]:
    try:
        result = collect(nvml)
    except NvmlUnavailable as exc:
        nvml_error = str(exc)
    else:
        diags.extend(result.diagnostics)
        return result.driver, result.gpus
    # fallback: /proc and nvidia-smi
    proc = _read(root / "proc/driver/nvidia/version")
    version = parse_proc_version(proc) if proc else None
    status, out = run(
        ["nvidia-smi", f"--query-gpu={','.join(QUERY_FIELDS)}", "--format=csv,noheader,nounits"], NVIDIA_SMI_TIMEOUT_S
    )
    if version is None and status == 127:
        diags.append(
            make(
                "ND101",
                "no NVIDIA driver found: NVML is unusable, /proc/driver/nvidia/version is absent and there is no "
                "nvidia-smi; the node is described without GPUs",
                subject="driver",
                evidence=[f"NVML: {nvml_error}"],
            )
        )
        return None, ()
    diags.append(make("ND102", f"NVML is unusable ({nvml_error}); using /proc and nvidia-smi", subject="driver"))
    gpus: tuple[GpuFacts, ...] = ()
    cuda = None
    if status == 0:
        gpus, smi_diags = parse_query_gpu(out)
        diags.extend(smi_diags)
        head_status, head = run(["nvidia-smi"], NVIDIA_SMI_TIMEOUT_S)
        cuda = parse_cuda_version(head) if head_status == 0 else None
    else:
        why = {124: "timed out", 127: "is not installed", 126: "could not be started"}.get(status, f"exited {status}")
        diags.append(make("ND104", f"nvidia-smi {why}", subject="nvidia-smi"))
    if version is None and not gpus:
        return None, ()
    # nvidia-smi lists GPUs only through a loaded driver: without its version that driver is unknown, not absent
    return DriverFacts(version=version, cuda=cuda), gpus
