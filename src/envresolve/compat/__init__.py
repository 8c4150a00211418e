"""Compatibility rules: node facts + environment packages (+ binary facts) -> diagnostics with sourced evidence.

`evaluate(env, node)` runs every rule; `candidate_verdict(pkg, node, chosen)` tells a resolver what a candidate
package would break. Each rule is also importable on its own.
"""

from __future__ import annotations

from envresolve.compat.cudalibs import check_cudnn, check_mixed_majors, check_nccl
from envresolve.compat.driver import check_driver
from envresolve.compat.engine import RULES, Rule, candidate_verdict, evaluate
from envresolve.compat.extensions import check_extensions, extension_name_facts
from envresolve.compat.facts import CudaClaim, DeviceCode, cuda_claims, device_code, glibc_need, runtime_cuda
from envresolve.compat.kernels import check_kernels, ptx_runs, sass_runs
from envresolve.compat.libs import check_glibc, check_libstdcxx, check_needed, libstdcxx_provider
from envresolve.compat.model import Environment, Package
from envresolve.compat.torch import check_companions, check_cxx11_abi, check_python, torch_cxx11_abi

__all__ = [
    "RULES",
    "CudaClaim",
    "DeviceCode",
    "Environment",
    "Package",
    "Rule",
    "candidate_verdict",
    "check_companions",
    "check_cudnn",
    "check_cxx11_abi",
    "check_driver",
    "check_extensions",
    "check_glibc",
    "check_kernels",
    "check_libstdcxx",
    "check_mixed_majors",
    "check_nccl",
    "check_needed",
    "check_python",
    "cuda_claims",
    "device_code",
    "evaluate",
    "extension_name_facts",
    "glibc_need",
    "libstdcxx_provider",
    "ptx_runs",
    "runtime_cuda",
    "sass_runs",
    "torch_cxx11_abi",
]
