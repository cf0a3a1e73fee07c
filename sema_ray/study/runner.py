"""Run a validated study: a Ray Tune search per (task, method), then plots and a table."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import ray
from ray import tune
from ray.tune.search.optuna import OptunaSearch

from sema_ray.analysis.plots import plot_metric_vs_momentum
from sema_ray.analysis.table import summary_table
from sema_ray.study.config import StudyConfig
from sema_ray.study.progress import ProgressLogger
from sema_ray.study.resources import TRIAL_DRIVER_CPUS, TrialResources, plan_resources
from sema_ray.study.results import TrialResult, write_csv
from sema_ray.study.space import decode, is_searched, param_space
from sema_ray.study.trial import TrialContext, run_trial
from sema_ray.tasks import get_task
from sema_ray.tracking.study import StudyTracker, resolve_tracking_uri

logger = logging.getLogger(__name__)


@dataclass
class StudyOutcome:
    """What a finished study produced and where it is."""

    results: list[TrialResult]
    table: str
    output_dir: Path
    csv_path: Path
    plot_path: Path
    plotted: dict
    ui_command: str
    failed_tasks: list[str]
    seconds: float


def connect_ray(address: str | None) -> bool:
    """Connect to `address` (or RAY_ADDRESS), else start a local Ray on 127.0.0.1.

    Returns True when this call started Ray, so the caller shuts it down at the end.
    """
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("connecting to the Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=False)
        return False
    logger.info("starting a local Ray instance on 127.0.0.1")
    ray.init(_node_ip_address="127.0.0.1", log_to_driver=False)
    return True


def cluster_nodes() -> list[dict[str, float]]:
    return [node["Resources"] for node in ray.nodes() if node.get("Alive")]


def run_study(config: StudyConfig, output_dir: Path, address: str | None = None) -> StudyOutcome:
    """Run every (task, method) search of `config` and write the results to `output_dir`."""
    started = time.perf_counter()
    output_dir = output_dir.resolve()
    output_dir.mkdir(parents=True, exist_ok=True)
    owns_ray = connect_ray(address)
    try:
        resources = plan_resources(config.resources, cluster_nodes())
        logger.info("each trial runs %s; up to %d trials at once", resources.describe(),
                    resources.trials_at_once)
        tracker = StudyTracker(resolve_tracking_uri(config.tracking.uri, output_dir),
                               config.tracking.experiment or config.name, config.name, output_dir)
        tracker.log_params(tracker.study_run_id, {"study": config.name,
                                                  "tasks": ",".join(t.name for t in config.tasks),
                                                  "methods": ",".join(config.methods)})
        results: list[TrialResult] = []
        failed_tasks = []
        for entry in config.tasks:
            task_results = run_task(config, entry, resources, output_dir, tracker)
            results.extend(task_results)
            if not any(result.status == "ok" for result in task_results):
                failed_tasks.append(entry.name)
    finally:
        if owns_ray:
            ray.shutdown()

    csv_path = output_dir / "results.csv"
    write_csv(results, csv_path)
    plot_path = output_dir / "metric_vs_momentum.png"
    plotted = plot_metric_vs_momentum(results, plot_path)
    table = summary_table(results)
    (output_dir / "summary.txt").write_text(table + "\n", encoding="utf-8")
    for path in (csv_path, plot_path, output_dir / "summary.txt"):
        tracker.log_artifact(tracker.study_run_id, path)
    tracker.finish(tracker.study_run_id, "FAILED" if failed_tasks else "FINISHED")
    return StudyOutcome(results, table, output_dir, csv_path, plot_path, plotted,
                        tracker.ui_command(), failed_tasks, time.perf_counter() - started)


def run_task(config: StudyConfig, entry, resources: TrialResources, output_dir: Path,
             tracker: StudyTracker) -> list[TrialResult]:
    """Run the search of every method on one task; return its trial results."""
    task = get_task(entry.name)
    recipe = entry.resolved_recipe()
    task_run_id = tracker.task_run(entry.name)
    tracker.log_params(task_run_id, {"task": entry.name, "metric": task.metric, "mode": task.mode,
                                     "data_seed": entry.data_seed}
                       | {f"recipe.{key}": value for key, value in vars(recipe).items()})
    results = []
    for method in config.methods:
        context = TrialContext(
            study=config.name,
            task=entry.name,
            task_options=entry.resolved_options(),
            data_seed=entry.data_seed,
            recipe=recipe,
            method=method,
            seed=config.search.seed,
            resources=resources,
            storage_path=str(output_dir / "ray"),
            tracking_uri=tracker.uri,
            experiment_id=tracker.experiment_id,
            task_run_id=task_run_id,
        )
        results.extend(search_method(config, context, task))

    task_plot = output_dir / f"{entry.name}_metric_vs_momentum.png"
    plot_metric_vs_momentum(results, task_plot)
    tracker.log_artifact(task_run_id, task_plot)
    ok = any(result.status == "ok" for result in results)
    tracker.finish(task_run_id, "FINISHED" if ok else "FAILED")
    return results


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def search_method(config: StudyConfig, context: TrialContext, task) -> list[TrialResult]:
    """Run the Tune search of one method on one task."""
    space = config.methods[context.method]
    trials = config.trials_for(context.method)
    metric = f"val_{task.metric}"
    search_alg = None
    if is_searched(space):
        search_alg = OptunaSearch(sampler=make_sampler(config.search.sampler, config.search.seed))
    else:
        trials = 1  # nothing to search: one trial of the fixed setting

    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context),
                                    {"cpu": TRIAL_DRIVER_CPUS})
    tuner = tune.Tuner(
        trainable,
        param_space=param_space(space),
        tune_config=tune.TuneConfig(
            metric=metric,
            mode=task.mode,
            search_alg=search_alg,
            num_samples=trials,
            max_concurrent_trials=context.resources.trials_at_once,
        ),
        run_config=tune.RunConfig(
            name=f"{context.task}-{context.method}",
            storage_path=context.storage_path,
            verbose=0,
            callbacks=[ProgressLogger(context.task, context.method, trials, metric)],
        ),
    )
    grid = tuner.fit()
    return [to_result(result, context, task) for result in grid]


def to_result(result, context: TrialContext, task) -> TrialResult:
    momentum, switch_interval = decode(result.config or {})
    metrics = result.metrics or {}
    horizon = None
    if context.method == "sema" and "steps_per_epoch" in metrics and momentum is not None:
        steps = max(1, round(switch_interval * metrics["steps_per_epoch"]))
        horizon = steps * (1 - momentum)
    return TrialResult(
        task=context.task,
        method=context.method,
        momentum=momentum,
        switch_interval=switch_interval,
        seed=context.seed,
        metric=task.metric,
        mode=task.mode,
        val_metric=metrics.get(f"val_{task.metric}"),
        val_metric_fast=metrics.get(f"val_{task.metric}_fast"),
        test_metric=metrics.get(f"test_{task.metric}"),
        epochs=int(metrics.get("epoch", 0)),
        status="failed" if result.error else "ok",
        error=" ".join(str(result.error).split())[:500] if result.error else "",
        horizon_ratio=horizon,
    )
