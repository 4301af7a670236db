"""Command line: run a local API server until interrupted.

    python -m localcluster --port 0 --kubeconfig .demo/kubeconfig --controllers --third-party-crds

It prints `localcluster: serving on http://127.0.0.1:<port>` once ready (tests read that line),
writes a kubeconfig if asked, creates the objects of any `--manifest` files (CRDs first), and
stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop
import yaml

from localcluster.cluster import LocalCluster
from localcluster.errors import StatusError

log = logging.getLogger("localcluster")


def parse_service_host(text: str) -> tuple[str, str]:
    """`name.namespace[:port]=host:port` -> a service host map entry."""
    service, sep, target = text.partition("=")
    if not sep or not service or ":" not in target:
        raise argparse.ArgumentTypeError(f"expected name.namespace[:port]=host:port, got {text!r}")
    if service.count(".") < 1:
        raise argparse.ArgumentTypeError(f"service {service!r} must be written name.namespace")
    return service, target


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localcluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the server here")
    parser.add_argument(
        "--controllers",
        action="store_true",
        help="simulate the Deployment and ServiceAccount-token controllers",
    )
    parser.add_argument(
        "--deployment-delay",
        type=float,
        default=0.0,
        help="seconds before a Deployment reports its rollout finished (with --controllers)",
    )
    parser.add_argument(
        "--history-size",
        type=int,
        default=10_000,
        help="watch events kept for resuming; older resourceVersions get 410 Gone",
    )
    parser.add_argument(
        "--bookmark-interval", type=float, default=5.0, help="seconds between watch bookmarks"
    )
    parser.add_argument(
        "--service-host",
        type=parse_service_host,
        action="append",
        default=[],
        metavar="NAME.NS[:PORT]=HOST:PORT",
        help="where webhook service references are reached",
    )
    parser.add_argument(
        "--third-party-crds",
        action="store_true",
        help="install minimal InferencePool, HTTPRoute, DestinationRule, PodMonitor and ServiceMonitor CRDs",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        action="append",
        default=[],
        help="create the objects in this YAML file at start (repeatable; CRDs first)",
    )
    parser.add_argument("--seed", type=int, help="seed for generated names, uids and fault draws")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    return parser


def load_manifests(paths: Sequence[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc:
                docs.append(doc)
    # CRDs first, then namespaces, so the objects that need them find them.
    order = {"CustomResourceDefinition": 0, "Namespace": 1}
    return sorted(docs, key=lambda d: order.get(str(d.get("kind")), 2))


async def serve(args: argparse.Namespace) -> int:
    cluster = LocalCluster(
        host=args.host,
        port=args.port,
        history_size=args.history_size,
        bookmark_interval=args.bookmark_interval,
        controllers=args.controllers,
        deployment_delay=args.deployment_delay,
        service_hosts=dict(args.service_host),
        third_party=args.third_party_crds,
        seed=args.seed,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with cluster:
        for doc in load_manifests(args.manifest):
            try:
                await cluster.create(doc)
            except StatusError as err:
                print(f"localcluster: cannot create {doc.get('kind')}: {err.message}", file=sys.stderr)
                return 1
        if args.kubeconfig:
            cluster.write_kubeconfig(args.kubeconfig)
            print(f"localcluster: kubeconfig written to {args.kubeconfig}", flush=True)
        print(f"localcluster: serving on {cluster.url}", flush=True)
        await stop.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for path in args.manifest:
        if not path.is_file():
            print(f"localcluster: --manifest {path}: no such file", file=sys.stderr)
            return 2
    try:
        # uvloop roughly doubles aiohttp's request rate; the server is the same either way.
        return uvloop.run(serve(args))
    except OSError as exc:
        print(f"localcluster: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
