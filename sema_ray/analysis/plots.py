"""Robustness plots of the search: the metric against momentum and against switch interval.

Every point is one searched setting: the mean validation metric over the seeds it ran,
with a 95% Student-t band where it ran with two seeds or more. Methods without the
plotted parameter (basic, SWA, Lookahead) are horizontal reference lines at their best
setting. Each function draws one panel per task in `results`, saves a PNG and returns
the drawn data as `{task: Panel}`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from sema_ray.analysis.stats import SettingSummary, best_setting, summarize_settings
from sema_ray.analysis.style import (
    MOMENTUM_AXIS_LABEL,
    add_legend,
    finite,
    method_color,
    metric_label,
    new_panels,
    plain_number_ticks,
    save_figure,
    seeds_text,
    show_empty,
)
from sema_ray.study.results import TrialResult

# SEMA gets one line per switch interval up to this many intervals, else one scatter.
MAX_INTERVAL_SERIES = 4
# With sampled (not listed) momenta, "SEMA at its best momentum" takes the trials within
# this many decades of 1 - momentum around the best one.
MOMENTUM_TOLERANCE_DECADES = 0.25
AVERAGED_METHODS = ("ema", "sema")


@dataclass
class Panel:
    """Drawn data of one task panel: lines of settings and horizontal reference lines."""

    task: str
    metric: str
    mode: str
    series: dict[str, list[SettingSummary]] = field(default_factory=dict)  # legend -> points
    references: dict[str, SettingSummary] = field(default_factory=dict)  # method -> best setting
    note: str = ""  # what the panel held fixed, e.g. the momentum of a switch-interval plot


def reference_lines(summaries: list[SettingSummary], skip: tuple[str, ...]) -> dict[str, SettingSummary]:
    """Return the best setting of every method not in `skip`, for horizontal lines."""
    references = {}
    for method in sorted({s.method for s in summaries} - set(skip)):
        best = best_setting([s for s in summaries if s.method == method])
        if best is not None:
            references[method] = best
    return references


def draw_series(axis, x: list[float], points: list[SettingSummary], label: str, color: str,
                linestyle: str = "-") -> None:
    """Draw means with markers, a line through them and the 95% band where it exists."""
    means = [p.mean for p in points]
    axis.plot(x, means, marker="o", ms=5, ls=linestyle, lw=1.2, alpha=0.9, color=color, label=label)
    if any(finite(p.ci_low) for p in points):
        axis.fill_between(x, [p.ci_low for p in points], [p.ci_high for p in points], color=color,
                          alpha=0.18, lw=0)


def describe_setting(summary: SettingSummary) -> str:
    """Return a setting as "momentum=0.99, switch_interval=1"."""
    settings = json.loads(summary.other_params) if summary.other_params else {}
    if summary.momentum is not None:
        settings["momentum"] = summary.momentum
    if summary.switch_interval is not None:
        settings["switch_interval"] = summary.switch_interval
    return ", ".join(f"{key}={value:g}" for key, value in sorted(settings.items())) or "default settings"


def draw_references(axis, references: dict[str, SettingSummary]) -> None:
    for method, summary in references.items():
        color = method_color(method)
        setting = "no averaging" if method == "basic" else describe_setting(summary)
        axis.axhline(summary.mean, color=color, ls="--", lw=1.2,
                     label=f"{method}, {setting} ({seeds_text([summary.n])})")
        if finite(summary.ci_low):
            axis.axhspan(summary.ci_low, summary.ci_high, color=color, alpha=0.08, lw=0)


def tasks_of(results: list[TrialResult]) -> list[str]:
    return sorted({result.task for result in results})


def momentum_panel(task: str, summaries: list[SettingSummary]) -> Panel:
    """Group a task's settings into the series of the momentum plot."""
    first = summaries[0]
    panel = Panel(task, first.metric, first.mode)
    ema = [s for s in summaries if s.method == "ema" and s.momentum is not None]
    if ema:
        panel.series["ema"] = sorted(ema, key=lambda s: s.momentum)

    sema = [s for s in summaries if s.method == "sema" and s.momentum is not None]
    intervals = sorted({s.switch_interval for s in sema})
    if len(intervals) <= MAX_INTERVAL_SERIES:
        for interval in intervals:
            points = [s for s in sema if s.switch_interval == interval]
            panel.series[f"sema, switch_interval={interval:g}"] = sorted(points, key=lambda s: s.momentum)
    else:
        panel.series["sema, every switch_interval"] = sorted(sema, key=lambda s: s.momentum)
    panel.references = reference_lines(summaries, AVERAGED_METHODS)
    return panel


def plot_metric_vs_momentum(results: list[TrialResult], path: Path) -> dict[str, Panel]:
    """Plot the validation metric against momentum for ema and sema, one panel per task.

    The x axis is 1 - momentum on a log scale, reversed so slower averages sit to the
    right. SEMA gets one line per switch interval when it searched a few of them.
    """
    summaries = summarize_settings(results)
    tasks = tasks_of(results)
    figure, axes = new_panels(len(tasks))
    drawn: dict[str, Panel] = {}

    for axis, task in zip(axes, tasks):
        rows = [s for s in summaries if s.task == task]
        if not rows:
            show_empty(axis, task, "no finished search trial")
            continue
        panel = drawn[task] = momentum_panel(task, rows)
        shades = iter(["tab:red", "darkred", "salmon", "orangered"])
        for label, points in panel.series.items():
            color = method_color("ema") if label == "ema" else next(shades, "tab:red")
            draw_series(axis, [1 - p.momentum for p in points], points,
                        f"{label} ({len(points)} settings, {seeds_text([p.n for p in points])} each)", color)
        draw_references(axis, panel.references)

        axis.set_xscale("log")
        axis.invert_xaxis()
        axis.set_xlabel(MOMENTUM_AXIS_LABEL)
        axis.set_ylabel(metric_label(panel.metric, panel.mode))
        axis.set_title(f"{task}: search (last epoch), mean and 95% CI over seeds", fontsize="medium")
        axis.grid(True, which="both", alpha=0.3)
        add_legend(axis)

    save_figure(figure, path)
    return drawn


def switch_interval_panel(task: str, summaries: list[SettingSummary]) -> Panel | None:
    """Select SEMA's settings at its best momentum; None when SEMA did not run."""
    sema = [s for s in summaries if s.method == "sema" and s.momentum is not None
            and s.switch_interval is not None]
    best = best_setting(sema)
    if best is None:
        return None
    first = summaries[0]
    panel = Panel(task, first.metric, first.mode)

    same = [s for s in sema if s.momentum == best.momentum]
    repeated = len({s.momentum for s in sema}) < len(sema)
    if repeated or len({s.switch_interval for s in sema}) == 1:
        # Listed momenta (settings share momenta exactly), or one interval: no window needed.
        label = f"sema, momentum={best.momentum:g}"
        panel.note = f"SEMA at its best momentum, {best.momentum:g}"
    else:
        center = math.log10(1 - best.momentum)
        same = [s for s in sema
                if abs(math.log10(1 - s.momentum) - center) <= MOMENTUM_TOLERANCE_DECADES]
        label = (f"sema, 1 - momentum within {MOMENTUM_TOLERANCE_DECADES:g} decades "
                 f"of {1 - best.momentum:.3g}")
        panel.note = f"SEMA near its best momentum, {best.momentum:.4g}"
    panel.series[label] = sorted(same, key=lambda s: s.switch_interval)

    references = reference_lines(summaries, ("sema",))
    ema_same = [s for s in summaries if s.method == "ema" and s.momentum == best.momentum]
    if ema_same:
        references["ema"] = ema_same[0]  # EMA at SEMA's momentum isolates the effect of switching
    panel.references = references
    return panel


def plot_metric_vs_switch_interval(results: list[TrialResult], path: Path) -> dict[str, Panel]:
    """Plot the validation metric against switch interval for SEMA at its best momentum.

    EMA is drawn as a reference at the same momentum when it ran there, else at its best
    setting. The top axis gives the horizon ratio r for the plotted momentum.
    """
    summaries = summarize_settings(results)
    tasks = tasks_of(results)
    figure, axes = new_panels(len(tasks))
    drawn: dict[str, Panel] = {}

    for axis, task in zip(axes, tasks):
        panel = switch_interval_panel(task, [s for s in summaries if s.task == task])
        if panel is None:
            show_empty(axis, task, "SEMA has no finished search trial")
            continue
        drawn[task] = panel
        (label, points), = panel.series.items()
        intervals = [p.switch_interval for p in points]
        draw_series(axis, intervals, points,
                    f"{label} ({len(points)} settings, {seeds_text([p.n for p in points])} each)",
                    method_color("sema"))
        draw_references(axis, panel.references)

        if max(intervals) / min(intervals) >= 4:
            axis.set_xscale("log", base=2)
            plain_number_ticks(axis.xaxis)
        add_horizon_axis(axis, points)
        axis.set_xlabel("switch_interval (epochs between switches)")
        axis.set_ylabel(metric_label(panel.metric, panel.mode))
        axis.set_title(f"{task}: {panel.note}", fontsize="medium")
        axis.grid(True, which="both", alpha=0.3)
        add_legend(axis)

    save_figure(figure, path)
    return drawn


def add_horizon_axis(axis, points: list[SettingSummary]) -> None:
    """Add a top axis with r = switch_every_steps * (1 - momentum) for these SEMA points."""
    known = [p for p in points if p.horizon_ratio]
    if not known:
        return
    # r is proportional to the interval at a fixed momentum (up to rounding to whole steps).
    scale = sum(p.horizon_ratio / p.switch_interval for p in known) / len(known)
    top = axis.secondary_xaxis("top", functions=(lambda t: t * scale, lambda r: r / scale))
    plain_number_ticks(top.xaxis)
    top.set_xlabel("horizon ratio r = switch_every_steps x (1 - momentum)", fontsize="small")
