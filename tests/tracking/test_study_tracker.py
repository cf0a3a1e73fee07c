"""StudyTracker on local stores: run tree, no duplicates, unreachable and lost servers, import."""

from __future__ import annotations

import logging

import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from sema_ray.tracking.import_runs import import_runs, main
from sema_ray.tracking.provenance import GIT_COMMIT_TAG
from sema_ray.tracking.study import OUTPUT_DIR_TAG, StudyTracker
from sema_ray.tracking.trial import LEVEL_TAG, PARENT_TAG, TRIAL_KEY_TAG, TrialRecorder
from sema_ray.train.spec import TrackingTarget

from .helpers import closed_port, sqlite_uri


def runs_by_level(client: MlflowClient, experiment: str) -> dict[str, list]:
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    levels: dict[str, list] = {}
    for run in client.search_runs([experiment_id]):
        levels.setdefault(run.data.tags.get(LEVEL_TAG), []).append(run)
    return levels


def record_study(tracker: StudyTracker, tmp_path) -> str:
    """Record a study run, one task run with params and an artifact, and one trial with a history."""
    task_run = tracker.task_run("moons")
    tracker.log_params(task_run, {"task": "moons", "recipe.epochs": 2})
    target = TrackingTarget(uri=tracker.uri, experiment_id=tracker.experiment_id, parent_run_id=task_run,
                            run_name="moons-sema-search-a", trial_key="demo/moons-sema-search-a")
    recorder = TrialRecorder(target, {"method": "sema", "momentum": 0.99, "switch_interval": 1.0,
                                      "steps_per_epoch": 4})
    for epoch in (1, 2):
        recorder.log_metrics({"val_accuracy": 50.0 + epoch, "val_accuracy_fast": 40.0 + epoch}, step=epoch)
    recorder.finish("FINISHED")
    plot = tmp_path / "moons_convergence.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\nnot really an image")
    tracker.log_artifact(task_run, plot)
    tracker.finish(task_run)
    tracker.finish(tracker.study_run_id)
    return target.trial_key


def test_tracker_run_tree(tmp_path, store_template):
    uri = sqlite_uri(tmp_path, store_template)
    tracker = StudyTracker(uri, "demo", "demo", tmp_path / "out")
    key = record_study(tracker, tmp_path)
    levels = runs_by_level(MlflowClient(uri), "demo")
    (study,), (task,), (trial,) = levels["study"], levels["task"], levels["trial"]
    assert task.data.tags[PARENT_TAG] == study.info.run_id
    assert trial.data.tags[PARENT_TAG] == task.info.run_id
    assert study.data.tags[OUTPUT_DIR_TAG] == str((tmp_path / "out").resolve())
    assert study.data.tags[GIT_COMMIT_TAG]
    assert task.data.params == {"task": "moons", "recipe.epochs": "2"}
    histories = tracker.metric_histories([key], ["val_accuracy", "val_accuracy_fast"])
    assert histories == {key: {"val_accuracy": [(1, 51.0), (2, 52.0)],
                               "val_accuracy_fast": [(1, 41.0), (2, 42.0)]}}
    # Results carry the Ray Tune trial id, which ends the trial key.
    by_tune_id = tracker.metric_histories(["a"], ["val_accuracy"])
    assert by_tune_id == {"a": {"val_accuracy": [(1, 51.0), (2, 52.0)]}}


def test_tracker_resume_reuses_runs(tmp_path, store_template):
    uri = sqlite_uri(tmp_path, store_template)
    first = StudyTracker(uri, "demo", "demo", tmp_path / "out")
    first_task = first.task_run("moons")
    again = StudyTracker(uri, "demo", "demo", tmp_path / "out")
    assert again.study_run_id == first.study_run_id
    assert again.task_run("moons") == first_task
    # A new output directory is a new study instance, not more trials under the old one.
    other = StudyTracker(uri, "demo", "demo", tmp_path / "elsewhere")
    assert other.study_run_id != first.study_run_id
    assert len(runs_by_level(MlflowClient(uri), "demo")["study"]) == 2


def test_unreachable_server_falls_back(tmp_path, caplog):
    server = f"http://127.0.0.1:{closed_port()}"
    output = tmp_path / "out"
    output.mkdir()
    with caplog.at_level(logging.WARNING, logger="sema_ray.tracking.study"):
        tracker = StudyTracker(server, "demo", "demo", output)
        record_study(tracker, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"MLflow tracking server {server} cannot be reached" in warnings[0]

    local = f"sqlite:///{(output / 'mlflow.db').resolve()}"
    assert tracker.fallback
    assert tracker.uri == tracker.store_uri == local
    assert tracker.import_command() == (f"python -m sema_ray.tracking.import_runs {local} {server} "
                                        "--experiment demo")
    assert tracker.import_command() in warnings[0]
    assert tracker.ui_command() == (
        f"mlflow ui --backend-store-uri {local} --host 127.0.0.1 --port 5000  # then open "
        f"http://127.0.0.1:5000/#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning")
    assert len(runs_by_level(MlflowClient(local), "demo")["trial"]) == 1


def lost_connection(*args, **kwargs):
    try:
        raise requests.exceptions.ConnectionError("connection refused")
    except requests.exceptions.ConnectionError:
        raise MlflowException("API request to http://server failed with exception") from None


def test_lost_server_warns_once(tmp_path, store_template, monkeypatch, caplog):
    uri = sqlite_uri(tmp_path, store_template)
    tracker = StudyTracker(uri, "demo", "demo", tmp_path / "out")
    task_run = tracker.task_run("moons")
    monkeypatch.setattr(tracker.client, "log_batch", lost_connection)
    with caplog.at_level(logging.WARNING, logger="sema_ray.tracking.study"):
        tracker.log_params(task_run, {"a": 1})
        tracker.log_params(task_run, {"b": 2})
        tracker.finish(task_run)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    # Later trials skip MLflow instead of each waiting for the lost server.
    assert tracker.uri is None
    assert tracker.task_run("digits") is None
    assert MlflowClient(uri).get_run(task_run).info.status == "RUNNING"


def test_server_error_is_not_a_lost_connection(tmp_path, store_template):
    uri = sqlite_uri(tmp_path, store_template)
    tracker = StudyTracker(uri, "demo", "demo", tmp_path / "out")
    task_run = tracker.task_run("moons")
    tracker.log_params(task_run, {"lr": 0.1})
    with pytest.raises(MlflowException):
        tracker.log_params(task_run, {"lr": 0.2})  # params are immutable: a bug, not an outage
    assert tracker.uri == uri


def test_import_copies_tree_once(tmp_path, store_template):
    source = sqlite_uri(tmp_path, store_template, "source.db")
    target = sqlite_uri(tmp_path, store_template, "target.db")
    tracker = StudyTracker(source, "demo", "demo", tmp_path / "out")
    key = record_study(tracker, tmp_path)

    summary = import_runs(source, target, "demo")
    assert (summary.created, summary.skipped) == (3, 0)
    client = MlflowClient(target)
    levels = runs_by_level(client, "demo")
    (study,), (task,), (trial,) = levels["study"], levels["task"], levels["trial"]
    assert task.data.tags[PARENT_TAG] == study.info.run_id
    assert trial.data.tags[PARENT_TAG] == task.info.run_id
    assert trial.data.tags[TRIAL_KEY_TAG] == key
    assert trial.data.params["switch_every_steps"] == "4"
    assert [(p.step, p.value) for p in client.get_metric_history(trial.info.run_id, "val_accuracy")] == [
        (1, 51.0), (2, 52.0)]
    assert [a.path for a in client.list_artifacts(task.info.run_id)] == ["moons_convergence.png"]
    assert trial.info.status == "FINISHED"

    again = import_runs(source, target, "demo")
    assert (again.created, again.skipped) == (0, 3)
    assert sum(len(runs) for runs in runs_by_level(client, "demo").values()) == 3


def test_import_cli_unknown_experiment(tmp_path, store_template, capsys):
    source = sqlite_uri(tmp_path, store_template, "source.db")
    target = sqlite_uri(tmp_path, store_template, "target.db")
    assert main([source, target, "--experiment", "nope"]) == 2
    assert "experiment 'nope' not found in" in capsys.readouterr().err
