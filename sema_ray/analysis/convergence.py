"""Convergence curves: the validation metric per epoch of each method at its best setting.

The curves come from the evaluation re-runs (the best setting of each method, fresh
seeds), as mean and 95% band over those seeds. Without an evaluation phase the best
search trial is drawn instead, with one seed. SEMA's fast weights get their own dashed curve:
the gap between the two SEMA curves, and how it closes at every switch, is the effect
of switching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sema_ray.analysis.stats import mean_ci
from sema_ray.analysis.style import (
    METHOD_ORDER,
    add_legend,
    method_color,
    metric_label,
    new_panels,
    save_figure,
    seeds_text,
    show_empty,
)
from sema_ray.study.results import TrialResult, best_per_method

# Per trial id (TrialResult.trial_id), per metric name: (epoch, value) pairs.
Histories = Mapping[str, Mapping[str, Sequence[tuple[int, float]]]]


@dataclass
class Curve:
    """The mean of one metric per epoch over the trials of one method and setting."""

    label: str
    method: str
    phase: str  # "evaluation", or "search" when no evaluation re-run finished
    settings: dict
    trial_ids: list[str]
    epochs: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    ci_low: list[float] = field(default_factory=list)  # NaN where fewer than 2 trials
    ci_high: list[float] = field(default_factory=list)
    n: list[int] = field(default_factory=list)  # trials that reported each epoch


@dataclass
class CurvePanel:
    task: str
    metric: str
    mode: str
    curves: list[Curve] = field(default_factory=list)


def curve_trials(results: list[TrialResult]) -> dict[tuple[str, str], list[TrialResult]]:
    """Return the trials behind each (task, method) curve: evaluation re-runs, else the best search trial."""
    chosen: dict[tuple[str, str], list[TrialResult]] = {}
    for r in results:
        if r.phase == "evaluation" and r.status == "ok" and r.trial_id:
            chosen.setdefault((r.task, r.method), []).append(r)
    for key, best in best_per_method(results).items():
        if key not in chosen and best.trial_id:
            chosen[key] = [best]
    return chosen


def needed_histories(results: list[TrialResult]) -> tuple[set[str], set[str]]:
    """Return the trial ids and metric names the convergence curves of `results` read."""
    trial_ids = {t.trial_id for trials in curve_trials(results).values() for t in trials}
    names = {f"val_{r.metric}{suffix}" for r in results for suffix in ("", "_fast")}
    return trial_ids, names


def build_curve(label: str, trials: list[TrialResult], histories: Histories, metric_key: str) -> Curve:
    first = trials[0]
    curve = Curve(label, first.method, first.phase, first.settings_dict(), [t.trial_id for t in trials])
    by_epoch: dict[int, list[float]] = {}
    for trial in trials:
        for epoch, value in histories.get(trial.trial_id, {}).get(metric_key, ()):
            by_epoch.setdefault(int(epoch), []).append(float(value))
    for epoch in sorted(by_epoch):
        mean, _, low, high = mean_ci(by_epoch[epoch])
        curve.epochs.append(epoch)
        curve.mean.append(mean)
        curve.ci_low.append(low)
        curve.ci_high.append(high)
        curve.n.append(len(by_epoch[epoch]))
    return curve


def convergence_panel(task: str, results: list[TrialResult], histories: Histories) -> CurvePanel:
    rows = [r for r in results if r.task == task]
    panel = CurvePanel(task, rows[0].metric, rows[0].mode)
    chosen = curve_trials(rows)
    methods = sorted({method for _, method in chosen},
                     key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER))
    for method in methods:
        trials = chosen[(task, method)]
        panel.curves.append(build_curve(method, trials, histories, f"val_{panel.metric}"))
        if method == "sema":
            panel.curves.append(build_curve("sema fast weights", trials, histories,
                                            f"val_{panel.metric}_fast"))
    panel.curves = [curve for curve in panel.curves if curve.epochs]
    return panel


def plot_convergence(results: list[TrialResult], histories: Histories, path: Path) -> dict[str, CurvePanel]:
    """Plot the validation metric per epoch at each method's best setting, one panel per task."""
    tasks = sorted({r.task for r in results})
    figure, axes = new_panels(len(tasks))
    drawn: dict[str, CurvePanel] = {}

    for axis, task in zip(axes, tasks):
        panel = convergence_panel(task, results, histories)
        if not panel.curves:
            show_empty(axis, task, "no per-epoch metrics recorded")
            continue
        drawn[task] = panel
        for curve in panel.curves:
            color = method_color(curve.method)
            fast = curve.label.endswith("fast weights")
            axis.plot(curve.epochs, curve.mean, marker="o", ms=3, lw=1.4, color=color,
                      ls=":" if fast else "-", alpha=0.7 if fast else 1.0,
                      label=f"{curve.label} ({seeds_text(curve.n)}, {curve.phase})")
            if max(curve.n) >= 2:
                axis.fill_between(curve.epochs, curve.ci_low, curve.ci_high, color=color, alpha=0.12, lw=0)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric_label(panel.metric, panel.mode))
        axis.set_title(f"{task}: best settings, mean and 95% CI over seeds", fontsize="medium")
        axis.grid(True, alpha=0.3)
        add_legend(axis)

    save_figure(figure, path)
    return drawn
