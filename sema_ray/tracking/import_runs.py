"""Copy a study's MLflow runs from one store to another, e.g. from the local fallback to a server.

    python -m sema_ray.tracking.import_runs sqlite:///out/mlflow.db http://mlflow:5000 --experiment my_study

Every run keeps its name, tags, params, full metric histories, artifacts, status and
times, and its parent: study, task and trial runs nest as they did. A run is matched
by its `sema_ray.trial_key` tag, so importing twice, or into a server that already
contains part of the study, copies only the runs the target lacks.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from sema_ray.tracking.trial import LEVEL_TAG, PARENT_TAG, TRIAL_KEY_TAG, find_run

logger = logging.getLogger(__name__)

LEVEL_ORDER = {"study": 0, "task": 1, "trial": 2}  # parents are created before their children
# MLflow's limits per log_batch request.
MAX_PARAMS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000


@dataclass(frozen=True)
class ImportSummary:
    experiment_id: str  # in the target store
    created: int  # runs copied
    skipped: int  # runs the target already held


def all_runs(client: MlflowClient, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def import_runs(source_uri: str, target_uri: str, experiment: str) -> ImportSummary:
    """Copy every run of `experiment` from `source_uri` to `target_uri` that the target lacks."""
    source, target = MlflowClient(source_uri), MlflowClient(target_uri)
    found = source.get_experiment_by_name(experiment)
    if found is None:
        names = ", ".join(e.name for e in source.search_experiments()) or "none"
        raise ValueError(f"experiment {experiment!r} not found in {source_uri}; experiments there: {names}")
    existing = target.get_experiment_by_name(experiment)
    target_id = existing.experiment_id if existing else target.create_experiment(experiment)

    runs = sorted(all_runs(source, found.experiment_id),
                  key=lambda run: (LEVEL_ORDER.get(run.data.tags.get(LEVEL_TAG), 3), run.info.start_time or 0))
    new_ids: dict[str, str] = {}
    created = skipped = 0
    for run in runs:
        key = run.data.tags.get(TRIAL_KEY_TAG) or f"imported:{run.info.run_id}"
        match = find_run(target, target_id, key)
        if match is not None:
            new_ids[run.info.run_id] = match
            skipped += 1
            continue
        new_ids[run.info.run_id] = copy_run(source, target, target_id, run, key, new_ids)
        created += 1
    logger.info("imported %d runs of %r into %s (%d were there already)", created, experiment, target_uri, skipped)
    return ImportSummary(target_id, created, skipped)


def copy_run(source: MlflowClient, target: MlflowClient, experiment_id: str, run, key: str,
             new_ids: dict[str, str]) -> str:
    """Create a copy of `run` in the target and return its id; its parent must be copied already."""
    tags = {name: value for name, value in run.data.tags.items() if name != PARENT_TAG}
    tags[TRIAL_KEY_TAG] = key
    parent = run.data.tags.get(PARENT_TAG)
    if parent is not None and parent in new_ids:
        tags[PARENT_TAG] = new_ids[parent]
    run_id = target.create_run(experiment_id, start_time=run.info.start_time, tags=tags,
                               run_name=run.info.run_name).info.run_id

    params = [Param(name, value) for name, value in run.data.params.items()]
    for start in range(0, len(params), MAX_PARAMS_PER_BATCH):
        target.log_batch(run_id, params=params[start:start + MAX_PARAMS_PER_BATCH])
    metrics = [Metric(name, point.value, point.timestamp, point.step)
               for name in run.data.metrics for point in source.get_metric_history(run.info.run_id, name)]
    for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
        target.log_batch(run_id, metrics=metrics[start:start + MAX_METRICS_PER_BATCH])

    if source.list_artifacts(run.info.run_id):
        with tempfile.TemporaryDirectory() as directory:
            local = source.download_artifacts(run.info.run_id, "", directory)
            target.log_artifacts(run_id, local)
    if run.info.status != "RUNNING":
        target.set_terminated(run_id, status=run.info.status, end_time=run.info.end_time)
    return run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sema_ray.tracking.import_runs",
                                     description="Copy a study's MLflow runs into another tracking store.")
    parser.add_argument("source", help="tracking URI holding the runs, e.g. sqlite:///out/mlflow.db")
    parser.add_argument("target", help="tracking URI to copy them to, e.g. http://127.0.0.1:5000")
    parser.add_argument("--experiment", required=True, help="experiment name (the study name by default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = import_runs(args.source, args.target, args.experiment)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"copied {summary.created} runs, skipped {summary.skipped} already in {args.target} "
          f"(experiment id {summary.experiment_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
