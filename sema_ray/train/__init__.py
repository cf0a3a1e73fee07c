"""The per-worker Ray Train loop of a trial, its checkpoints and its typed spec."""

from __future__ import annotations


def train_loop_per_worker(config: dict) -> None:
    """Ray Train entry point of every trial worker; see `sema_ray.train.worker`.

    The heavy imports (timm, scikit-learn, MLflow) happen here, inside the worker, so
    the Tune trial process that only hands this function to `TorchTrainer` stays light.
    """
    from sema_ray.train.worker import run_worker

    run_worker(config)
