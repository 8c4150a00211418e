"""gpus.yaml's PCI device ids are in the committed pci.ids extract (tests/fixtures/pciids/nvidia-10de.txt), under
a name that says the same product, and the cited pci.ids version is the extract's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envresolve.matrices import gpu_by_name, gpu_by_pci_id, gpus_matrix

EXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "pciids" / "nvidia-10de.txt"
TEXT = EXTRACT.read_text(encoding="utf-8")
DEVICES = {f"0x{m[1]}": m[2] for m in re.finditer(r"^\t([0-9a-f]{4})  (.+)$", TEXT, re.M)}


def _model_tokens(name: str) -> set[str]:
    """Product-number tokens of a GPU name ('NVIDIA GeForce RTX 5090 D' -> {'5090'}; 'Tesla T4' -> {'T4'})."""
    return {t for t in re.findall(r"[A-Z]*\d+[A-Z]*", name) if t not in {"RTX", "GTX"}}


def test_cited_version_is_the_extract() -> None:
    version = re.search(r"^#\s+Version:\s+(\S+)$", TEXT, re.M)
    assert version is not None
    assert f"Version {version.group(1)}" in gpus_matrix().sources["pci-ids"].title


@pytest.mark.parametrize("row", [r for r in gpus_matrix().rows if r.pci_device_ids], ids=lambda r: r.name)
def test_every_id_is_listed_for_that_product(row: object) -> None:
    from envresolve.matrices.models import GpuRow

    assert isinstance(row, GpuRow)
    names = [DEVICES.get(pid) for pid in row.pci_device_ids]
    assert None not in names, f"{row.name}: ids missing from pci.ids: {row.pci_device_ids}"
    labels = (row.name, *row.aliases)
    wanted = set().union(*(_model_tokens(n) for n in labels))
    plain = {n.lower().removeprefix("nvidia ") for n in labels}
    assert any(wanted & _model_tokens(n or "") or any(p in (n or "").lower() for p in plain) for n in names), (
        f"{row.name}: pci.ids names {names}"
    )


def test_new_datacenter_and_blackwell_ids_decode() -> None:
    assert [g.row.name for g in gpu_by_pci_id("2335")] == ["NVIDIA H200"]
    assert [g.row.name for g in gpu_by_pci_id("0x2901")] == ["NVIDIA B200"]
    assert [g.row.compute_capability for g in gpu_by_pci_id("0x3182")] == ["10.3"]
    assert [g.row.name for g in gpu_by_pci_id("0x2e12")] == ["NVIDIA GB10"]
    thor = gpu_by_pci_id("0x2b00")
    assert [g.row.compute_capability for g in thor] == ["11.0"] and thor[0].row.tegra
    h20 = gpu_by_name("NVIDIA H20")
    assert h20 is not None and h20.unsure and h20.row.sm == 90
    assert gpu_by_name("NVIDIA GeForce RTX 5070 Ti").row.sm == 120  # type: ignore[union-attr]
