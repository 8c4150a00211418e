"""The NVML path against a fake NVML: no driver, one GPU, eight GPUs, mixed models, MIG, one call failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from envresolve.node.facts import DriverFacts
from envresolve.node.nvml import NvmlCallError, collect, cuda_level
from envresolve.node.probe import probe_with_diagnostics
from tests.node.fakes import FakeGpu, FakeNvml, fake_run, h100


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    """A root without /proc/driver/nvidia and without os-release."""
    return tmp_path


def test_cuda_level_encoding() -> None:
    assert cuda_level(12080) == "12.8"
    assert cuda_level(13000) == "13.0"
    assert cuda_level(11040) == "11.4"
    assert cuda_level(12020) == "12.2"


def test_no_driver_gives_node_without_gpus_and_info(empty_root: Path) -> None:
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=empty_root, run=fake_run({}))
    assert result.node.gpus == ()
    assert result.node.driver is None
    codes = [d.code for d in result.diagnostics]
    assert "ND101" in codes
    assert all(d.severity.value != "error" for d in result.diagnostics)


def test_one_gpu() -> None:
    nvml = FakeNvml(gpus=[h100(0)], cuda=12080, driver="570.124.06")
    result = collect(nvml)
    assert result.diagnostics == []
    assert result.driver is not None
    assert (result.driver.version, result.driver.cuda) == ("570.124.06", "12.8")
    (g,) = result.gpus
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.compute_capability == "9.0" and g.sm == 90
    assert g.memory_mib == 81559
    assert g.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert g.mig_enabled is False
    assert g.pci_device_id == "0x2330"
    assert nvml.shut_down


def test_eight_gpus_keep_their_indexes() -> None:
    result = collect(FakeNvml(gpus=[h100(i) for i in range(8)]))
    assert [g.index for g in result.gpus] == list(range(8))
    assert len({g.uuid for g in result.gpus}) == 8
    assert result.diagnostics == []


def test_mixed_models_keep_every_gpu(empty_root: Path) -> None:
    gpus = [
        h100(0),
        FakeGpu("NVIDIA A100-SXM4-80GB", (8, 0), "GPU-a100", 81920),
        FakeGpu("Tesla T4", (7, 5), "GPU-t4", 15360),
    ]
    result = probe_with_diagnostics(nvml=FakeNvml(gpus=gpus), root=empty_root, run=fake_run({}))
    node = result.node
    assert [g.name for g in node.gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "Tesla T4"]
    assert node.compute_capabilities == ("7.5", "8.0", "9.0")
    assert node.min_compute_capability == "7.5"
    assert node.provenance["gpus"].value == "probed"


def test_mig_enabled_and_not_supported() -> None:
    gpus = [
        FakeGpu("NVIDIA A100-SXM4-40GB", (8, 0), "GPU-mig", 40960, mig=1),
        FakeGpu("Tesla T4", (7, 5), "GPU-t4", 15360, mig=None),
    ]
    result = collect(FakeNvml(gpus=gpus))
    assert [g.mig_enabled for g in result.gpus] == [True, False]
    assert result.diagnostics == []  # "not supported" is an answer, not a failure


def test_one_failing_call_drops_one_fact_with_a_warning() -> None:
    nvml = FakeNvml(gpus=[h100(i) for i in range(4)], fail={"uuid:2": NvmlCallError("GPU is lost")})
    result = collect(nvml)
    assert len(result.gpus) == 4
    assert result.gpus[2].uuid is None
    assert result.gpus[2].compute_capability == "9.0" and result.gpus[2].memory_mib == 81559
    assert all(g.uuid for i, g in enumerate(result.gpus) if i != 2)
    (diag,) = result.diagnostics
    assert diag.code == "ND103" and diag.severity.value == "warning"
    assert diag.subject == "GPU 2" and "GPU is lost" in diag.message


def test_failing_compute_capability_skips_that_gpu_only() -> None:
    nvml = FakeNvml(gpus=[h100(0), h100(1)], fail={"compute_capability:0": NvmlCallError("Unknown Error")})
    result = collect(nvml)
    assert [g.index for g in result.gpus] == [1]
    assert [d.code for d in result.diagnostics] == ["ND103"]


def test_failing_driver_queries_keep_the_gpus() -> None:
    nvml = FakeNvml(
        gpus=[h100(0)],
        fail={"cuda_driver_version": NvmlCallError("Function Not Found"), "driver_version": NvmlCallError("x")},
    )
    result = collect(nvml)
    # NVML answered, so a driver is loaded: its version is unknown, it is not absent (no CP103 "no driver")
    assert result.driver == DriverFacts(version=None, cuda=None)
    assert len(result.gpus) == 1
    assert sorted(d.subject or "" for d in result.diagnostics) == ["driver", "driver"]


def test_failing_mig_query_is_a_warning_not_a_guess() -> None:
    result = collect(FakeNvml(gpus=[h100(0)], fail={"mig_mode:0": NvmlCallError("Unknown Error")}))
    assert result.gpus[0].mig_enabled is None
    assert [d.code for d in result.diagnostics] == ["ND103"]


def test_fallback_to_proc_and_nvidia_smi(tmp_path: Path) -> None:
    proc = tmp_path / "proc/driver/nvidia"
    proc.mkdir(parents=True)
    (proc / "version").write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16)\n"
        "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n"
    )
    query = (
        "0, NVIDIA H100 80GB HBM3, GPU-aaaa, 9.0, 81559, Disabled, 0x233010DE\n"
        "1, NVIDIA H100 80GB HBM3, GPU-bbbb, 9.0, 81559, Enabled, 0x233010DE\n"
        "2, NVIDIA H100 80GB HBM3, GPU-cccc, [N/A], 81559, Disabled, 0x233010DE\n"
    )
    smi_query = " ".join(
        [
            "nvidia-smi",
            "--query-gpu=index,name,uuid,compute_cap,memory.total,mig.mode.current,pci.device_id",
            "--format=csv,noheader,nounits",
        ]
    )
    run = fake_run(
        {
            smi_query: (0, query),
            "nvidia-smi": (0, "| NVIDIA-SMI 580.65.06  Driver Version: 580.65.06  CUDA Version: 13.0 |"),
        }
    )
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=tmp_path, run=run)
    node = result.node
    assert node.driver is not None and (node.driver.version, node.driver.cuda) == ("580.65.06", "13.0")
    assert [g.uuid for g in node.gpus] == ["GPU-aaaa", "GPU-bbbb"]
    assert [g.mig_enabled for g in node.gpus] == [False, True]
    assert node.gpus[0].pci_device_id == "0x2330"
    codes = sorted(d.code for d in result.diagnostics)
    assert codes.count("ND102") == 1 and codes.count("ND103") == 1


def test_fallback_nvidia_smi_timeout_keeps_proc_driver(tmp_path: Path) -> None:
    proc = tmp_path / "proc/driver/nvidia"
    proc.mkdir(parents=True)
    (proc / "version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    )
    result = probe_with_diagnostics(nvml=FakeNvml(available=False), root=tmp_path, run=lambda cmd, t: (124, ""))
    assert result.node.driver is not None and result.node.driver.version == "535.104.05"
    assert result.node.gpus == ()
    assert any(d.code == "ND104" and "timed out" in d.message for d in result.diagnostics)
