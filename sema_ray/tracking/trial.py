"""The MLflow run of one trial, written by rank 0 of its Ray Train workers.

A trial run carries the trial's hyperparameters as params (with SEMA's switch interval
also in optimizer steps and as the horizon ratio r), per-epoch metrics, and tags for
the git commit, package versions and device. If the tracking server stops responding,
the recorder logs one warning and records nothing more: losing MLflow records must not
fail a training run, whose metrics Ray Tune keeps anyway.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from sema_ray.tracking.connection import is_connection_error
from sema_ray.tracking.provenance import provenance_tags
from sema_ray.train.spec import TrackingTarget

logger = logging.getLogger(__name__)

TRIAL_KEY_TAG = "sema_ray.trial_key"
LEVEL_TAG = "sema_ray.level"  # "study", "task" or "trial"
PARENT_TAG = "mlflow.parentRunId"


def derived_params(params: dict) -> dict:
    """Return SEMA's switch interval in steps and its horizon ratio, when params allow.

    switch_every_steps = max(1, round(switch_interval * steps_per_epoch)), as the
    worker converts it, and r = switch_every_steps * (1 - momentum).
    """
    momentum, interval = params.get("momentum"), params.get("switch_interval")
    steps_per_epoch = params.get("steps_per_epoch")
    if params.get("method") != "sema" or None in (momentum, interval, steps_per_epoch):
        return {}
    steps = max(1, round(float(interval) * int(steps_per_epoch)))
    return {"switch_every_steps": steps, "horizon_ratio": steps * (1 - float(momentum))}


def current_device() -> object | None:
    """Return this Ray Train worker's torch device, or None outside a Ray Train worker."""
    try:
        import ray.train.torch

        return ray.train.torch.get_device()
    except (ImportError, RuntimeError, AttributeError, ValueError):
        return None


class TrialRecorder:
    """Create (or, after a worker restart, reopen) a trial's run and log to it."""

    def __init__(self, target: TrackingTarget, params: dict, tags: dict | None = None):
        self.target = target
        self.client = MlflowClient(target.uri)
        self.run_id: str | None = None
        self._guard("opening the trial run", lambda: self._open(params, tags or {}))

    def _open(self, params: dict, tags: dict) -> None:
        target = self.target
        run_id = find_run(self.client, target.experiment_id, target.trial_key)
        if run_id is None:
            run_tags = {PARENT_TAG: target.parent_run_id, TRIAL_KEY_TAG: target.trial_key,
                        LEVEL_TAG: "trial"} | provenance_tags(current_device()) | tags
            run_id = self.client.create_run(target.experiment_id, run_name=target.run_name,
                                            tags=run_tags).info.run_id
        else:
            self.client.update_run(run_id, status="RUNNING")
        self.run_id = run_id
        # MLflow params are strings; None becomes "None" so absent settings stay visible.
        params = params | derived_params(params)
        self.client.log_batch(run_id, params=[Param(key, str(value)) for key, value in params.items()])

    def _guard(self, action: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as error:
            if not is_connection_error(error):
                raise
            logger.warning("MLflow tracking server %s stopped responding (%s failed: %s); trial %s "
                           "continues without MLflow records", self.target.uri, action, error,
                           self.target.trial_key)
            self.run_id = None

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        if self.run_id is None:
            return
        timestamp = int(time.time() * 1000)
        batch = [Metric(key, float(value), timestamp, step) for key, value in metrics.items()
                 if isinstance(value, (int, float)) and math.isfinite(value)]
        self._guard(f"logging epoch {step}", lambda: self.client.log_batch(self.run_id, metrics=batch))

    def set_tags(self, tags: dict[str, str]) -> None:
        if self.run_id is not None:
            self._guard("setting tags", lambda: self.client.log_batch(
                self.run_id, tags=[RunTag(key, str(value)) for key, value in tags.items()]))

    def finish(self, status: str) -> None:
        if self.run_id is not None:
            self._guard("closing the trial run", lambda: self.client.set_terminated(self.run_id, status=status))


def find_run(client: MlflowClient, experiment_id: str, trial_key: str) -> str | None:
    """Return the id of the run carrying `trial_key`, if one exists."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{TRIAL_KEY_TAG}` = '{trial_key}'",
                              max_results=1)
    return runs[0].info.run_id if runs else None
