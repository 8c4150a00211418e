"""A fake NVML for tests: configurable GPUs, and calls that fail on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

from envresolve.node.nvml import NvmlCallError, NvmlUnavailable


@dataclass
class FakeGpu:
    name: str
    cc: tuple[int, int]
    uuid: str
    memory_mib: int
    mig: int | None = 0  # None: MIG not supported
    pci: int = 0x233010DE


@dataclass
class FakeNvml:
    """Implements `envresolve.node.nvml.NvmlLike`. `fail` maps 'method' or 'method:index' to an error."""

    gpus: list[FakeGpu] = field(default_factory=list)
    driver: str = "580.65.06"
    cuda: int = 13000
    available: bool = True
    fail: dict[str, Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    shut_down: bool = False

    def _check(self, method: str, index: int | None = None) -> None:
        self.calls.append(method if index is None else f"{method}:{index}")
        for key in (method, f"{method}:{index}"):
            if key in self.fail:
                raise self.fail[key]

    def init(self) -> None:
        if not self.available:
            raise NvmlUnavailable("NVML Shared Library Not Found")
        self._check("init")

    def shutdown(self) -> None:
        self.shut_down = True

    def driver_version(self) -> str:
        self._check("driver_version")
        return self.driver

    def cuda_driver_version(self) -> int:
        self._check("cuda_driver_version")
        return self.cuda

    def device_count(self) -> int:
        self._check("device_count")
        return len(self.gpus)

    def name(self, index: int) -> str:
        self._check("name", index)
        return self.gpus[index].name

    def uuid(self, index: int) -> str:
        self._check("uuid", index)
        return self.gpus[index].uuid

    def compute_capability(self, index: int) -> tuple[int, int]:
        self._check("compute_capability", index)
        return self.gpus[index].cc

    def memory_total(self, index: int) -> int:
        self._check("memory_total", index)
        return self.gpus[index].memory_mib * 1024 * 1024

    def mig_mode(self, index: int) -> int:
        self._check("mig_mode", index)
        mig = self.gpus[index].mig
        if mig is None:
            raise NvmlCallError("Not Supported", not_supported=True)
        return mig

    def pci_device_id(self, index: int) -> int:
        self._check("pci_device_id", index)
        return self.gpus[index].pci


def h100(i: int) -> FakeGpu:
    return FakeGpu("NVIDIA H100 80GB HBM3", (9, 0), f"GPU-00000000-0000-0000-0000-00000000000{i}", 81559)


def fake_run(outputs: dict[str, tuple[int, str]]):  # type: ignore[no-untyped-def]
    """A stand-in for probe's command runner: program name -> (status, stdout); unknown programs are missing."""

    def run(cmd: list[str], timeout: float) -> tuple[int, str]:
        key = " ".join(cmd) if " ".join(cmd) in outputs else cmd[0]
        return outputs.get(key, (127, ""))

    return run
