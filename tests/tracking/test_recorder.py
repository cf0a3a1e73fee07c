"""TrialRecorder on a local store: params, derived SEMA params, tags, metrics, reopening, lost server."""

from __future__ import annotations

import logging
import math

import pytest
from mlflow import MlflowClient

from sema_ray.tracking.provenance import DEVICE_TAG, GIT_COMMIT_TAG, VERSION_TAG_PREFIX
from sema_ray.tracking.trial import (
    LEVEL_TAG,
    PARENT_TAG,
    TRIAL_KEY_TAG,
    TrialRecorder,
    derived_params,
)
from sema_ray.train.spec import TrackingTarget

from .helpers import closed_port, sqlite_uri

SEMA_PARAMS = {"task": "moons", "method": "sema", "momentum": 0.99, "switch_interval": 0.5, "seed": 3,
               "recipe.epochs": 2, "world_size": 2, "steps_per_epoch": 10}


@pytest.fixture
def store(tmp_path, store_template):
    uri = sqlite_uri(tmp_path, store_template)
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("recorder", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(experiment_id, run_name="task").info.run_id
    target = TrackingTarget(uri=uri, experiment_id=experiment_id, parent_run_id=parent,
                            run_name="moons-sema-search-1", trial_key="recorder/moons-sema-search-1")
    return client, target


def test_recorder_params_and_tags(store):
    client, target = store
    recorder = TrialRecorder(target, SEMA_PARAMS)
    run = client.get_run(recorder.run_id)
    assert run.data.tags[PARENT_TAG] == target.parent_run_id
    assert run.data.tags[TRIAL_KEY_TAG] == target.trial_key
    assert run.data.tags[LEVEL_TAG] == "trial"
    for tag in (GIT_COMMIT_TAG, DEVICE_TAG, VERSION_TAG_PREFIX + "torch", VERSION_TAG_PREFIX + "ray"):
        assert run.data.tags[tag]
    for key, value in SEMA_PARAMS.items():
        assert run.data.params[key] == str(value)
    # 0.5 epochs of 10 steps: a switch every 5 steps, r = 5 * (1 - 0.99).
    assert run.data.params["switch_every_steps"] == "5"
    assert float(run.data.params["horizon_ratio"]) == pytest.approx(0.05)


def test_derived_params_only_for_sema():
    assert derived_params(SEMA_PARAMS | {"method": "ema"}) == {}
    assert derived_params(SEMA_PARAMS | {"steps_per_epoch": None}) == {}
    assert derived_params(SEMA_PARAMS | {"switch_interval": 0.01})["switch_every_steps"] == 1


def test_recorder_metric_history(store):
    client, target = store
    recorder = TrialRecorder(target, SEMA_PARAMS)
    for epoch, accuracy in enumerate([60.0, 70.0, math.nan], start=1):
        recorder.log_metrics({"val_accuracy": accuracy, "val_accuracy_fast": accuracy - 1,
                              "trial_id": "not a number"}, step=epoch)
    recorder.finish("FINISHED")
    history = client.get_metric_history(recorder.run_id, "val_accuracy")
    # The NaN of epoch 3 is dropped; text values are never metrics.
    assert [(p.step, p.value) for p in history] == [(1, 60.0), (2, 70.0)]
    assert [p.value for p in client.get_metric_history(recorder.run_id, "val_accuracy_fast")] == [59.0, 69.0]
    assert "trial_id" not in client.get_run(recorder.run_id).data.metrics
    assert client.get_run(recorder.run_id).info.status == "FINISHED"


def test_recorder_reopens_after_restart(store):
    client, target = store
    first = TrialRecorder(target, SEMA_PARAMS)
    first.log_metrics({"val_accuracy": 50.0}, step=1)
    second = TrialRecorder(target, SEMA_PARAMS)
    assert second.run_id == first.run_id
    assert client.get_run(second.run_id).info.status == "RUNNING"
    runs = client.search_runs([target.experiment_id], f"tags.`{TRIAL_KEY_TAG}` = '{target.trial_key}'")
    assert len(runs) == 1


def test_recorder_survives_unreachable_server(store, monkeypatch, caplog):
    _, target = store
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    unreachable = TrackingTarget(**{**vars(target), "uri": f"http://127.0.0.1:{closed_port()}"})
    with caplog.at_level(logging.WARNING, logger="sema_ray.tracking.trial"):
        recorder = TrialRecorder(unreachable, SEMA_PARAMS)
        recorder.log_metrics({"val_accuracy": 50.0}, step=1)
        recorder.set_tags({"sema_ray.failure": "none"})
        recorder.finish("FINISHED")
    assert recorder.run_id is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "stopped responding" in warnings[0].getMessage()
    assert target.trial_key in warnings[0].getMessage()
