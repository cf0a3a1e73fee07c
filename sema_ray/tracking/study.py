"""Driver-side MLflow records: the experiment, the study run and one run per task.

A remote tracking server is probed before the study starts. When it cannot be reached,
the study warns once and records every run in a local store in its output directory
instead. `python -m sema_ray.tracking.import_runs` copies them to the server later.
When the server stops responding during the study, the tracker warns once and records
nothing more, and the output directory still contains every result.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from mlflow import MlflowClient
from mlflow.entities import Param, RunTag

from sema_ray.tracking.connection import is_connection_error, is_remote, unreachable_reason
from sema_ray.tracking.provenance import provenance_tags
from sema_ray.tracking.trial import LEVEL_TAG, PARENT_TAG, TRIAL_KEY_TAG, find_run

logger = logging.getLogger(__name__)

OUTPUT_DIR_TAG = "sema_ray.output_dir"
UI_PORT = 5000
# MLflow 3 marks an experiment as model training (not GenAI), so its UI lists the runs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
# MLflow 3.x UIs open the GenAI view of an experiment unless the URL requests this one.
RUNS_VIEW_QUERY = "workflowType=machine_learning"
Result = TypeVar("Result")


def resolve_tracking_uri(configured: str | None, output_dir: Path) -> str:
    """Return the study file's URI, else MLFLOW_TRACKING_URI, else sqlite in the output dir."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return local_store_uri(output_dir)


def local_store_uri(output_dir: Path) -> str:
    return f"sqlite:///{(output_dir / 'mlflow.db').resolve()}"


def is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:", "/"))


def study_key(study_name: str, output_dir: Path) -> str:
    """Return the key of one study instance: its name and where it writes.

    Resuming reuses the output directory, so it finds the same runs. A new output
    directory starts a new study run instead of adding trials to an old one.
    """
    digest = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:12]
    return f"study:{study_name}:{digest}"


def import_command(source_uri: str, target_uri: str, experiment: str) -> str:
    return f"python -m sema_ray.tracking.import_runs {source_uri} {target_uri} --experiment {experiment}"


class StudyTracker:
    """Own the study's experiment and its study and task runs.

    `uri` is where trials record their runs, or None once a server stopped responding,
    so that later trials skip MLflow instead of each waiting for the dead server.
    """

    def __init__(self, uri: str, experiment: str, study_name: str, output_dir: Path):
        self.requested_uri = uri
        self.experiment = experiment
        self.output_dir = output_dir.resolve()
        self.study_key = study_key(study_name, self.output_dir)
        self.study_name = study_name
        self.task_run_ids: dict[str, str] = {}
        self.fallback = False  # True when the runs went to the local store instead of `uri`

        reason = unreachable_reason(uri) if is_remote(uri) else None
        if reason is None:
            try:
                self._connect(uri)
                return
            except Exception as error:
                if not is_connection_error(error):
                    raise
                reason = str(error)
        self.fallback = True
        local = local_store_uri(self.output_dir)
        logger.warning("MLflow tracking server %s cannot be reached (%s). The study continues and records "
                       "its runs in %s; import them once the server is up with: %s",
                       uri, reason, local, import_command(local, uri, experiment))
        self._connect(local)

    def _connect(self, uri: str) -> None:
        """Open (or find again) the experiment and the study run in the store at `uri`."""
        self.uri: str | None = uri
        self.store_uri = uri
        self.client = MlflowClient(uri)
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            self.experiment_id = found.experiment_id
        else:
            # A local store keeps artifacts beside the database, not in ./mlruns of
            # whatever directory the study was started from.
            location = (self.output_dir / "mlartifacts").as_uri() if is_local_store(uri) else None
            self.experiment_id = self.client.create_experiment(self.experiment, artifact_location=location,
                                                               tags={EXPERIMENT_KIND_TAG: TRAINING_KIND})
        self.study_run_id = self._open_run(self.study_key, self.study_name, parent=None, level="study")
        self.client.log_batch(self.study_run_id, tags=[
            RunTag(key, value) for key, value in
            (provenance_tags() | {OUTPUT_DIR_TAG: str(self.output_dir)}).items()])

    def _open_run(self, key: str, name: str, parent: str | None, level: str) -> str:
        run_id = find_run(self.client, self.experiment_id, key)
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            return run_id
        tags = {TRIAL_KEY_TAG: key, LEVEL_TAG: level}
        if parent is not None:
            tags[PARENT_TAG] = parent
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags).info.run_id

    def _guard(self, action: str, call: Callable[[], Result]) -> Result | None:
        """Run one MLflow call; after a lost connection, warn once and skip every later call."""
        if self.uri is None:
            return None
        try:
            return call()
        except Exception as error:
            if not is_connection_error(error):
                raise
            # NOTE: MLflow retries a failed request with backoff first (about 4 minutes at
            # the default MLFLOW_HTTP_REQUEST_MAX_RETRIES=7), so this can be slow to trigger.
            logger.warning("MLflow tracking server %s stopped responding (%s failed: %s). The study "
                           "continues without MLflow records; %s contains every result.",
                           self.uri, action, error, self.output_dir)
            self.uri = None
            return None

    def task_run(self, task: str) -> str | None:
        """Open the task's run, nested under the study run, and return its id."""
        run_id = self._guard(f"opening the run of task {task}", lambda: self._open_run(
            f"{self.study_key}/{task}", task, parent=self.study_run_id, level="task"))
        if run_id is not None:
            self.task_run_ids[task] = run_id
        return run_id

    def task_run_id(self, task: str) -> str | None:
        """Return the id of the task's run without reopening it; None if it has none."""
        if task not in self.task_run_ids and self.uri is not None:
            found = self._guard(f"finding the run of task {task}", lambda: find_run(
                self.client, self.experiment_id, f"{self.study_key}/{task}"))
            if found is not None:
                self.task_run_ids[task] = found
        return self.task_run_ids.get(task)

    def log_params(self, run_id: str | None, params: dict) -> None:
        if run_id is not None:
            self._guard("logging params", lambda: self.client.log_batch(
                run_id, params=[Param(key, str(value)) for key, value in params.items()]))

    def log_artifact(self, run_id: str | None, path: Path) -> None:
        if run_id is not None:
            self._guard(f"uploading {path.name}", lambda: self.client.log_artifact(run_id, str(path)))

    def finish(self, run_id: str | None, status: str = "FINISHED") -> None:
        if run_id is not None:
            self._guard("closing a run", lambda: self.client.set_terminated(run_id, status=status))

    def metric_histories(self, trial_ids: Iterable[str],
                         names: Iterable[str]) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Return per-epoch values of `names` for the given trials: id -> name -> [(step, value)].

        A trial id is the run's full `sema_ray.trial_key` or the Ray Tune trial id that key
        ends with (after the last "-"), which is what `TrialResult.trial_id` carries.
        """
        requested = set(trial_ids)
        names = list(names)
        histories = self._guard("reading metric histories", lambda: self._read_histories(requested, names))
        return histories or {}

    def _read_histories(self, requested: set[str], names: list[str]) -> dict:
        run_ids = {}
        # Task runs are found through the study run, so a tracker that reopened a finished
        # study (and opened no task run itself) reads the same histories.
        for task_run in self._child_runs(self.study_run_id):
            for run in self._child_runs(task_run.info.run_id):
                key = run.data.tags.get(TRIAL_KEY_TAG, "")
                for trial_id in (key, key.rsplit("-", 1)[-1]):
                    if trial_id in requested:
                        run_ids[trial_id] = run.info.run_id
        histories = {}
        for trial_id, run_id in run_ids.items():
            histories[trial_id] = {name: [(point.step, point.value) for point in
                                          sorted(self.client.get_metric_history(run_id, name),
                                                 key=lambda p: p.step)]
                                   for name in names}
        return histories

    def _child_runs(self, parent_id: str) -> list:
        runs, token = [], None
        while True:
            page = self.client.search_runs([self.experiment_id], f"tags.`{PARENT_TAG}` = '{parent_id}'",
                                           max_results=1000, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def runs_url(self, base: str) -> str:
        """Return the URL of this experiment's runs table in the MLflow UI served at `base`."""
        return f"{base.rstrip('/')}/#/experiments/{self.experiment_id}/runs?{RUNS_VIEW_QUERY}"

    def ui_command(self) -> str:
        """Return how to open these runs: an `mlflow ui` command on 127.0.0.1, or the server's URL.

        The command ends with a shell comment giving the page to open, so it can be pasted whole.
        """
        if is_local_store(self.store_uri):
            return (f"mlflow ui --backend-store-uri {self.store_uri} --host 127.0.0.1 --port {UI_PORT}"
                    f"  # then open {self.runs_url(f'http://127.0.0.1:{UI_PORT}')}")
        return self.runs_url(self.store_uri)

    def import_command(self) -> str:
        """Return the command that copies the fallback store's runs to the server, or ""."""
        if not self.fallback:
            return ""
        return import_command(self.store_uri, self.requested_uri, self.experiment)
