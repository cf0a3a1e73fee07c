"""Driver-side MLflow records: the experiment, the study run and one run per task."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Param

from sema_ray.tracking.trial import PARENT_TAG, TRIAL_KEY_TAG, find_run

logger = logging.getLogger(__name__)


def resolve_tracking_uri(configured: str | None, output_dir: Path) -> str:
    """Return the study file's URI, else MLFLOW_TRACKING_URI, else sqlite in the output dir."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(output_dir / 'mlflow.db').resolve()}"


def is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/"))


class StudyTracker:
    """Own the study's experiment and its study and task runs."""

    def __init__(self, uri: str, experiment: str, study_name: str, output_dir: Path):
        self.uri = uri
        self.client = MlflowClient(uri)
        found = self.client.get_experiment_by_name(experiment)
        if found is not None:
            self.experiment_id = found.experiment_id
        else:
            # A local store keeps artifacts beside the database, not in ./mlruns of
            # whatever directory the study was started from.
            location = (output_dir / "mlartifacts").resolve().as_uri() if is_local_store(uri) else None
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=location)
        self.study_key = f"study:{study_name}"
        self.study_run_id = self._open_run(self.study_key, study_name, parent=None, level="study")

    def _open_run(self, key: str, name: str, parent: str | None, level: str) -> str:
        run_id = find_run(self.client, self.experiment_id, key)
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        tags = {TRIAL_KEY_TAG: key, "sema_ray.level": level}
        if parent is not None:
            tags[PARENT_TAG] = parent
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def task_run(self, task: str) -> str:
        """Return the run id of the task's run, nested under the study run."""
        return self._open_run(f"{self.study_key}/{task}", task, parent=self.study_run_id, level="task")

    def log_params(self, run_id: str, params: dict) -> None:
        self.client.log_batch(run_id, params=[Param(key, str(value)) for key, value in params.items()])

    def log_artifact(self, run_id: str, path: Path) -> None:
        self.client.log_artifact(run_id, str(path))

    def finish(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def ui_command(self) -> str:
        """Return the shell command that opens these runs in the MLflow UI on 127.0.0.1."""
        if is_local_store(self.uri):
            return f"mlflow ui --backend-store-uri {self.uri} --host 127.0.0.1 --port 5000"
        return f"open {self.uri} in a browser (experiment id {self.experiment_id})"
