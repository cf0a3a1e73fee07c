"""Write every figure of a study to its output directory: per task, then across tasks.

A figure that fails to draw is logged and listed in the report with its error, so one
broken plot does not cost the results, the other figures or the report of a long study.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sema_ray.analysis.boundary import BOUNDARY_TASKS, plot_best_boundaries
from sema_ray.analysis.convergence import Histories, plot_convergence
from sema_ray.analysis.cross_task import plot_sema_gains, plot_shared_setting_regret
from sema_ray.analysis.importance import plot_param_importances
from sema_ray.analysis.plots import plot_metric_vs_momentum, plot_metric_vs_switch_interval
from sema_ray.analysis.stats import compare_paired
from sema_ray.analysis.surface import plot_momentum_interval_surface
from sema_ray.study.results import TrialResult, best_per_method

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Figure:
    """One PNG of the study, with what it drew, or the error that stopped it."""

    name: str  # file name in the output directory
    title: str  # heading in the report
    task: str | None  # None for a figure across tasks (logged on the study run)
    path: Path | None  # None when drawing failed
    data: Any = None  # what the plotting function returned
    error: str = ""


def draw(name: str, title: str, task: str | None, output_dir: Path,
         plot: Callable[[Path], Any]) -> Figure:
    """Call `plot(path)` and wrap its result; an exception becomes a logged, reported error."""
    path = output_dir / name
    try:
        data = plot(path)
    except Exception as error:
        logger.exception("figure %s failed; the report lists it without the plot", name)
        return Figure(name, title, task, None, error=f"{type(error).__name__}: {error}")
    return Figure(name, title, task, path, data)


def write_task_figures(task: str, results: list[TrialResult], histories: Histories,
                       output_dir: Path) -> list[Figure]:
    """Write the figures of one task that its results can fill; `results` may hold other tasks."""
    rows = [r for r in results if r.task == task]
    searched = [r for r in rows if r.phase == "search" and r.status == "ok"]
    methods = {r.method for r in searched}
    figures = []

    def add(kind: str, title: str, plot: Callable[[Path], Any]) -> None:
        figures.append(draw(f"{task}_{kind}.png", f"{task}: {title}", task, output_dir, plot))

    if methods & {"ema", "sema"}:
        add("metric_vs_momentum", "metric against momentum",
            lambda path: plot_metric_vs_momentum(rows, path))
    if "sema" in methods:
        add("metric_vs_switch_interval", "metric against switch interval at SEMA's best momentum",
            lambda path: plot_metric_vs_switch_interval(rows, path))
        add("momentum_interval_surface", "SEMA over momentum and switch interval",
            lambda path: plot_momentum_interval_surface(rows, path))
    if any(r.trial_id in histories for r in rows):
        add("convergence", "convergence at the best settings",
            lambda path: plot_convergence(rows, histories, path))
    if searched:
        add("param_importances", "parameter importances (Optuna fANOVA)",
            lambda path: plot_param_importances(rows, path))
    return figures


def write_boundary_figure(task: str, results: list[TrialResult], recipe: dict, options: dict,
                          data_seed: int, seed: int, output_dir: Path) -> list[Figure]:
    """Write the decision-boundary figure of a 2-D toy task; no figure for other tasks."""
    best = {method: result for (name, method), result in best_per_method(results).items()
            if name == task and method in ("basic", "ema", "sema")}
    if task not in BOUNDARY_TASKS or not best:
        return []
    return [draw(f"{task}_decision_boundary.png", f"{task}: decision boundaries at the best settings",
                 task, output_dir,
                 lambda path: plot_best_boundaries(task, best, recipe, options, data_seed, seed, path))]


def write_study_figures(results: list[TrialResult], output_dir: Path) -> list[Figure]:
    """Write the figures across tasks: momentum overview, SEMA's gains and shared-setting regret."""
    figures = [draw("metric_vs_momentum.png", "Metric against momentum, every task", None, output_dir,
                    lambda path: plot_metric_vs_momentum(results, path))]
    if compare_paired(results):
        figures.append(draw("sema_gain.png", "SEMA gain over each baseline", None, output_dir,
                            lambda path: plot_sema_gains(results, path)))
    sema_tasks = {r.task for r in results if r.method == "sema" and r.phase == "search" and r.status == "ok"}
    if len(sema_tasks) >= 2:
        figures.append(draw("shared_setting_regret.png", "Regret of one SEMA setting on every task", None,
                            output_dir, lambda path: plot_shared_setting_regret(results, path)))
    return figures
