"""`ray job submit` of a study to a real `ray start --head` cluster, as the README shows it."""

from __future__ import annotations

import subprocess

import pytest

from .helpers import RAY_CLI, log_tail, mlflow_runs, read_results, tiny_study, write_study

JOB_TIMEOUT = 900  # seconds; about a minute on an idle 2-core machine


def test_job_submit_runs_study(ray_head, tmp_path):
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    study_path = write_study(job_dir, tiny_study("submitted", methods={"basic": {}}))
    output = tmp_path / "out"
    submission_id = "sema-ray-test-submit"

    # The entrypoint runs on the head, in a copy of --working-dir.
    command = [RAY_CLI, "job", "submit", "--address", ray_head.dashboard_url,
               "--submission-id", submission_id, "--working-dir", str(job_dir), "--",
               "python", "-m", "sema_ray.study", study_path.name, "--output", str(output)]
    try:
        submitted = subprocess.run(command, capture_output=True, text=True, env=ray_head.env,
                                   timeout=JOB_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the job did not finish in {JOB_TIMEOUT} s:\n{log_tail(ray_head.log_path)}")
    job_log = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, job_log
    assert f"Job '{submission_id}' succeeded" in job_log

    status = subprocess.run([RAY_CLI, "job", "status", "--address", ray_head.dashboard_url,
                             submission_id], capture_output=True, text=True, env=ray_head.env,
                            timeout=120, check=False)
    assert f"Job '{submission_id}' succeeded" in status.stdout + status.stderr

    rows = read_results(output)
    assert len(rows) == 1
    assert rows[0]["status"] == "ok", rows[0]

    runs = mlflow_runs(output, "submitted")
    assert len(runs["study"]) == 1
    assert len(runs["task"]) == 1
    assert len(runs["trial"]) == 1
    trial = runs["trial"][0]
    assert trial.info.status == "FINISHED"
    assert "val_accuracy" in trial.data.metrics


def test_job_submit_without_token_rejected(ray_head, tmp_path):
    env = {key: value for key, value in ray_head.env.items()
           if key not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")}
    env["RAY_AUTH_MODE"] = "disabled"
    submitted = subprocess.run([RAY_CLI, "job", "submit", "--address", ray_head.dashboard_url,
                                "--no-wait", "--", "echo", "not allowed"], capture_output=True,
                               text=True, env=env, timeout=120, check=False)
    assert submitted.returncode != 0
    assert "auth" in (submitted.stdout + submitted.stderr).lower()
