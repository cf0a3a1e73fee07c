"""A study on a simulated two-node Ray cluster, with one task whose loss diverges.

One study run serves every test here, because each Ray Train trial costs tens of
seconds on 2 cores. Its three tasks each run two trials at once, which the cluster
fits only by putting one trial on each node. `moons` trains normally. `circles`
trains at a learning rate of 1e30, so its loss overflows to inf or NaN in the first
steps. `noisy_quadratic` comes after it and shows that the study goes on.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from .helpers import (
    PYTHON,
    clean_env,
    free_port,
    kill_tree,
    log_tail,
    mlflow_runs,
    read_results,
    start,
    tiny_study,
    write_study,
)

SCRIPT = Path(__file__).with_name("multinode_script.py")
STUDY_TIMEOUT = 1200  # seconds; about 2 minutes on an idle 2-core machine
CPUS_PER_NODE = 2
HEALTHY_TASK, DIVERGING_TASK, LATER_TASK = "moons", "circles", "noisy_quadratic"
NON_FINITE = re.compile(r"\b(nan|inf|non-finite)\b", re.IGNORECASE)

@pytest.fixture(scope="module")
def two_node_run(tmp_path_factory):
    """Run the study in a child process that owns the simulated cluster; return its records."""
    directory = tmp_path_factory.mktemp("two_nodes")
    study = tiny_study(
        "two_nodes",
        tasks=[{"name": HEALTHY_TASK, "recipe": {"epochs": 2}},
               {"name": DIVERGING_TASK, "recipe": {"epochs": 1, "lr": 1e30}},
               {"name": LATER_TASK, "recipe": {"epochs": 1}}],
        methods={"sema": {"momentum": [0.9, 0.99], "switch_interval": 1, "trials": 2}},
        search={"sampler": "random", "trials": 2, "seed": 0},
        # Each trial takes 1 CPU of a 2-CPU node, and the Tune trial process 0.01 more,
        # so two trials never fit on one node.
        resources={"workers": 2, "cpus_per_worker": 0.5, "trials_at_once": 2},
    )
    study_path = write_study(directory, study)

    output = directory / "out"
    record_path, log_path = directory / "record.json", directory / "log.txt"
    process = start([PYTHON, str(SCRIPT), str(study_path), str(output), str(record_path),
                     str(CPUS_PER_NODE), str(free_port())], log_path, env=clean_env())
    try:
        process.wait(timeout=STUDY_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the two-node study did not finish in {STUDY_TIMEOUT} s:\n"
                    f"{log_tail(log_path)}")
    finally:
        kill_tree(process)
    if not record_path.exists():
        pytest.fail(f"the two-node study wrote no record:\n{log_tail(log_path)}")

    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["rows"] = read_results(output) if (output / "results.csv").exists() else []
    record["runs"] = mlflow_runs(output, "two_nodes")
    record["output"] = output
    record["log"] = log_path
    return record


def rows_of(record, task: str) -> list[dict]:
    return [row for row in record["rows"] if row["task"] == task]


def trial_runs_of(record, task: str) -> list:
    return [run for run in record["runs"]["trial"] if run.data.params["task"] == task]


def test_trials_run_on_both_nodes(two_node_run):
    assert len(two_node_run["node_ids"]) == 2
    per_node = {node: 0 for node in two_node_run["node_ids"]}
    for worker in two_node_run["workers"]:
        per_node[worker["node_id"]] += 1
    # At least the healthy task's two trials x two DDP workers.
    assert sum(per_node.values()) >= 4, two_node_run["workers"]
    for node, workers in per_node.items():
        assert workers >= 2, f"node {node} ran {workers} Ray Train workers"


def test_trials_overlap_on_two_nodes(two_node_run):
    snapshots = two_node_run["snapshots"]
    successful_polls = [snapshot for snapshot in snapshots if "error" not in snapshot]
    assert successful_polls, f"no snapshot of the live workers was taken: {snapshots[:3]}"

    # Each snapshot lists the live workers; a placement group is one trial's worker group.
    concurrent = []
    for snapshot in successful_polls:
        trials = {worker["placement_group_id"] for worker in snapshot["workers"]}
        nodes = {worker["node_id"] for worker in snapshot["workers"]}
        if len(trials) >= 2 and len(nodes) == 2:
            concurrent.append(snapshot["time"])
    assert concurrent, "no snapshot saw two trials at once on different nodes"


def test_healthy_trials_finish(two_node_run):
    healthy = rows_of(two_node_run, HEALTHY_TASK)
    assert len(healthy) == 2
    for row in healthy:
        assert row["status"] == "ok", row
        assert int(row["epochs"]) == 2


def test_study_continues_after_nan(two_node_run):
    assert two_node_run.get("exception") is None, two_node_run["exception"]
    # Exit code 1: a task without a single finished trial, as the CLI documents.
    assert two_node_run["exit_code"] == 1, log_tail(two_node_run["log"])
    later = rows_of(two_node_run, LATER_TASK)
    assert len(later) == 2
    for row in later:
        assert row["status"] == "ok", row


def test_nan_trial_marked_failed(two_node_run):
    diverged = rows_of(two_node_run, DIVERGING_TASK)
    assert len(diverged) == 2
    for row in diverged:
        assert row["status"] == "failed", row
        assert NON_FINITE.search(row["error"]), row["error"]


def test_nan_trial_failed_in_mlflow(two_node_run):
    runs = trial_runs_of(two_node_run, DIVERGING_TASK)
    assert len(runs) == 2
    for run in runs:
        assert run.info.status == "FAILED"


def test_nan_trial_listed_in_report(two_node_run):
    report_path = two_node_run["output"] / "report.md"
    assert report_path.exists(), "the study wrote no report"
    report = report_path.read_text(encoding="utf-8")
    failed_lines = [line for line in report.splitlines()
                    if DIVERGING_TASK in line and NON_FINITE.search(line)]
    assert len(failed_lines) == 2, report
