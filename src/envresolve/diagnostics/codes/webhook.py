"""WH: the admission webhook for Dataset objects (`envresolve webhook`)."""

from __future__ import annotations

from envresolve.diagnostics.codeinfo import CodeInfo
from envresolve.diagnostics.model import Category, Severity

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: tuple[CodeInfo, ...] = (
    CodeInfo(
        code="WH101",
        name="dataset-runs-nowhere",
        category=Category.SPEC,
        severity=ERROR,
        summary="The Dataset's environment runs on no node of the fleet: the webhook denies it.",
        explanation=(
            "The webhook reads the CONDA Dataset in the AdmissionReview as `envresolve lint` reads a manifest and "
            "runs the static checks once per group of nodes with identical facts. When every group has an error "
            "(or the environment itself has one, whatever the node), no node can run it: the request is denied "
            "with the codes, the node groups and the fix. With `--require all` one failing group is enough; with "
            "`--dry-run` the request is allowed and the same text comes back as warnings."
        ),
        example=(
            'admission webhook "datasets.envresolve.dev" denied the request: envresolve: Dataset ml/torch-env '
            "does not run on any of 3 nodes (2 groups): group 1 (2 nodes: driver 470.256.02, CUDA 11.4, "
            "gpus 7.0): CP101 ..."
        ),
    ),
    CodeInfo(
        code="WH102",
        name="dataset-runs-on-some-nodes",
        category=Category.SPEC,
        severity=WARNING,
        summary="The Dataset's environment runs on some node groups only: allowed, with warnings.",
        explanation=(
            "Some groups of identical nodes can run the environment and others cannot. The request is allowed "
            "and `kubectl apply` shows one warning per failing group (its node count, facts and first reason), "
            "so the user can pin the workload to nodes that can run it. `--require all` denies instead."
        ),
        example="Warning: envresolve: 8 of 20 nodes cannot run Dataset ml/torch-env: group 2 (8 nodes ...)",
    ),
    CodeInfo(
        code="WH103",
        name="review-not-judged",
        category=Category.SPEC,
        severity=WARNING,
        summary="The webhook allowed a Dataset without judging it (no node facts yet, or the deadline passed).",
        explanation=(
            "The webhook never blocks what it cannot judge: before the first node facts are loaded, when the "
            "judgement takes longer than `--review-timeout`, or when the checks fail unexpectedly, the request "
            "is allowed with a warning and the event is logged. The ValidatingWebhookConfiguration's "
            "`failurePolicy: Ignore` does the same for a webhook that does not answer."
        ),
        example="Warning: envresolve: Dataset ml/torch-env was not checked: review took longer than 2.0 s",
    ),
    CodeInfo(
        code="WH104",
        name="webhook-config-invalid",
        category=Category.SECURITY,
        severity=ERROR,
        summary="The webhook cannot start as configured (TLS files, insecure bind, node source).",
        explanation=(
            "`envresolve webhook` serves HTTPS from a certificate and key file; `--insecure-http` is for local "
            "tests and binds loopback addresses only. A certificate or key that cannot be loaded, a non-loopback "
            "address with `--insecure-http`, or no node source stops the server before it listens."
        ),
        example="error[WH104 webhook-config-invalid] --insecure-http binds loopback only, not 0.0.0.0",
    ),
)
