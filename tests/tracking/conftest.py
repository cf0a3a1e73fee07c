"""Fixtures for the tracking tests, among them one study run against a real `mlflow server`."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

import sema_ray.study.runner as runner_module

from .browser import stop_group
from .helpers import STUDY, closed_port

SERVER_START_TIMEOUT_S = 300  # a loaded 2-core machine needs about a minute


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """Return an empty, migrated MLflow sqlite database; creating one takes seconds, copying it none."""
    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="package")
def mlflow_server(tmp_path_factory):
    """Start `mlflow server` on a free loopback port; stop its process group afterwards."""
    directory = tmp_path_factory.mktemp("mlflow_server")
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    log = (directory / "server.log").open("w")
    # Job execution starts a pool of worker processes that these tests never use.
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{directory / 'mlflow.db'}",
         "--artifacts-destination", str(directory / "artifacts"), "--workers", "1"],
        cwd=directory, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_health(url, process, directory / "server.log")
        yield url
    finally:
        stop_group(process)
        log.close()


def wait_for_health(url: str, process: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise TimeoutError(f"mlflow server at {url} not healthy after {SERVER_START_TIMEOUT_S} s: "
                       f"{log_path.read_text()[-2000:]}")


@pytest.fixture(scope="package")
def study(ray_local, mlflow_server, tmp_path_factory):
    """Run the study through the CLI with MLFLOW_TRACKING_URI set to the server.

    Package scope: every module in tests/tracking reads this one run, because each
    Ray Train trial costs about 20 s here.
    """
    from sema_ray.study.__main__ import main

    directory = tmp_path_factory.mktemp("records")
    study_file = directory / "records_check.yaml"
    study_file.write_text(yaml.safe_dump(STUDY), encoding="utf-8")
    output = directory / "out"
    outcomes = []
    real_run_study = runner_module.run_study

    def spy(*args, **kwargs):
        outcomes.append(real_run_study(*args, **kwargs))
        return outcomes[-1]

    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        patch.setattr(runner_module, "run_study", spy)
        exit_code = main([str(study_file), "--output", str(output)])

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("records_check")
    runs = client.search_runs([experiment.experiment_id])
    levels: dict[str, list] = {}
    for run in runs:
        levels.setdefault(run.data.tags.get("sema_ray.level"), []).append(run)
    return {"exit_code": exit_code, "printed": printed.getvalue(), "output": output,
            "outcome": outcomes[0], "client": client, "experiment": experiment, "levels": levels,
            "server": mlflow_server, "study_file": study_file}
