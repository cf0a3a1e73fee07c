"""One Ray Tune run per (task, method, phase): the search, or the re-runs over seeds."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search.optuna import OptunaSearch

from sema_ray.study.config import StudyConfig
from sema_ray.study.plan import search_trials
from sema_ray.study.progress import ProgressLogger
from sema_ray.study.resources import TRIAL_DRIVER_CPUS
from sema_ray.study.results import TrialResult
from sema_ray.study.space import SEED_KEY, decode, grid_values, is_searched, param_space
from sema_ray.study.trial import TrialContext, run_trial
from sema_ray.tasks import Task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TunePlan:
    """The name, phase, param space and trial count of one Tune run."""

    name: str  # experiment name under the storage path
    phase: str
    param_space: dict
    trials: int
    sampler: str | None  # Optuna sampler name, None when nothing is searched

    @property
    def total_trials(self) -> int:
        """Return the trials Tune runs: `trials` samples times any `grid_search` in the space."""
        size = 1
        for value in self.param_space.values():
            if isinstance(value, dict) and "grid_search" in value:
                size *= len(value["grid_search"])
        return self.trials * size


def search_plan(config: StudyConfig, task: str, method: str) -> TunePlan:
    """Plan the search of one method on one task."""
    space = config.methods[method]
    name = f"{task}-{method}-search"
    trials = search_trials(config, method)
    if config.search.sampler == "grid":
        params = param_space(method, space, seeds=config.search.seeds)
        return TunePlan(name, "search", params, trials, "grid")
    if not is_searched(method, space):
        return TunePlan(name, "search", param_space(method, space), trials, None)
    return TunePlan(name, "search", param_space(method, space), trials, config.search.sampler)


def evaluation_plan(config: StudyConfig, task: str, method: str, best: TrialResult) -> TunePlan:
    """Plan the re-runs of `best`'s setting over the fresh evaluation seeds."""
    params = dict(best.settings_dict())
    params[SEED_KEY] = tune.grid_search(config.evaluation.seed_list())
    return TunePlan(f"{task}-{method}-eval", "evaluation", params, 1, None)


def make_sampler(name: str, seed: int, grid: dict | None = None) -> optuna.samplers.BaseSampler:
    if name == "grid":
        return optuna.samplers.GridSampler(grid, seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def run_tune(plan: TunePlan, config: StudyConfig, context: TrialContext, task: Task,
             storage_path: str, resume: bool) -> list[TrialResult]:
    """Run (or, with `resume`, continue) one Tune experiment and return its trial results."""
    metric = f"val_{task.metric}"
    scheduler = asha_scheduler(plan, config, context)
    context = replace(context, report_every_epoch=scheduler is not None)
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context),
                                    {"cpu": TRIAL_DRIVER_CPUS})
    experiment = f"{storage_path.rstrip('/')}/{plan.name}"  # a local path or a URI
    if resume and tune.Tuner.can_restore(experiment):
        logger.info("[%s/%s] resuming %s", context.task, context.method, experiment)
        tuner = tune.Tuner.restore(experiment, trainable=trainable, resume_errored=True)
    else:
        tuner = tune.Tuner(trainable, param_space=plan.param_space,
                           tune_config=tune_config(plan, config, context, metric, task, scheduler),
                           run_config=tune.RunConfig(
                               name=plan.name,
                               storage_path=storage_path,
                               verbose=0,
                               callbacks=[ProgressLogger(context.task, context.method, plan.phase,
                                                         plan.total_trials, metric)],
                           ))
    grid = tuner.fit()
    return [to_result(result, context, task, plan.phase) for result in grid]


def tune_config(plan: TunePlan, config: StudyConfig, context: TrialContext, metric: str,
                task: Task, scheduler: ASHAScheduler | None) -> tune.TuneConfig:
    search_alg = None
    if plan.sampler is not None:
        grid = None
        if plan.sampler == "grid":
            grid = grid_values(context.method, config.methods[context.method], config.search.seeds)
        search_alg = OptunaSearch(sampler=make_sampler(plan.sampler, config.search.seed, grid))
    return tune.TuneConfig(
        metric=metric,
        mode=task.mode,
        search_alg=search_alg,
        scheduler=scheduler,
        num_samples=plan.trials,
        max_concurrent_trials=context.resources.trials_at_once,
        # The next trial reuses the finished trial's process instead of starting a new
        # one. Not under ASHA: a trial it stops is still ending its Ray Train run, Tune
        # (2.60) fails to reset that process, and the search then hangs.
        reuse_actors=scheduler is None,
    )


def asha_scheduler(plan: TunePlan, config: StudyConfig, context: TrialContext) -> ASHAScheduler | None:
    """Return the ASHA scheduler that the study file requests for this search, else None."""
    if plan.phase != "search" or config.search.asha is None or plan.trials <= 1:
        return None
    return ASHAScheduler(time_attr="epoch", max_t=context.recipe.epochs,
                         grace_period=config.search.asha.grace_period,
                         reduction_factor=config.search.asha.reduction_factor)


def to_result(result, context: TrialContext, task: Task, phase: str) -> TrialResult:
    """Convert one Tune result into a TrialResult row."""
    config = result.config or {}
    settings = decode(config)
    momentum = settings.pop("momentum", None)
    switch_interval = settings.pop("switch_interval", None)
    metrics = result.metrics or {}
    epochs = int(metrics.get("epoch", 0))
    horizon = None
    if switch_interval is not None and momentum is not None and "steps_per_epoch" in metrics:
        horizon = max(1, round(switch_interval * metrics["steps_per_epoch"])) * (1 - momentum)

    status, error = "ok", ""
    if result.error is not None:
        status, error = "failed", " ".join(str(result.error).split())[:500]
    elif metrics.get("failure"):
        status, error = "failed", str(metrics["failure"])
    elif epochs < context.recipe.epochs:
        status = "stopped"
    return TrialResult(
        task=context.task,
        method=context.method,
        phase=phase,
        momentum=momentum,
        switch_interval=float(switch_interval) if switch_interval is not None else None,
        other_params=json.dumps(settings, sort_keys=True) if settings else "",
        seed=int(config.get(SEED_KEY, context.seed)),
        metric=task.metric,
        mode=task.mode,
        val_metric=metrics.get(f"val_{task.metric}"),
        val_metric_fast=metrics.get(f"val_{task.metric}_fast"),
        test_metric=metrics.get(f"test_{task.metric}"),
        epochs=epochs,
        status=status,
        error=error,
        horizon_ratio=horizon,
        trial_id=str(metrics.get("trial_id", "")),
    )
