"""Parsers for the NVML fallback: `/proc/driver/nvidia/version` and `nvidia-smi` output (pure functions)."""

from __future__ import annotations

import re

from envresolve.diagnostics import Diagnostic, make
from envresolve.node.facts import GpuFacts

__all__ = ["QUERY_FIELDS", "parse_cuda_version", "parse_proc_version", "parse_query_gpu"]

#: the fields asked of `nvidia-smi --query-gpu=...`, in this order
QUERY_FIELDS = ("index", "name", "uuid", "compute_cap", "memory.total", "mig.mode.current", "pci.device_id")

_PROC = re.compile(r"Kernel Module(?:\s+for\s+\S+)?\s+([0-9]+\.[0-9]+(?:\.[0-9]+)?)\b")
_CUDA = re.compile(r"CUDA Version\s*:\s*([0-9]+\.[0-9]+)")
_CC = re.compile(r"^[0-9]+\.[0-9]+$")
_NA = {"", "[n/a]", "n/a", "[not supported]", "not supported", "[unknown error]"}


def parse_proc_version(text: str) -> str | None:
    """The driver version from `/proc/driver/nvidia/version` ('NVRM version: ... Kernel Module  580.65.06 ...')."""
    m = _PROC.search(text)
    return m.group(1) if m else None


def parse_cuda_version(text: str) -> str | None:
    """The driver's CUDA level from the header `nvidia-smi` prints ('CUDA Version: 12.8')."""
    m = _CUDA.search(text)
    return m.group(1) if m else None


def _value(raw: str) -> str | None:
    v = raw.strip()
    return None if v.lower() in _NA else v


def parse_query_gpu(text: str) -> tuple[tuple[GpuFacts, ...], list[Diagnostic]]:
    """GPUs from `nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits` output."""
    gpus: list[GpuFacts] = []
    diags: list[Diagnostic] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != len(QUERY_FIELDS):
            diags.append(
                make("ND104", f"nvidia-smi line {lineno} has {len(parts)} fields, expected {len(QUERY_FIELDS)}")
            )
            continue
        index_s, name, uuid, cc, mem, mig, pci = (_value(p) for p in parts)
        subject = f"GPU {index_s}" if index_s else f"nvidia-smi line {lineno}"
        if index_s is None or not index_s.isdigit() or cc is None or not _CC.match(cc):
            diags.append(
                make(
                    "ND103",
                    "nvidia-smi did not report a usable index and compute capability; this GPU is left out",
                    subject=subject,
                    evidence=[f"nvidia-smi: {line.strip()}"],
                )
            )
            continue
        memory = int(float(mem)) if mem and re.fullmatch(r"[0-9]+(\.[0-9]+)?", mem) else None
        mig_enabled = {"enabled": True, "disabled": False}.get((mig or "").lower())
        pci_id = None
        if pci and re.fullmatch(r"0x[0-9a-fA-F]{8}", pci):
            pci_id = f"0x{int(pci, 16) >> 16:04X}"
        gpus.append(
            GpuFacts(
                index=int(index_s),
                name=name or "unknown NVIDIA GPU",
                uuid=uuid,
                compute_capability=cc,
                memory_mib=memory,
                mig_enabled=mig_enabled,
                pci_device_id=pci_id,
            )
        )
    return tuple(gpus), diags
