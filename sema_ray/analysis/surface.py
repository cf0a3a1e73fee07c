"""The momentum x switch-interval surface of SEMA's search, one panel per task.

A grid search (every listed momentum with every listed interval) is drawn as a heatmap
with the mean metric and the horizon ratio r written in each cell. Sampled settings are
a scatter coloured by the metric, with dashed lines of constant r: r alone decides
whether SEMA acts like a plain EMA or like the base optimizer with a smaller step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sema_ray.analysis.stats import SettingSummary, summarize_settings
from sema_ray.analysis.style import (
    MOMENTUM_AXIS_LABEL,
    metric_label,
    new_panels,
    plain_number_ticks,
    save_figure,
    seeds_text,
    show_empty,
)
from sema_ray.study.results import TrialResult

HORIZON_LINES = (0.1, 1.0, 10.0)  # values of r drawn as dashed lines on the scatter


@dataclass
class SurfacePanel:
    """Drawn data of one task panel: a heatmap of a full grid, or a scatter of sampled settings."""

    task: str
    metric: str
    mode: str
    kind: str  # "heatmap" or "scatter"
    momenta: list[float]  # heatmap columns, ascending
    intervals: list[float]  # heatmap rows, ascending
    values: list[list[float]]  # mean metric [row][column]; NaN where a cell did not finish
    points: list[SettingSummary] = field(default_factory=list)  # every drawn setting


def is_full_grid(points: list[SettingSummary]) -> bool:
    momenta = {p.momentum for p in points}
    intervals = {p.switch_interval for p in points}
    cells = {(p.momentum, p.switch_interval) for p in points}
    return len(cells) == len(points) == len(momenta) * len(intervals) and len(points) >= 2


def surface_panel(task: str, points: list[SettingSummary]) -> SurfacePanel:
    momenta = sorted({p.momentum for p in points})
    intervals = sorted({p.switch_interval for p in points})
    grid = is_full_grid(points)
    values = [[math.nan] * len(momenta) for _ in intervals]
    if grid:
        for p in points:
            values[intervals.index(p.switch_interval)][momenta.index(p.momentum)] = p.mean
    first = points[0]
    return SurfacePanel(task, first.metric, first.mode, "heatmap" if grid else "scatter",
                        momenta, intervals, values if grid else [], points)


def plot_momentum_interval_surface(results: list[TrialResult], path: Path) -> dict[str, SurfacePanel]:
    """Draw SEMA's mean validation metric over momentum and switch interval per task."""
    summaries = [s for s in summarize_settings(results)
                 if s.method == "sema" and s.momentum is not None and s.switch_interval is not None]
    tasks = sorted({r.task for r in results})
    figure, axes = new_panels(len(tasks))
    drawn: dict[str, SurfacePanel] = {}

    for axis, task in zip(axes, tasks):
        points = [s for s in summaries if s.task == task]
        if not points:
            show_empty(axis, task, "SEMA has no finished search trial")
            continue
        panel = drawn[task] = surface_panel(task, points)
        image = draw_heatmap(axis, panel) if panel.kind == "heatmap" else draw_scatter(axis, panel)
        figure.colorbar(image, ax=axis, label=metric_label(panel.metric, panel.mode))
        axis.set_title(f"{task}: SEMA search (last epoch), mean over {seeds_text([p.n for p in points])}",
                       fontsize="medium")

    save_figure(figure, path)
    return drawn


def colormap(mode: str) -> str:
    # Bright is better in both modes.
    return "viridis" if mode == "max" else "viridis_r"


def draw_heatmap(axis, panel: SurfacePanel):
    values = np.array(panel.values, dtype=float)
    image = axis.imshow(values, origin="lower", aspect="auto", cmap=colormap(panel.mode))
    axis.set_xticks(range(len(panel.momenta)), [f"{m:g}" for m in panel.momenta])
    axis.set_yticks(range(len(panel.intervals)), [f"{t:g}" for t in panel.intervals])
    axis.set_xlabel("momentum")
    axis.set_ylabel("switch_interval (epochs)")

    low, high = np.nanmin(values), np.nanmax(values)
    middle = (low + high) / 2
    for p in panel.points:
        column, row = panel.momenta.index(p.momentum), panel.intervals.index(p.switch_interval)
        text = f"{p.mean:.3g}"
        if p.horizon_ratio is not None:
            text += f"\nr={p.horizon_ratio:.2g}"
        # Dark text on the bright half of the colormap, light text on the dark half.
        bright = p.mean >= middle if panel.mode == "max" else p.mean <= middle
        axis.text(column, row, text, ha="center", va="center", fontsize="small",
                  color="black" if bright else "white")
    return image


def draw_scatter(axis, panel: SurfacePanel):
    x = [1 - p.momentum for p in panel.points]
    y = [p.switch_interval for p in panel.points]
    image = axis.scatter(x, y, c=[p.mean for p in panel.points], cmap=colormap(panel.mode), s=60,
                         edgecolors="black", linewidths=0.5)
    axis.set_xscale("log")
    axis.set_yscale("log", base=2)
    plain_number_ticks(axis.yaxis)
    axis.invert_xaxis()
    axis.set_xlabel(MOMENTUM_AXIS_LABEL)
    axis.set_ylabel("switch_interval (epochs, log scale)")
    draw_horizon_lines(axis, panel.points)
    return image


def draw_horizon_lines(axis, points: list[SettingSummary]) -> None:
    """Draw dashed lines of constant r = switch_interval * steps_per_epoch * (1 - momentum)."""
    known = [p for p in points if p.horizon_ratio]
    if not known:
        return
    # Steps per epoch, recovered from r (up to rounding the switch to whole steps).
    steps = sum(p.horizon_ratio / (p.switch_interval * (1 - p.momentum)) for p in known) / len(known)
    x_low, x_high = sorted(axis.get_xlim())
    x = np.geomspace(x_low, x_high, 50)
    y_low, y_high = sorted(axis.get_ylim())
    for ratio in HORIZON_LINES:
        y = ratio / (steps * x)
        axis.plot(x, y, ls=":", lw=1, color="gray")
        visible = (y >= y_low) & (y <= y_high)
        if visible.any():
            index = int(np.flatnonzero(visible)[len(np.flatnonzero(visible)) // 2])
            axis.text(x[index], y[index], f"r={ratio:g}", fontsize="x-small", color="gray")
    axis.set_xlim(x_high, x_low)
    axis.set_ylim(y_low, y_high)
