"""The typed value a Tune trial hands to its Ray Train workers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sema_ray.tasks import Recipe


@dataclass(frozen=True)
class TrackingTarget:
    """Where rank 0 of a trial records its MLflow run."""

    uri: str
    experiment_id: str
    parent_run_id: str  # the task run this trial nests under
    run_name: str
    trial_key: str  # unique per (study, task, method, trial); finds the run again on restart


def checkpoint_interval(epochs: int) -> int:
    """Return the epochs between checkpoints: about five checkpoints per trial."""
    return max(1, epochs // 5)


@dataclass(frozen=True)
class TrialSpec:
    """Everything one trial's workers need: task, recipe, method settings, seed."""

    task: str
    task_options: dict[str, Any]
    data_seed: int
    recipe: Recipe
    method: str
    momentum: float | None
    switch_interval: float | None  # epochs; converted to steps once the loader exists
    method_params: dict[str, float]  # swa: start_epoch, every_epochs; lookahead: k, alpha
    seed: int
    phase: str  # "search" or "evaluation"
    tracking: TrackingTarget | None
    checkpoint_every: int = 1  # epochs between checkpoints; the last epoch always saves
    # Epochs between reports to Ray. Each report waits for the Ray Train controller to
    # take the previous one, so tasks with many short epochs report less often; MLflow
    # still gets every epoch. Checkpoints and the last epoch always report.
    report_every: int = 1

    def to_config(self) -> dict[str, Any]:
        """Return a plain dict for `train_loop_config` (Ray pickles it to the workers)."""
        return {"trial_spec": dataclasses.asdict(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TrialSpec":
        fields = dict(config["trial_spec"])
        fields["recipe"] = Recipe(**fields["recipe"])
        if fields["tracking"] is not None:
            fields["tracking"] = TrackingTarget(**fields["tracking"])
        return cls(**fields)

    def params(self) -> dict[str, Any]:
        """Return the hyperparameters that shaped this trial, flat, for MLflow."""
        params = {
            "task": self.task,
            "method": self.method,
            "momentum": self.momentum,
            "switch_interval": self.switch_interval,
            "seed": self.seed,
            "data_seed": self.data_seed,
            "phase": self.phase,
        }
        params.update(self.method_params)
        params.update({f"recipe.{key}": value for key, value in dataclasses.asdict(self.recipe).items()})
        return params
