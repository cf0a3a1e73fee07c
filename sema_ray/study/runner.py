"""Run a validated study: per task, a search per method, then re-runs over fresh seeds."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

from sema_ray.analysis.plots import plot_metric_vs_momentum
from sema_ray.analysis.report import StudyReport, write_report
from sema_ray.analysis.robust import most_robust_setting
from sema_ray.analysis.stats import compare_paired, summarize
from sema_ray.analysis.table import summary_table
from sema_ray.study.config import StudyConfig, TaskEntry
from sema_ray.study.resources import TrialResources, plan_resources
from sema_ray.study.results import TrialResult, best_per_method, write_csv
from sema_ray.study.search import evaluation_plan, run_tune, search_plan
from sema_ray.study.trial import TrialContext
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
    report_path: Path
    plot_path: Path
    plotted: dict
    ui_command: str
    missing: list[str] = field(default_factory=list)  # "task/method" without a result
    seconds: float = 0.0


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


def run_study(config: StudyConfig, output_dir: Path, address: str | None = None,
              resume: bool = False) -> StudyOutcome:
    """Run every task of `config` and write results, plots and the report to `output_dir`."""
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
                                                  "methods": ",".join(config.methods),
                                                  "sampler": config.search.sampler})
        results: list[TrialResult] = []
        for entry in config.tasks:
            results.extend(run_task(config, entry, resources, output_dir, tracker, resume))
            write_csv(results, output_dir / "results.csv")  # keep what finished if a later task dies
    finally:
        if owns_ray:
            ray.shutdown()
    return finish_study(config, results, output_dir, tracker, time.perf_counter() - started)


def finish_study(config: StudyConfig, results: list[TrialResult], output_dir: Path,
                 tracker: StudyTracker, seconds: float) -> StudyOutcome:
    """Write the CSV, plot, table and report, log them on the study run, and sum up."""
    csv_path = output_dir / "results.csv"
    write_csv(results, csv_path)
    plot_path = output_dir / "metric_vs_momentum.png"
    plotted = plot_metric_vs_momentum(results, plot_path)
    table = summary_table(results)
    report = StudyReport(
        study=config.name,
        results=results,
        summaries=summarize(results),
        comparisons=compare_paired(results),
        robust=most_robust_setting(results) if "sema" in config.methods else None,
        plots=[plot_path.name],
    )
    report_path = write_report(report, output_dir / "report.md")
    for path in (csv_path, plot_path, report_path):
        tracker.log_artifact(tracker.study_run_id, path)

    missing = [f"{entry.name}/{method}" for entry in config.tasks for method in config.methods
               if not any(r.task == entry.name and r.method == method and r.status == "ok" for r in results)]
    tracker.finish(tracker.study_run_id, "FAILED" if missing else "FINISHED")
    return StudyOutcome(results, table, output_dir, csv_path, report_path, plot_path, plotted,
                        tracker.ui_command(), missing, seconds)


def run_task(config: StudyConfig, entry: TaskEntry, resources: TrialResources, output_dir: Path,
             tracker: StudyTracker, resume: bool) -> list[TrialResult]:
    """Search every method on one task, then re-run each method's best setting over fresh seeds."""
    task = get_task(entry.name)
    recipe = entry.resolved_recipe()
    task_run_id = tracker.task_run(entry.name)
    tracker.log_params(task_run_id, {"task": entry.name, "metric": task.metric, "mode": task.mode,
                                     "data_seed": entry.data_seed}
                       | {f"recipe.{key}": value for key, value in vars(recipe).items()})
    storage = config.storage_path(output_dir)

    def context_for(method: str, phase: str) -> TrialContext:
        return TrialContext(
            study=config.name, task=entry.name, task_options=entry.resolved_options(),
            data_seed=entry.data_seed, recipe=recipe, method=method, phase=phase,
            seed=config.search.seeds[0], resources=resources, storage_path=storage,
            tracking_uri=tracker.uri, experiment_id=tracker.experiment_id, task_run_id=task_run_id,
        )

    results = []
    for method in config.methods:
        plan = search_plan(config, entry.name, method)
        results.extend(run_tune(plan, config, context_for(method, "search"), task, storage, resume))

    best = best_per_method(results)
    if config.evaluation.seeds:
        for method in config.methods:
            if (entry.name, method) not in best:
                logger.error("[%s/%s] no search trial finished; nothing to evaluate", entry.name, method)
                continue
            plan = evaluation_plan(config, entry.name, method, best[(entry.name, method)])
            results.extend(run_tune(plan, config, context_for(method, "evaluation"), task, storage, resume))

    task_plot = output_dir / f"{entry.name}_metric_vs_momentum.png"
    plot_metric_vs_momentum(results, task_plot)
    tracker.log_artifact(task_run_id, task_plot)
    ok = any(result.status == "ok" for result in results)
    tracker.finish(task_run_id, "FINISHED" if ok else "FAILED")
    return results
