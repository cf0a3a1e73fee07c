"""The MLflow run of one trial, written by rank 0 of its Ray Train workers."""

from __future__ import annotations

import logging
import math
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from sema_ray.train.spec import TrackingTarget

logger = logging.getLogger(__name__)

TRIAL_KEY_TAG = "sema_ray.trial_key"
PARENT_TAG = "mlflow.parentRunId"


class TrialRecorder:
    """Create (or, after a worker restart, reopen) a trial's run and log to it."""

    def __init__(self, target: TrackingTarget, params: dict, tags: dict | None = None):
        self.client = MlflowClient(target.uri)
        self.run_id = find_run(self.client, target.experiment_id, target.trial_key)
        if self.run_id is None:
            run_tags = {PARENT_TAG: target.parent_run_id, TRIAL_KEY_TAG: target.trial_key,
                        "sema_ray.level": "trial"} | (tags or {})
            run = self.client.create_run(target.experiment_id, run_name=target.run_name, tags=run_tags)
            self.run_id = run.info.run_id
        else:
            self.client.update_run(self.run_id, status="RUNNING")
        # MLflow params are strings; None becomes "None" so absent settings stay visible.
        self.client.log_batch(self.run_id, params=[Param(key, str(value)) for key, value in params.items()])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        timestamp = int(time.time() * 1000)
        batch = [Metric(key, float(value), timestamp, step) for key, value in metrics.items()
                 if isinstance(value, (int, float)) and math.isfinite(value)]
        self.client.log_batch(self.run_id, metrics=batch)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.client.log_batch(self.run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()])

    def finish(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=status)


def find_run(client: MlflowClient, experiment_id: str, trial_key: str) -> str | None:
    """Return the id of the run carrying `trial_key`, if one exists."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{TRIAL_KEY_TAG}` = '{trial_key}'",
                              max_results=1)
    return runs[0].info.run_id if runs else None
