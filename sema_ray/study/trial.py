"""The Tune trial function: one trial is one Ray Train `TorchTrainer` run."""

from __future__ import annotations

from dataclasses import dataclass

from ray import tune
from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer
from ray.tune.integration.ray_train import TuneReportCallback

from sema_ray.study.resources import TrialResources
from sema_ray.study.space import SEED_KEY, decode
from sema_ray.tasks import Recipe
from sema_ray.train import train_loop_per_worker
from sema_ray.train.spec import TrackingTarget, TrialSpec, checkpoint_interval


@dataclass(frozen=True)
class TrialContext:
    """The settings shared by every trial of one (task, method) search."""

    study: str
    task: str
    task_options: dict
    data_seed: int
    recipe: Recipe
    method: str
    phase: str  # "search" or "evaluation"
    seed: int  # used when the trial config carries no seed of its own
    resources: TrialResources
    storage_path: str  # absolute path or URI where Ray Train keeps checkpoints
    tracking_uri: str | None
    experiment_id: str | None
    task_run_id: str | None
    max_failures: int = 2  # worker-group restarts before the trial counts as failed
    report_every_epoch: bool = False  # ASHA compares trials at epoch milestones


def run_trial(config: dict, context: TrialContext) -> None:
    """Train one hyperparameter setting with DDP workers and report to Tune."""
    trial_id = tune.get_context().get_trial_id()
    settings = decode(config)
    seed = int(config.get(SEED_KEY, context.seed))
    name = f"{context.task}-{context.method}-{context.phase}-{trial_id}"
    tracking = None
    if context.tracking_uri is not None:
        tracking = TrackingTarget(
            uri=context.tracking_uri,
            experiment_id=context.experiment_id,
            parent_run_id=context.task_run_id,
            run_name=name,
            trial_key=f"{context.study}/{name}",
        )
    checkpoint_every = checkpoint_interval(context.recipe.epochs)
    spec = TrialSpec(
        task=context.task,
        task_options=context.task_options,
        data_seed=context.data_seed,
        recipe=context.recipe,
        method=context.method,
        momentum=settings.pop("momentum", None),
        switch_interval=settings.pop("switch_interval", None),
        method_params=settings,
        seed=seed,
        phase=context.phase,
        tracking=tracking,
        checkpoint_every=checkpoint_every,
        report_every=1 if context.report_every_epoch else checkpoint_every,
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
            # A lost worker restarts the whole worker group from the last checkpoint.
            failure_config=FailureConfig(max_failures=context.max_failures),
        ),
    )
    trainer.fit()
