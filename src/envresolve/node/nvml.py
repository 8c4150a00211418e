"""Driver and GPU facts from NVML, through a small adapter so tests can inject a fake NVML.

`collect(nvml)` is pure over the adapter: it asks the questions, keeps every answer it gets, and turns
each failed call into a warning (ND103) with that one fact missing. The real adapter over
`nvidia-ml-py` lives in `envresolve.node.probe`, the only module that touches the live machine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Protocol

from envresolve.diagnostics import Diagnostic, make
from envresolve.node.facts import DriverFacts, GpuFacts

__all__ = ["NvmlCallError", "NvmlLike", "NvmlResult", "NvmlUnavailable", "collect", "cuda_level"]


class NvmlCallError(Exception):
    """One NVML call failed. `not_supported` marks NVML_ERROR_NOT_SUPPORTED (a normal answer for some queries)."""

    def __init__(self, message: str, *, not_supported: bool = False) -> None:
        super().__init__(message)
        self.not_supported = not_supported


class NvmlUnavailable(NvmlCallError):
    """NVML cannot be used at all: the library is missing or `nvmlInit` failed."""


class NvmlLike(Protocol):
    """The NVML questions envresolve asks. Every method raises `NvmlCallError` on failure."""

    def init(self) -> None:
        """Load and initialise NVML; raises `NvmlUnavailable` when it cannot."""

    def shutdown(self) -> None:
        """Release NVML."""

    def driver_version(self) -> str:
        """The kernel driver version, e.g. '580.65.06'."""

    def cuda_driver_version(self) -> int:
        """The driver's CUDA level as NVML encodes it: 1000 * major + 10 * minor (12080 is 12.8)."""

    def device_count(self) -> int:
        """How many GPUs NVML sees."""

    def name(self, index: int) -> str:
        """Product name of GPU `index`."""

    def uuid(self, index: int) -> str:
        """UUID of GPU `index` ('GPU-...')."""

    def compute_capability(self, index: int) -> tuple[int, int]:
        """(major, minor) compute capability of GPU `index`."""

    def memory_total(self, index: int) -> int:
        """Total framebuffer memory of GPU `index`, in bytes."""

    def mig_mode(self, index: int) -> int:
        """Current MIG mode of GPU `index` (1 enabled, 0 disabled); not-supported where MIG is absent."""

    def pci_device_id(self, index: int) -> int:
        """NVML's combined PCI id of GPU `index`: device id << 16 | vendor id."""


@dataclass
class NvmlResult:
    """What NVML told us, and what it failed to tell."""

    driver: DriverFacts | None
    gpus: tuple[GpuFacts, ...]
    diagnostics: list[Diagnostic] = field(default_factory=list)


def cuda_level(encoded: int) -> str:
    """NVML/CUDA's integer driver version as 'major.minor': 12080 -> '12.8', 13000 -> '13.0'."""
    return f"{encoded // 1000}.{(encoded % 1000) // 10}"


def _fail(diags: list[Diagnostic], what: str, subject: str, exc: Exception) -> None:
    diags.append(make("ND103", f"NVML could not report {what}: {exc}", subject=subject, evidence=["probe: NVML"]))


def collect(nvml: NvmlLike) -> NvmlResult:
    """Ask NVML for the driver and every GPU. Raises `NvmlUnavailable` only when `init` fails."""
    nvml.init()
    diags: list[Diagnostic] = []
    try:
        version: str | None = None
        cuda: str | None = None
        try:
            version = nvml.driver_version().strip() or None
        except NvmlCallError as exc:
            _fail(diags, "the driver version", "driver", exc)
        try:
            cuda = cuda_level(nvml.cuda_driver_version())
        except NvmlCallError as exc:
            _fail(diags, "the driver's CUDA level", "driver", exc)
        try:
            count = nvml.device_count()
        except NvmlCallError as exc:
            _fail(diags, "the number of GPUs", "gpus", exc)
            count = 0
        gpus = tuple(g for g in (_gpu(nvml, i, diags) for i in range(count)) if g is not None)
    finally:
        with contextlib.suppress(NvmlCallError):
            nvml.shutdown()
    # NVML initialises only through a loaded driver: when both queries fail, the driver is unknown, not absent
    driver = DriverFacts(version=version, cuda=cuda)
    return NvmlResult(driver=driver, gpus=gpus, diagnostics=diags)


def _gpu(nvml: NvmlLike, index: int, diags: list[Diagnostic]) -> GpuFacts | None:
    subject = f"GPU {index}"
    try:
        major, minor = nvml.compute_capability(index)
    except NvmlCallError as exc:
        diags.append(
            make(
                "ND103",
                f"NVML could not report the compute capability, so this GPU is left out: {exc}",
                subject=subject,
                evidence=["probe: NVML"],
            )
        )
        return None
    try:
        name = nvml.name(index).strip() or "unknown NVIDIA GPU"
    except NvmlCallError as exc:
        _fail(diags, "the product name", subject, exc)
        name = "unknown NVIDIA GPU"
    uuid: str | None = None
    try:
        uuid = nvml.uuid(index).strip() or None
    except NvmlCallError as exc:
        _fail(diags, "the UUID", subject, exc)
    memory: int | None = None
    try:
        memory = nvml.memory_total(index) // (1024 * 1024)
    except NvmlCallError as exc:
        _fail(diags, "the memory size", subject, exc)
    mig: bool | None = None
    try:
        mig = nvml.mig_mode(index) == 1
    except NvmlCallError as exc:
        if exc.not_supported:
            mig = False  # a GPU without MIG support
        else:
            _fail(diags, "the MIG mode", subject, exc)
    pci: str | None = None
    try:
        pci = f"0x{(nvml.pci_device_id(index) >> 16) & 0xFFFF:04X}"
    except NvmlCallError as exc:
        _fail(diags, "the PCI device id", subject, exc)
    return GpuFacts(
        index=index,
        name=name,
        uuid=uuid,
        compute_capability=f"{major}.{minor}",
        memory_mib=memory,
        mig_enabled=mig,
        pci_device_id=pci,
    )
