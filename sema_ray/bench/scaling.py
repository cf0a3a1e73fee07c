"""Run the same batch of trials on simulated Ray clusters of growing size.

Each cluster size gets a fresh Ray cluster, simulated on this machine with
``ray.cluster_utils.Cluster``: every node is a separate raylet that offers
``--cpus-per-node`` logical CPUs. The workers of one trial take half of a node's
CPUs, and Tune runs at most n trials at once on n nodes (``trials_at_once: n``), so
every node has room for its trial. The batch is a random search of SEMA on one task
with ``--trials`` trials. Throughput is trials per hour of study wall time, and the
ideal is linear scaling: n times the throughput of one node.

All simulated nodes share this machine's cores, so on a small machine the measured
speed-up stops where the cores run out. The output states the core count. On a real
cluster, run a study with ``python -m sema_ray.study`` and compare wall times instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from .timing import format_table, machine_info, write_json

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ScalingRun:
    """One cluster size: how long the batch of trials took."""

    nodes: int
    trials: int  # trials in the batch
    trials_ok: int  # of them, finished without error
    seconds: float  # wall time of the study: its setup, every trial and the report
    cluster_start_seconds: float  # starting the simulated cluster, not counted above
    trials_per_hour: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nodes", default="1,2,4", help="comma-separated cluster sizes in nodes (default: 1,2,4)"
    )
    parser.add_argument(
        "--cpus-per-node",
        type=int,
        default=2,
        help="logical CPUs each simulated node offers (default: 2)",
    )
    parser.add_argument("--workers", type=int, default=2, help="DDP workers per trial (default: 2)")
    parser.add_argument("--trials", type=int, default=8, help="trials in the batch (default: 8)")
    parser.add_argument("--task", default="moons", help="task of the study (default: moons)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial (default: 2)")
    parser.add_argument("--output", default="bench-results/scaling.json", help="JSON result path")


def parse_nodes(text: str) -> list[int]:
    """Parse ``--nodes``, e.g. ``"1,2,4"``, into sorted distinct positive node counts."""
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(
            f"--nodes {text!r} is not a comma-separated list of integers; use e.g. 1,2,4"
        ) from None
    if not counts or counts[0] < 1:
        raise ValueError(f"--nodes {text!r} must list node counts of at least 1, e.g. 1,2,4")
    return counts


def study_document(nodes: int, args: argparse.Namespace, output_dir: Path) -> dict:
    """Return the study file (as a dict) of one cluster size; only its name and concurrency vary."""
    return {
        "name": f"scaling_{nodes}_nodes",
        "tasks": [{"name": args.task, "recipe": {"epochs": args.epochs}}],
        "methods": {
            "sema": {
                "momentum": {"log10_range": [-3, -1]},
                "switch_interval": [0.5, 1, 2],
                "trials": args.trials,
            }
        },
        "search": {"sampler": "random", "trials": args.trials, "seed": 0},
        "evaluation": {"seeds": 0},
        "resources": {
            "workers": args.workers,
            # Half a node per trial leaves the other half for the trial and Train
            # controller processes, as `cpus_per_worker: auto` does on one node.
            "cpus_per_worker": args.cpus_per_node / (2 * args.workers),
            "trials_at_once": nodes,
        },
        "tracking": {"uri": f"sqlite:///{output_dir / 'mlflow.db'}"},
    }


@contextmanager
def simulated_cluster(nodes: int, cpus_per_node: int, dashboard_port: int | None = None):
    """Start a Ray cluster of `nodes` raylets on 127.0.0.1 and yield its `Cluster`.

    The first node is the head. With `dashboard_port`, the head also serves the
    dashboard there (on 127.0.0.1), which Ray's state API needs.
    """
    import ray
    from ray.cluster_utils import Cluster

    head_args = {
        "num_cpus": cpus_per_node,
        "node_ip_address": LOOPBACK,
        "include_dashboard": dashboard_port is not None,
    }
    if dashboard_port is not None:
        head_args |= {"dashboard_host": LOOPBACK, "dashboard_port": dashboard_port}
    cluster = Cluster(initialize_head=True, head_node_args=head_args)
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=cpus_per_node, node_ip_address=LOOPBACK)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        # Cluster.shutdown raises while this process is still connected to the head.
        ray.shutdown()
        cluster.shutdown()


def measure(nodes: int, args: argparse.Namespace) -> ScalingRun:
    """Run the batch of trials on a fresh simulated cluster of `nodes` nodes."""
    # Read by Ray at import; this runs in a fresh process for every cluster size.
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from sema_ray.study.config import parse_study
    from sema_ray.study.runner import run_study

    # The simulated cluster records its address in $RAY_TMPDIR/ray, where any
    # `ray.init()` on the machine would look for a cluster to join, so it gets a
    # directory of its own. The name stays short because Ray's socket paths are limited
    # to 107 bytes.
    ray_tmpdir = tempfile.TemporaryDirectory(prefix="srb")
    os.environ["RAY_TMPDIR"] = ray_tmpdir.name
    with ray_tmpdir, tempfile.TemporaryDirectory(prefix="sema_ray_scaling_") as directory:
        output_dir = Path(directory)
        config = parse_study(study_document(nodes, args, output_dir), "scaling benchmark")
        started = time.perf_counter()
        with simulated_cluster(nodes, args.cpus_per_node) as cluster:
            cluster_start = time.perf_counter() - started
            started = time.perf_counter()
            outcome = run_study(config, output_dir, address=cluster.address)
            seconds = time.perf_counter() - started

    trials_ok = sum(result.status == "ok" for result in outcome.results)
    return ScalingRun(
        nodes,
        len(outcome.results),
        trials_ok,
        seconds,
        cluster_start,
        3600.0 * len(outcome.results) / seconds,
    )


def scaling_rows(runs: list[ScalingRun]) -> list[dict]:
    """Compare every run with ideal linear scaling from the smallest cluster."""
    base = min(runs, key=lambda run: run.nodes)
    per_node = base.trials_per_hour / base.nodes
    rows = []
    for run in sorted(runs, key=lambda run: run.nodes):
        ideal = per_node * run.nodes
        rows.append(
            asdict(run)
            | {
                "ideal_trials_per_hour": ideal,
                "speedup": run.trials_per_hour / base.trials_per_hour,
                "efficiency": run.trials_per_hour / ideal,
            }
        )
    return rows


def format_rows(rows: list[dict]) -> str:
    header = [
        "nodes",
        "trials (ok)",
        "wall s",
        "trials/h",
        "ideal trials/h",
        "speed-up",
        "efficiency",
    ]
    body = [
        [
            str(row["nodes"]),
            f"{row['trials']} ({row['trials_ok']})",
            f"{row['seconds']:.0f}",
            f"{row['trials_per_hour']:.0f}",
            f"{row['ideal_trials_per_hour']:.0f}",
            f"{row['speedup']:.2f}x",
            f"{100 * row['efficiency']:.0f}%",
        ]
        for row in rows
    ]
    return format_table(header, body)


def run(args: argparse.Namespace) -> None:
    import torch

    node_counts = parse_nodes(args.nodes)
    for name in ("cpus_per_node", "workers", "trials", "epochs"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")

    runs = []
    for nodes in node_counts:
        logger.info(
            "scaling: %d node(s) x %d CPUs, %d trials", nodes, args.cpus_per_node, args.trials
        )
        # A fresh process per size: Ray keeps per-process state that one cluster
        # must not hand to the next.
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            result = pool.submit(measure, nodes, args).result()
        logger.info(
            "scaling: %d node(s): %.0f s, %.0f trials/h",
            nodes,
            result.seconds,
            result.trials_per_hour,
        )
        runs.append(result)

    rows = scaling_rows(runs)
    settings = {
        key: getattr(args, key) for key in ("cpus_per_node", "workers", "trials", "task", "epochs")
    }
    path = write_json(
        args.output,
        {
            "benchmark": "scaling",
            "settings": settings,
            "machine": machine_info(torch.device("cpu")),
            "rows": rows,
        },
    )
    print(format_rows(rows))
    print(f"\nAll nodes shared this machine's {os.cpu_count()} logical CPUs. JSON: {path}")
