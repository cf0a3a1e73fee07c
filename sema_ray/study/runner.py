"""Run a validated study: per task, a search per method, then re-runs over fresh seeds."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import ray

from sema_ray.analysis.convergence import needed_histories
from sema_ray.analysis.figures import write_boundary_figure, write_study_figures, write_task_figures
from sema_ray.analysis.report import StudyReport, TrackingSummary, write_html_report, write_report
from sema_ray.analysis.robust import most_robust_setting
from sema_ray.analysis.stats import compare_paired, summarize
from sema_ray.analysis.table import summary_table
from sema_ray.study.config import StudyConfig, TaskEntry
from sema_ray.study.resources import TrialResources, plan_resources
from sema_ray.study.results import TrialResult, best_per_method, write_csv
from sema_ray.study.search import evaluation_plan, run_tune, search_plan
from sema_ray.study.trial import TrialContext
from sema_ray.tasks import get_task
from sema_ray.tracking.provenance import provenance_tags
from sema_ray.tracking.study import StudyTracker, resolve_tracking_uri

logger = logging.getLogger(__name__)


@dataclass
class StudyOutcome:
    """The results, summary and file paths of a finished study."""

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


# Ray Train settings for a Ray that the study starts on this machine only. A cluster
# keeps Ray's defaults, which its administrator may have tuned.
LOCAL_TRAIN_ENV = {
    # One machine has no node to lose to preemption, and the watcher is one more
    # process to start for every trial.
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    # Short trials end sooner after their last report when the controller polls more often.
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.1",
}


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
    # address="local" starts a new instance instead of joining one left by `ray start`.
    ray.init(address="local", _node_ip_address="127.0.0.1", log_to_driver=False,
             runtime_env={"env_vars": LOCAL_TRAIN_ENV})
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
    """Write the CSV, figures and reports, log them on the study and task runs, and sum up."""
    csv_path = output_dir / "results.csv"
    write_csv(results, csv_path)
    trial_ids, names = needed_histories(results)
    histories = tracker.metric_histories(trial_ids, names)

    # The decision boundaries are retrained with the first seed the study reports.
    seed = config.evaluation.seed_list()[0] if config.evaluation.seeds else config.search.seeds[0]
    task_figures = []
    for entry in config.tasks:
        figures = write_task_figures(entry.name, results, histories, output_dir)
        figures += write_boundary_figure(entry.name, results, entry.recipe, entry.options,
                                         entry.data_seed, seed, output_dir)
        for figure in figures:
            if figure.path is not None:
                tracker.log_artifact(tracker.task_run_id(entry.name), figure.path)
        task_figures += figures
    study_figures = write_study_figures(results, output_dir)

    report = StudyReport(
        study=config.name,
        results=results,
        summaries=summarize(results),
        comparisons=compare_paired(results),
        robust=most_robust_setting(results) if "sema" in config.methods else None,
        figures=study_figures + task_figures,
        tracking=TrackingSummary(tracker.store_uri, tracker.experiment, tracker.experiment_id,
                                 tracker.study_run_id, tracker.ui_command(), tracker.import_command()),
        provenance=provenance_tags(),
    )
    report_path = write_report(report, output_dir / "report.md")
    html_path = write_html_report(report, output_dir / "report.html")
    drawn = [figure.path for figure in study_figures if figure.path is not None]
    for path in [csv_path, *drawn, report_path, html_path]:
        tracker.log_artifact(tracker.study_run_id, path)

    missing = [f"{entry.name}/{method}" for entry in config.tasks for method in config.methods
               if not any(r.task == entry.name and r.method == method and r.status == "ok" for r in results)]
    tracker.finish(tracker.study_run_id, "FAILED" if missing else "FINISHED")
    if tracker.fallback:
        logger.info("the MLflow runs are in %s; import them into %s with: %s", tracker.store_uri,
                    tracker.requested_uri, tracker.import_command())
    plotted = {figure.name: figure.data for figure in study_figures + task_figures if figure.path is not None}
    return StudyOutcome(results, table=summary_table(results), output_dir=output_dir, csv_path=csv_path,
                        report_path=report_path, plot_path=output_dir / "metric_vs_momentum.png",
                        plotted=plotted, ui_command=tracker.ui_command(), missing=missing, seconds=seconds)


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

    # The task's figures are drawn by finish_study, with the histories of every task at hand.
    ok = any(result.status == "ok" for result in results)
    tracker.finish(task_run_id, "FINISHED" if ok else "FAILED")
    return results
