"""End to end: the smoke study through real Ray Tune, Ray Train DDP workers and MLflow."""

from __future__ import annotations

import struct

import pytest
from mlflow import MlflowClient

from conftest import REPO_ROOT

SMOKE_STUDY = REPO_ROOT / "studies" / "smoke.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_run(ray_local, tmp_path_factory):
    """Run `python -m sema_ray.study studies/smoke.yaml` in-process on the shared Ray."""
    from sema_ray.study.__main__ import main

    output = tmp_path_factory.mktemp("smoke")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        exit_code = main([str(SMOKE_STUDY), "--output", str(output)])
    client = MlflowClient(f"sqlite:///{output / 'mlflow.db'}")
    return exit_code, output, client


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def runs_by_level(client: MlflowClient):
    experiment = client.get_experiment_by_name("smoke")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    levels: dict[str, list] = {}
    for run in runs:
        levels.setdefault(run.data.tags.get("sema_ray.level"), []).append(run)
    return levels


def test_smoke_exit_code_and_files(smoke_run):
    exit_code, output, _ = smoke_run
    assert exit_code == 0
    assert (output / "results.csv").is_file()
    assert (output / "metric_vs_momentum.png").is_file()
    rows = (output / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 4  # header + 2 tasks x (basic, sema)


def test_smoke_run_tree(smoke_run):
    _, _, client = smoke_run
    levels = runs_by_level(client)
    assert len(levels["study"]) == 1
    assert len(levels["task"]) == 2
    assert len(levels["trial"]) == 4
    study_id = levels["study"][0].info.run_id
    task_ids = {run.info.run_id for run in levels["task"]}
    for run in levels["task"]:
        assert run.data.tags["mlflow.parentRunId"] == study_id
    for run in levels["trial"]:
        assert run.data.tags["mlflow.parentRunId"] in task_ids
        assert run.info.status == "FINISHED"


def test_smoke_trial_params_and_metrics(smoke_run):
    _, _, client = smoke_run
    trials = runs_by_level(client)["trial"]
    methods = sorted(run.data.params["method"] for run in trials)
    assert methods == ["basic", "basic", "sema", "sema"]
    for run in trials:
        params = run.data.params
        epochs = int(params["recipe.epochs"])
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [point.step for point in history] == list(range(1, epochs + 1))
        assert all(0.0 <= point.value <= 100.0 for point in history)
        assert params["world_size"] == "2"
        if params["method"] == "basic":
            assert params["momentum"] == "None"
        else:
            assert 0.9 <= float(params["momentum"]) <= 0.999
        if params["method"] == "sema":
            assert float(params["switch_interval"]) == 1.0
        assert "test_accuracy" in run.data.metrics


def test_smoke_plot_artifact(smoke_run, tmp_path):
    _, _, client = smoke_run
    study = runs_by_level(client)["study"][0]
    names = [item.path for item in client.list_artifacts(study.info.run_id)]
    assert "metric_vs_momentum.png" in names
    local = client.download_artifacts(study.info.run_id, "metric_vs_momentum.png", str(tmp_path))
    data = open(local, "rb").read()
    # Two task panels of 5 x 4 inches at 100 dpi.
    assert png_size(data) == (1000, 400)
