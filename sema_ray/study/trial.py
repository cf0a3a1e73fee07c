"""The Tune trial function: one trial is one Ray Train `TorchTrainer` run."""

from __future__ import annotations

from dataclasses import dataclass

from ray import tune
from ray.train import CheckpointConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from sema_ray.study.resources import TrialResources
from sema_ray.study.space import decode
from sema_ray.tasks import Recipe
from sema_ray.train.spec import TrackingTarget, TrialSpec
from sema_ray.train.worker import train_loop_per_worker


@dataclass(frozen=True)
class TrialContext:
    """What every trial of one (task, method) search shares."""

    study: str
    task: str
    task_options: dict
    data_seed: int
    recipe: Recipe
    method: str
    seed: int
    resources: TrialResources
    storage_path: str  # absolute path or URI where Ray Train keeps checkpoints
    tracking_uri: str | None
    experiment_id: str | None
    task_run_id: str | None


def run_trial(config: dict, context: TrialContext) -> None:
    """Train one hyperparameter setting with DDP workers and report to Tune."""
    trial_id = tune.get_context().get_trial_id()
    momentum, switch_interval = decode(config)
    name = f"{context.task}-{context.method}-{trial_id}"
    tracking = None
    if context.tracking_uri is not None:
        tracking = TrackingTarget(
            uri=context.tracking_uri,
            experiment_id=context.experiment_id,
            parent_run_id=context.task_run_id,
            run_name=name,
            trial_key=f"{context.study}/{name}",
        )
    spec = TrialSpec(
        task=context.task,
        task_options=context.task_options,
        data_seed=context.data_seed,
        recipe=context.recipe,
        method=context.method,
        momentum=momentum,
        switch_interval=switch_interval,
        seed=context.seed,
        tracking=tracking,
        checkpoint_every=max(1, context.recipe.epochs // 5),
    )

    resources = context.resources
    per_worker = {"CPU": resources.cpus_per_worker}
    if resources.gpus_per_worker:
        per_worker["GPU"] = resources.gpus_per_worker
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=spec.to_config(),
        scaling_config=ScalingConfig(
            num_workers=resources.workers,
            use_gpu=resources.gpus_per_worker > 0,  # NCCL on GPUs, gloo otherwise
            resources_per_worker=per_worker,
        ),
        run_config=RunConfig(
            name=name,
            storage_path=context.storage_path,
            callbacks=[TuneReportCallback()],
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    trainer.fit()
