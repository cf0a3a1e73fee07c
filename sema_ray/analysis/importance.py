"""Optuna's hyperparameter importances of each searched method, one panel per task.

The finished search trials of a method are loaded into an in-memory Optuna study and
scored with fANOVA (`optuna.importance.FanovaImportanceEvaluator`). fANOVA attributes
the variance of the validation metric to each parameter, so the importances of a
method sum to 1. Momentum enters as log10(1 - momentum), the scale the search samples on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution

from sema_ray.analysis.style import (
    METHOD_ORDER,
    add_legend,
    method_color,
    new_panels,
    save_figure,
    seeds_text,
    show_empty,
)
from sema_ray.study.results import TrialResult

MOMENTUM_PARAM = "log10(1 - momentum)"
IMPORTANCE_SEED = 0  # fANOVA fits a random forest; a fixed seed gives the same bars every time


@dataclass
class ImportancePanel:
    """Drawn data of one task panel: importances per searched method, and why others have no bars."""

    task: str
    importances: dict[str, dict[str, float]] = field(default_factory=dict)  # method -> param -> share
    trials: dict[str, int] = field(default_factory=dict)  # method -> finished search trials used
    seeds: dict[str, str] = field(default_factory=dict)  # method -> seeds per setting, e.g. "2 seeds"
    skipped: dict[str, str] = field(default_factory=dict)  # method -> reason it has no bars


def trial_params(result: TrialResult) -> dict[str, float]:
    """Return the searched parameters of one trial, momentum on its log scale."""
    params = {key: float(value) for key, value in
              (json.loads(result.other_params) if result.other_params else {}).items()}
    if result.momentum is not None:
        params[MOMENTUM_PARAM] = math.log10(1 - result.momentum)
    if result.switch_interval is not None:
        params["switch_interval"] = result.switch_interval
    return params


def method_importances(trials: list[TrialResult]) -> dict[str, float] | str:
    """Return {param: importance} for one method's trials, or why it cannot be computed."""
    rows = [(trial_params(t), t.val_metric) for t in trials]
    names = sorted(set.intersection(*(set(params) for params, _ in rows))) if rows else []
    varied = [name for name in names if len({params[name] for params, _ in rows}) > 1]
    if not varied:
        return "one setting searched"
    if len({value for _, value in rows}) == 1:
        return "every trial reached the same metric"

    study = optuna.create_study(direction="maximize" if trials[0].mode == "max" else "minimize")
    distributions = {name: FloatDistribution(min(p[name] for p, _ in rows), max(p[name] for p, _ in rows))
                     for name in varied}
    for params, value in rows:
        study.add_trial(optuna.trial.create_trial(
            params={name: params[name] for name in varied}, distributions=distributions, value=value))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=IMPORTANCE_SEED)
    return {name: float(share) for name, share in
            optuna.importance.get_param_importances(study, evaluator=evaluator).items()}


def importance_panel(task: str, results: list[TrialResult]) -> ImportancePanel:
    panel = ImportancePanel(task)
    ok = [r for r in results if r.task == task and r.phase == "search" and r.status == "ok"
          and r.val_metric is not None]
    for method in sorted({r.method for r in ok}, key=_method_rank):
        trials = [r for r in ok if r.method == method]
        outcome = method_importances(trials)
        panel.trials[method] = len(trials)
        per_setting: dict[tuple, int] = {}
        for trial in trials:
            per_setting[trial.setting()] = per_setting.get(trial.setting(), 0) + 1
        panel.seeds[method] = seeds_text(list(per_setting.values())) + " per setting"
        if isinstance(outcome, str):
            panel.skipped[method] = outcome
        else:
            panel.importances[method] = outcome
    return panel


def _method_rank(method: str) -> int:
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)


def plot_param_importances(results: list[TrialResult], path: Path) -> dict[str, ImportancePanel]:
    """Draw horizontal bars of each searched method's parameter importances, per task."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no log line per added trial
    tasks = sorted({r.task for r in results})
    figure, axes = new_panels(len(tasks))
    drawn: dict[str, ImportancePanel] = {}

    for axis, task in zip(axes, tasks):
        panel = drawn[task] = importance_panel(task, results)
        if not panel.importances:
            show_empty(axis, task, "no method searched more than one setting")
            continue
        bars = [(method, name, share) for method, importances in panel.importances.items()
                for name, share in importances.items()]
        rows = list(range(len(bars)))[::-1]  # the first bar on top
        for method in panel.importances:
            own = [(row, share) for row, (name, _, share) in zip(rows, bars) if name == method]
            axis.barh([row for row, _ in own], [share for _, share in own], color=method_color(method),
                      label=f"{method} ({panel.trials[method]} trials, {panel.seeds[method]})")
        axis.set_yticks(rows, [f"{method}: {name}" for method, name, _ in bars], fontsize="small")
        for row, (_, _, share) in zip(rows, bars):
            inside = share > 0.8  # no room right of a long bar: write inside it
            axis.text(share - 0.02 if inside else share + 0.02, row, f"{share:.2f}", va="center",
                      ha="right" if inside else "left", color="white" if inside else "black",
                      fontsize="small")
        axis.set_xlim(0, 1)
        axis.set_xlabel("fANOVA importance (sums to 1 per method)")
        axis.set_title(f"{task}: importance over the search trials", fontsize="medium")
        add_legend(axis)
        axis.grid(True, axis="x", alpha=0.3)

    save_figure(figure, path)
    return drawn
