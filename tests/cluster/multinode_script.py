"""Child process of test_multinode.py: a study on a simulated two-node Ray cluster.

Usage: python multinode_script.py STUDY.yaml OUTPUT_DIR RESULT.json CPUS_PER_NODE DASHBOARD_PORT

Starts two raylets on 127.0.0.1 (`ray.cluster_utils.Cluster`) and runs the study
through the command line's `main` with `--address`. Meanwhile a thread polls Ray's
state API for the live Ray Train workers and the node of each. RESULT.json gets the
exit code, every worker's node, and those snapshots. A separate process keeps this
cluster apart from the shared Ray instance of the other tests.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray.util.state import list_actors

from sema_ray.bench.scaling import simulated_cluster
from sema_ray.study.__main__ import main

# Ray Train's worker actor class; every DDP rank of every trial is one of them.
TRAIN_WORKER_CLASS = "RayTrainWorker"
POLL_SECONDS = 0.5


def train_workers(address: str, alive_only: bool) -> list[dict]:
    """Return the Ray Train workers of the cluster at `address`, with node and placement group."""
    filters = [("class_name", "=", TRAIN_WORKER_CLASS)]
    if alive_only:
        filters.append(("state", "=", "ALIVE"))
    actors = list_actors(address=address, filters=filters, detail=True, limit=10_000,
                         raise_on_missing_output=False)
    # Each trial's worker group has its own placement group, which identifies the trial.
    return [{"node_id": actor.node_id, "pid": actor.pid,
             "placement_group_id": actor.placement_group_id} for actor in actors]


def poll_workers(address: str, snapshots: list, stop: threading.Event) -> None:
    while not stop.wait(POLL_SECONDS):
        try:
            snapshots.append({"time": time.time(), "workers": train_workers(address, True)})
        except Exception as error:  # noqa: BLE001 - a failed poll is recorded, not fatal
            snapshots.append({"time": time.time(), "workers": [], "error": repr(error)})


def run(study: str, output: str, result_path: str, cpus_per_node: int, dashboard_port: int) -> None:
    record: dict = {"snapshots": []}
    with simulated_cluster(2, cpus_per_node, dashboard_port=dashboard_port) as cluster:
        stop = threading.Event()
        poller = threading.Thread(target=poll_workers,
                                  args=(cluster.address, record["snapshots"], stop), daemon=True)
        poller.start()
        try:
            record["exit_code"] = main([study, "--output", output, "--address", cluster.address])
        except Exception:  # noqa: BLE001 - the record carries the traceback to the test
            record["exit_code"] = None
            record["exception"] = traceback.format_exc()
        finally:
            stop.set()
            poller.join()
        record["node_ids"] = [node["NodeID"] for node in ray.nodes() if node["Alive"]]
        record["workers"] = train_workers(cluster.address, False)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)


if __name__ == "__main__":
    study_arg, output_arg, result_arg, cpus_arg, port_arg = sys.argv[1:6]
    run(study_arg, output_arg, result_arg, int(cpus_arg), int(port_arg))
