"""Figures across tasks: SEMA's gain over each baseline, and the regret of one shared setting."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt

from sema_ray.analysis.robust import most_robust_setting, regret_by_setting
from sema_ray.analysis.stats import compare_paired
from sema_ray.analysis.style import (
    FIGURE_DPI,
    finite,
    method_color,
    metric_unit,
    save_figure,
    seeds_text,
    show_empty,
)
from sema_ray.study.results import TrialResult

GAIN_WIDTH = 7.0  # inches
GAIN_ROW_HEIGHT = 0.45  # inches per (task, baseline) row
GAIN_MARGIN_HEIGHT = 1.6  # inches for title and axis label
REGRET_PANEL_HEIGHT = 4.0
REGRET_WIDTH_PER_TASK = 1.2
REGRET_MIN_WIDTH = 5.0


@dataclass(frozen=True)
class Gain:
    """SEMA's test-split gain over one baseline on one task; positive means SEMA is better."""

    task: str
    baseline: str
    metric: str
    n: int  # evaluation seeds both methods ran
    gain: float  # SEMA minus baseline, sign-flipped for metrics to minimise
    ci_low: float  # NaN with one seed
    ci_high: float
    p_value: float | None


def sema_gains(results: list[TrialResult]) -> list[Gain]:
    """Return SEMA's gain over every baseline on every task, from the paired comparisons."""
    modes = {r.task: (r.metric, r.mode) for r in results}
    gains = []
    for c in compare_paired(results):
        metric, mode = modes[c.task]
        sign = 1.0 if mode == "max" else -1.0
        low, high = sorted((sign * c.ci_low, sign * c.ci_high))
        gains.append(Gain(c.task, c.baseline, metric, c.n, sign * c.mean_diff, low, high, c.p_value))
    return gains


def gain_figure_size(rows: int) -> tuple[float, float]:
    return GAIN_WIDTH, GAIN_MARGIN_HEIGHT + GAIN_ROW_HEIGHT * max(1, rows)


def plot_sema_gains(results: list[TrialResult], path: Path) -> dict[str, list[Gain]]:
    """Plot SEMA's test gain over each baseline with its 95% CI, one row per (task, baseline).

    The gain is in each task's metric units (percentage points for accuracy) and is
    positive when SEMA is better, whatever the metric's direction. Returns `{task: gains}`.
    """
    gains = sema_gains(results)
    figure, axis = plt.subplots(figsize=gain_figure_size(len(gains)), dpi=FIGURE_DPI)
    drawn: dict[str, list[Gain]] = {}
    if not gains:
        show_empty(axis, "SEMA gain over baselines", "no task has paired evaluation seeds")
        save_figure(figure, path)
        return drawn

    rows = list(range(len(gains)))[::-1]
    for row, gain in zip(rows, gains):
        drawn.setdefault(gain.task, []).append(gain)
        color = method_color(gain.baseline)
        if finite(gain.ci_low):
            axis.errorbar(gain.gain, row, xerr=[[gain.gain - gain.ci_low], [gain.ci_high - gain.gain]],
                          fmt="o", color=color, capsize=4)
        else:
            axis.plot(gain.gain, row, "o", color=color)
    labels = [f"{g.task} vs {g.baseline}\n({g.metric}{metric_unit(g.metric)}, {g.n} seeds)" for g in gains]
    axis.set_yticks(rows, labels, fontsize="small")
    axis.axvline(0.0, color="gray", lw=1)
    axis.set_xlabel("test gain of SEMA over the baseline, in each task's metric units (> 0: SEMA better)",
                    fontsize="small")
    axis.set_title("SEMA gain, mean and 95% CI over paired evaluation seeds", fontsize="medium")
    axis.grid(True, axis="x", alpha=0.3)
    save_figure(figure, path)
    return drawn


@dataclass
class RegretPanel:
    """The regret of the most robust shared setting per task, and of every other candidate."""

    method: str
    settings: dict | None  # the shared setting with the smallest worst-case regret
    regret_by_task: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, dict[str, float]] = field(default_factory=dict)  # setting label -> regrets
    metrics: dict[str, str] = field(default_factory=dict)  # task -> metric name


def format_settings(settings: dict) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in sorted(settings.items())) or "default"


def setting_label(key: tuple) -> str:
    """Format a `TrialResult.setting()` key as "momentum=0.99, switch_interval=1"."""
    momentum, switch_interval, other = key
    settings = json.loads(other) if other else {}
    if momentum is not None:
        settings["momentum"] = momentum
    if switch_interval is not None:
        settings["switch_interval"] = switch_interval
    return format_settings(settings)


def regret_figure_size(tasks: int) -> tuple[float, float]:
    return max(REGRET_MIN_WIDTH, REGRET_WIDTH_PER_TASK * tasks + 2.0), REGRET_PANEL_HEIGHT


def plot_shared_setting_regret(results: list[TrialResult], path: Path, method: str = "sema") -> RegretPanel:
    """Plot, per task, the validation regret of the one setting with the smallest worst-case regret.

    Regret is how far a setting's mean validation metric falls behind the best setting
    of the same method on that task, in percent of that best value, so tasks with
    different metrics share one axis. Gray dots are the other settings that ran on
    every task.
    """
    robust = most_robust_setting(results, method)
    regrets = regret_by_setting(results, method)
    tasks = sorted({r.task for r in results if r.method == method and r.phase == "search"})
    panel = RegretPanel(method, robust.settings if robust else None,
                        dict(robust.regret_by_task) if robust else {},
                        {setting_label(key): value for key, value in regrets.items()},
                        {r.task: r.metric for r in results})
    figure, axis = plt.subplots(figsize=regret_figure_size(len(tasks)), dpi=FIGURE_DPI)
    if robust is None:
        show_empty(axis, f"{method}: one shared setting", f"no {method} setting ran on every task")
        save_figure(figure, path)
        return panel

    counts: dict[tuple, int] = {}
    for r in results:
        if r.method == method and r.phase == "search" and r.status == "ok" and r.val_metric is not None:
            counts[(r.task, r.setting())] = counts.get((r.task, r.setting()), 0) + 1
    positions = list(range(len(tasks)))
    axis.bar(positions, [panel.regret_by_task[t] for t in tasks], color=method_color(method), alpha=0.8,
             label=f"shared setting: {format_settings(robust.settings)}\n"
                   f"(mean over {seeds_text(list(counts.values()))} per setting and task)")
    for label, by_task in panel.candidates.items():
        axis.plot(positions, [by_task[t] for t in tasks], "o", color="gray", ms=3, alpha=0.6,
                  label="other settings that ran on every task" if label == next(iter(panel.candidates)) else None)
    axis.set_xticks(positions, [f"{t}\n({panel.metrics[t]})" for t in tasks], fontsize="small")
    axis.set_ylabel("validation regret (% of the task's best value)")
    axis.set_title(f"{method}: regret of one setting on every task ({robust.candidates} candidates)",
                   fontsize="medium")
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(loc="best", fontsize="small")
    save_figure(figure, path)
    return panel

