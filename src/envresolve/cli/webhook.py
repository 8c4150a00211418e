"""`envresolve webhook`: serve a validating admission webhook that judges BaizeAI `Dataset` objects.

On CREATE and UPDATE of a CONDA Dataset it runs the static lint checks against every group of identical nodes
and answers the API server: denied (with the codes, the node groups and the fix) when no node can run the
environment, allowed with warnings when only some can, allowed silently otherwise. See docs/kubernetes.md.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["configure_parser", "run"]

_EPILOG = """\
nodes: --nodes takes what `envresolve check --nodes` takes (a Node List, facts files, a directory) and is
re-read when it changes; --nodes-from-api lists Nodes from the API server (in-cluster config, or --kubeconfig)
every --refresh-interval seconds.

TLS: --tls-cert/--tls-key are re-read when they change (cert-manager renewals need no restart).
--insecure-http serves plain HTTP for local tests and binds loopback addresses only.

endpoints: POST /validate (AdmissionReview v1), GET /healthz, GET /readyz (ready once node facts are loaded).
"""


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text}")
        return value

    return parse


def configure_parser(sub: Any) -> None:
    p = sub.add_parser(
        "webhook",
        help="serve a Kubernetes admission webhook for Dataset objects",
        description=__doc__,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--nodes", metavar="FILE_OR_DIR", help="node facts: a Node List, facts files or a directory")
    src.add_argument("--nodes-from-api", action="store_true", help="list Nodes live from the API server")
    p.add_argument("--kubeconfig", metavar="FILE", help="with --nodes-from-api: a kubeconfig instead of in-cluster")
    p.add_argument("--node-selector", metavar="LABELS", help="with --nodes-from-api: a label selector")
    p.add_argument("--refresh-interval", type=_positive(float), default=60.0, metavar="S", help="API relist (60)")
    p.add_argument("--api-timeout", type=_positive(float), default=10.0, metavar="S", help="per API request (10)")
    p.add_argument("--host", default="0.0.0.0", help="address to bind (0.0.0.0)")
    p.add_argument("--port", type=int, default=8443, help="port (8443)")
    p.add_argument("--tls-cert", metavar="FILE", help="certificate chain (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="private key (PEM)")
    p.add_argument("--insecure-http", action="store_true", help="plain HTTP on loopback, for local tests only")
    p.add_argument(
        "--require",
        choices=("any", "all"),
        default="any",
        help="deny unless any node (default) or every node can run the environment",
    )
    p.add_argument("--dry-run", action="store_true", help="never deny: say what would be denied as warnings")
    p.add_argument("--max-body-bytes", type=_positive(int), default=3 * 1024 * 1024, help="413 above (3 MiB)")
    p.add_argument("--read-timeout", type=_positive(float), default=5.0, metavar="S", help="body read deadline (5)")
    p.add_argument(
        "--review-timeout",
        type=_positive(float),
        default=2.0,
        metavar="S",
        help="judgement deadline; past it the request is allowed with a warning (2)",
    )
    p.add_argument("--reload-interval", type=_positive(float), default=2.0, metavar="S", help="file checks (2)")
    p.add_argument("--workers", type=_positive(int), default=4, help="review threads (4)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from envresolve.diagnostics import make
    from envresolve.errors import InputError

    try:
        from envresolve.webhook.server import ServerConfig, check_bind, serve
    except ImportError as exc:
        raise InputError(
            make("WH104", f"the webhook server needs aiohttp ({exc})", hint="pip install 'envresolve[webhook]'")
        ) from None
    from envresolve.webhook.nodes import ApiNodes, FileNodes, NodeSource
    from envresolve.webhook.review import Policy

    check_bind(args.host, args.insecure_http)
    if args.nodes_from_api:
        try:
            import kubernetes  # noqa: F401
        except ImportError:
            raise InputError(
                make("WH104", "--nodes-from-api needs the Kubernetes client", hint="pip install 'envresolve[webhook]'")
            ) from None
    source: NodeSource
    if args.nodes:
        source = FileNodes(args.nodes)
    else:
        source = ApiNodes(
            kubeconfig=args.kubeconfig,
            label_selector=args.node_selector,
            timeout=args.api_timeout,
            refresh_interval=args.refresh_interval,
        )
    config = ServerConfig(
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        insecure_http=args.insecure_http,
        policy=Policy(require=args.require, dry_run=args.dry_run),
        max_body_bytes=args.max_body_bytes,
        read_timeout=args.read_timeout,
        review_timeout=args.review_timeout,
        reload_interval=args.reload_interval,
        workers=args.workers,
    )
    serve(source, config)
    return 0
