"""MX: the sourced compatibility matrices."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="MX101",
        name="matrix-file-invalid",
        category=Category.SPEC,
        severity=ERROR,
        summary="A matrix file does not validate against its model.",
        explanation=(
            "Every file in matrices/ has a pydantic model (docs/schemas/matrices/*.json). A file fails when a key "
            "is unknown, a version is an unquoted number, a row has no source or cites a source the file does "
            "not declare, or a value has the wrong shape. envresolve refuses to give verdicts from it."
        ),
        example="python -m envresolve.matrices check\nerror MX101: gpus.yaml: row 3 cites unknown source 'cuda-gpu'",
    ),
    CodeInfo(
        code="MX102",
        name="matrix-inconsistent",
        category=Category.SPEC,
        severity=ERROR,
        summary="Two matrix files disagree, or a file contradicts itself.",
        explanation=(
            "Cross-file invariants: every torch CUDA variant has a driver row; every GPU's compute capability "
            "appears in the arch table; every torch arch is buildable by its CUDA toolkit; driver minimums never "
            "decrease with newer CUDA releases; the minor-version floor of a major is its GA driver; every GCC "
            "level named by distros.yaml is in the GCC table; every OS release images.yaml names has a glibc row "
            "in distros.yaml."
        ),
        example="python -m envresolve.matrices check\nerror MX102: pytorch.yaml 2.9 cu131: no CUDA 13.1 row",
    ),
    CodeInfo(
        code="MX103",
        name="matrix-schema-stale",
        category=Category.SPEC,
        severity=ERROR,
        summary="The exported JSON Schemas in docs/schemas/matrices/ differ from the models.",
        explanation="Regenerate them with `python -m envresolve.matrices schema` and commit the result.",
        example="python -m envresolve.matrices schema --check",
    ),
)
