"""Lost processes cost minutes, not the study: a killed training worker, a killed driver.

Each test starts `python -m sema_ray.study` as a child process with its own local
Ray, kills part of it with SIGKILL by PID, and checks the outcome through the public
results: the exit code, results.csv and the MLflow store. The restart time and the
work a kill lost are printed (`pytest -s` shows them).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter

import pytest
from mlflow import MlflowClient

from sema_ray.train.spec import checkpoint_interval

from .helpers import (
    command_line,
    descendants,
    is_alive,
    kill_tree,
    log_tail,
    mlflow_runs,
    read_results,
    signal_pids,
    start,
    study_command,
    tiny_study,
    wait_for,
    write_study,
)

STUDY_TIMEOUT = 900  # seconds per study process; under a minute on an idle 2-core machine
PROGRESS_TIMEOUT = 600  # seconds to wait for a trial to reach the point where the test kills

# The worker-kill trial: enough epochs that the kill lands between two checkpoints.
# A moons epoch takes tens of milliseconds, so the gap between checkpoints is a few seconds.
KILL_EPOCHS = 200
CHECKPOINT_EVERY = checkpoint_interval(KILL_EPOCHS)
KILL_AFTER_EPOCH = CHECKPOINT_EVERY + CHECKPOINT_EVERY // 2

# The driver-kill study: basic, then sema, each this many epochs.
DRIVER_EPOCHS = 5

# Ray's process title of a Ray Train worker actor, one per DDP rank.
TRAIN_WORKER_TITLE = "ray::RayTrainWorker"


def run_to_end(command: list[str], log_path) -> int:
    """Run a study command to its end and return the exit code; fail on a hang."""
    process = start(command, log_path)
    try:
        return process.wait(timeout=STUDY_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} did not finish in {STUDY_TIMEOUT} s:\n{log_tail(log_path)}")
    finally:
        kill_tree(process)


def trial_runs(output, experiment: str) -> list:
    try:
        return mlflow_runs(output, experiment).get("trial", [])
    except Exception:  # noqa: BLE001 - the store may be half-created while we poll it
        return []


def metric_history(output, run_id: str, key: str) -> list:
    client = MlflowClient(f"sqlite:///{output / 'mlflow.db'}")
    return sorted(client.get_metric_history(run_id, key), key=lambda point: point.timestamp)


def logged_epochs(output, experiment: str) -> tuple[str, list] | None:
    """Return the trial run's id and its `epoch` history once the run has logged an epoch."""
    runs = trial_runs(output, experiment)
    if len(runs) != 1:
        return None
    history = metric_history(output, runs[0].info.run_id, "epoch")
    return (runs[0].info.run_id, history) if history else None


def train_worker_pids(study_pid: int) -> list[int]:
    return [pid for pid in descendants(study_pid)
            if command_line(pid).startswith(TRAIN_WORKER_TITLE)]


def test_worker_kill_resumes_from_checkpoint(tmp_path):
    study = tiny_study("worker_kill", tasks=[{"name": "moons", "recipe": {"epochs": KILL_EPOCHS}}],
                       methods={"sema": {"momentum": 0.9, "switch_interval": 1}})
    study_path = write_study(tmp_path, study)

    # The uninterrupted run with the same study file, so the same seed.
    reference = tmp_path / "reference"
    assert run_to_end(study_command(study_path, reference), tmp_path / "reference.log") == 0
    expected = read_results(reference)[0]

    output, log_path = tmp_path / "killed", tmp_path / "killed.log"
    process = start(study_command(study_path, output), log_path)
    try:
        # Wait until the trial is past its first checkpoint, then kill one DDP worker.
        wait_for(lambda: process.poll() is not None
                 or ((found := logged_epochs(output, "worker_kill"))
                     and found[1][-1].step >= KILL_AFTER_EPOCH),
                 PROGRESS_TIMEOUT, interval=0.1, description=f"epoch {KILL_AFTER_EPOCH}")
        assert process.poll() is None, log_tail(log_path)
        workers = train_worker_pids(process.pid)
        assert len(workers) == 2, workers
        killed_at = time.time()
        signal_pids(workers[:1], signal.SIGKILL)
        exit_code = process.wait(timeout=STUDY_TIMEOUT)
    finally:
        kill_tree(process)

    assert exit_code == 0, log_tail(log_path)
    assert not is_alive(workers[0])
    row = read_results(output)[0]
    assert row["status"] == "ok", row
    assert int(row["epochs"]) == KILL_EPOCHS
    # The same final metrics as without the kill, for the averaged and the fast weights.
    for column in ("val_metric", "val_metric_fast", "test_metric"):
        assert float(row[column]) == pytest.approx(float(expected[column]), rel=1e-6), column

    # One MLflow run for the trial, in which the epochs after the checkpoint were logged twice.
    runs = trial_runs(output, "worker_kill")
    assert len(runs) == 1
    run_id = runs[0].info.run_id
    epochs = metric_history(output, run_id, "epoch")
    counts = Counter(point.step for point in epochs)
    assert sorted(counts) == list(range(1, KILL_EPOCHS + 1))
    repeated = sorted(step for step, count in counts.items() if count > 1)
    assert repeated, "no epoch was trained twice, so the kill did not interrupt training"
    assert all(counts[step] == 2 for step in repeated)
    checkpoint_epoch = repeated[0] - 1
    assert checkpoint_epoch % CHECKPOINT_EVERY == 0
    assert checkpoint_epoch >= CHECKPOINT_EVERY
    assert repeated == list(range(checkpoint_epoch + 1, repeated[-1] + 1))

    # The replayed epochs reproduce the first pass exactly: model, optimizer, averager
    # and RNG all came back from the checkpoint.
    for key in ("train_loss", "val_accuracy", "val_accuracy_fast"):
        values: dict[int, list[float]] = {}
        for point in metric_history(output, run_id, key):
            values.setdefault(point.step, []).append(point.value)
        for step in repeated:
            first, second = values[step]
            assert second == pytest.approx(first, rel=1e-6), (key, step)

    killed_ms = killed_at * 1000
    before = [point for point in epochs if point.timestamp <= killed_ms]
    after = [point for point in epochs if point.timestamp > killed_ms]
    checkpoint_logged = next(point for point in before if point.step == checkpoint_epoch)
    restart_seconds = (after[0].timestamp - killed_ms) / 1000
    lost_epochs = before[-1].step - checkpoint_epoch
    lost_seconds = (killed_ms - checkpoint_logged.timestamp) / 1000
    print(f"\nworker kill at epoch {before[-1].step}: resumed from the checkpoint of epoch "
          f"{checkpoint_epoch}; first epoch after the kill logged {restart_seconds:.1f} s later; "
          f"lost {lost_epochs} epochs ({lost_seconds:.1f} s of training)")


def test_driver_kill_resume_finishes_study(tmp_path):
    study = tiny_study("driver_kill",
                       tasks=[{"name": "moons", "recipe": {"epochs": DRIVER_EPOCHS}}])
    study_path = write_study(tmp_path, study)
    output, log_path = tmp_path / "out", tmp_path / "first.log"

    process = start(study_command(study_path, output), log_path)
    try:
        # Kill the driver once the basic trial has finished and the sema trial has started.
        def basic_done_sema_running():
            if process.poll() is not None:
                return True
            runs = {run.data.params.get("method"): run for run in trial_runs(output, "driver_kill")}
            basic_done = "basic" in runs and runs["basic"].info.status == "FINISHED"
            return basic_done and "sema" in runs and runs["sema"].info.status == "RUNNING"

        wait_for(basic_done_sema_running, PROGRESS_TIMEOUT, interval=0.2,
                 description="a finished basic trial and a running sema trial")
        assert process.poll() is None, log_tail(log_path)
        before_kill = {run.data.params["method"]: run for run in trial_runs(output, "driver_kill")}
        tree = descendants(process.pid)
        killed_at = time.monotonic()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        # A local Ray ends with its driver; end whatever of it has not, as a lost machine would.
        try:
            wait_for(lambda: not any(is_alive(pid) for pid in tree), 20, description="Ray to exit")
        except TimeoutError:
            signal_pids([pid for pid in tree if is_alive(pid)], signal.SIGKILL)
    finally:
        kill_tree(process)

    resumed_log = tmp_path / "resumed.log"
    started = time.monotonic()
    exit_code = run_to_end(study_command(study_path, output, "--resume"), resumed_log)
    resume_seconds = time.monotonic() - started
    assert exit_code == 0, log_tail(resumed_log)

    rows = read_results(output)
    assert sorted(row["method"] for row in rows) == ["basic", "sema"]
    for row in rows:
        assert row["status"] == "ok", row
        assert int(row["epochs"]) == DRIVER_EPOCHS

    # No duplicate MLflow run: the same study, task and trial runs as before the kill.
    runs = mlflow_runs(output, "driver_kill")
    assert len(runs["study"]) == 1
    assert len(runs["task"]) == 1
    after = {run.data.params["method"]: run for run in runs["trial"]}
    assert len(runs["trial"]) == 2
    for method in ("basic", "sema"):
        assert after[method].info.run_id == before_kill[method].info.run_id, method
        assert after[method].info.status == "FINISHED"

    # The finished trial did not run again: its run ended before the kill and logged
    # every epoch exactly once.
    basic_before, basic_after = before_kill["basic"], after["basic"]
    assert basic_after.info.end_time == basic_before.info.end_time
    basic_history = metric_history(output, basic_after.info.run_id, "epoch")
    basic_epochs = [point.step for point in basic_history]
    assert sorted(basic_epochs) == list(range(1, DRIVER_EPOCHS + 1))
    print(f"\ndriver kill: resumed study finished {resume_seconds:.0f} s after the restart "
          f"({time.monotonic() - killed_at:.0f} s after the kill)")
